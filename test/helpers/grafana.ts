// The provisioned Grafana files, read and taken apart: panel queries, the measurements and identifiers they name, and runnable InfluxQL.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const GRAFANA_DIR = new URL('../../deploy/grafana/', import.meta.url);
export const DASHBOARD_FILE = new URL('dashboards/eldercare.json', GRAFANA_DIR);
export const DATASOURCE_FILE = new URL('provisioning/datasources/influxdb.yaml', GRAFANA_DIR);
export const PROVIDER_FILE = new URL('provisioning/dashboards/eldercare.yaml', GRAFANA_DIR);

export interface Target {
  refId: string;
  rawQuery?: boolean;
  query: string;
  datasource?: { type: string; uid: string };
}

export interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query: string; datasource?: { uid: string } }[] };
}

export interface DatasourceFile {
  apiVersion: number;
  datasources: { name: string; uid: string; type: string; url: string; database?: string; jsonData?: { dbName?: string } }[];
}

export interface ProviderFile {
  apiVersion: number;
  providers: { name: string; type: string; options: { path: string } }[];
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export function readDatasources(): DatasourceFile {
  return parse(readFileSync(DATASOURCE_FILE, 'utf8')) as DatasourceFile;
}

export function readProviders(): ProviderFile {
  return parse(readFileSync(PROVIDER_FILE, 'utf8')) as ProviderFile;
}

/** Every InfluxQL query of the dashboard: panel targets and template variables, with where each comes from. */
export function dashboardQueries(d: Dashboard): { where: string; query: string }[] {
  const out: { where: string; query: string }[] = [];
  for (const p of d.panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, query: t.query });
  for (const v of d.templating.list) out.push({ where: `variable $${v.name}`, query: v.query });
  return out;
}

/** Measurements after FROM (a subquery's `FROM (` is skipped; its own FROM is found), without a retention policy. */
export function measurementsOf(query: string): string[] {
  const out: string[] = [];
  const re = /\bFROM\s+(?!\()(?:("?)(\w+)\1\.)?("?)(\w+)\3/gi;
  for (const m of query.matchAll(re)) if (m[4]) out.push(m[4]);
  return [...new Set(out)];
}

/** Quoted identifiers a query reads (fields and tags): not a measurement or retention policy after FROM, not a name declared by AS. */
export function identifiersOf(query: string): string[] {
  const read = new Set<string>();
  for (const m of query.matchAll(/"(\w+)"/g)) {
    const before = query.slice(0, m.index);
    if (/\bAS\s+$/i.test(before) || /\bFROM\s+(?:"\w+"\.)?$/i.test(before)) continue;
    if (m[1]) read.add(m[1]);
  }
  return [...read];
}

export interface TimeRange {
  from: number;
  to: number;
}

/** The dashboard's default range, "last 7 days", ending at `now` (a test's own clock where its points carry that clock's times). */
export function last7Days(now: number): TimeRange {
  return { from: now - 7 * 86_400_000, to: now };
}

/**
 * The query as Grafana sends it: `$timeFilter` becomes the range as explicit epoch-millisecond bounds (Grafana's own
 * expansion), never influxd's `now()`, so points written at a test clock's instant are found whatever today's date is.
 * All communities, 1 h interval.
 */
export function runnable(query: string, range: TimeRange): string {
  return query
    .replaceAll('$timeFilter', `time >= ${Math.floor(range.from)}ms and time <= ${Math.ceil(range.to)}ms`)
    .replaceAll('$__interval', '1h')
    .replaceAll('/^$community$/', '/^.*$/');
}
