// Histograms scraped from gateway nodes' /metrics (child processes, whose bus events the benchmark cannot see): summed over nodes and label sets, differenced per round.
import type { HistogramReading } from './prometheus.js';

/** One histogram's figures over an interval: count, mean, and the bucket bounds that hold half and 99 % of it. */
export interface HistogramDelta {
  count: number;
  meanMs: number;
  /** Upper bounds from the buckets (ms): the true quantile is at or below them. */
  p50UpperMs: number;
  p99UpperMs: number;
}

/** The histograms the cluster benchmarks read; `labels` keeps only the series whose labels include these pairs. */
export interface HistogramQuery {
  key: string;
  name: string;
  labels?: Record<string, string>;
}

export type MetricsSnapshot = Record<string, HistogramReading>;

/** `name`'s series whose labels include `labels`, added up (same bucket bounds); an empty reading when there is none. */
export function readLabelledHistogram(text: string, name: string, labels: Record<string, string> = {}): HistogramReading {
  let count = 0;
  let sum = 0;
  const byLe = new Map<number, number>();
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const at = line.lastIndexOf(' ');
    const key = line.slice(0, at);
    const value = Number(line.slice(at + 1));
    if (at <= 0 || Number.isNaN(value)) continue;
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    const labelText = brace < 0 ? '' : key.slice(brace + 1, -1);
    const series = parseLabels(labelText);
    if (!wanted.every(([k, v]) => series.get(k) === v)) continue;
    if (metric === `${name}_count`) count += value;
    else if (metric === `${name}_sum`) sum += value;
    else if (metric === `${name}_bucket`) {
      const le = series.get('le');
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + value);
    }
  }
  const buckets = [...byLe.entries()].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le);
  return { count, sum, buckets };
}

function parseLabels(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) if (m[1] !== undefined) out.set(m[1], m[2] ?? '');
  return out;
}

/** Adds readings of the same histogram (e.g. one per node). */
export function addReadings(readings: readonly HistogramReading[]): HistogramReading {
  const byLe = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const r of readings) {
    count += r.count;
    sum += r.sum;
    for (const b of r.buckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  }
  return { count, sum, buckets: [...byLe.entries()].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le) };
}

/** What was observed between two readings of one histogram, in ms. */
export function histogramDelta(before: HistogramReading | undefined, after: HistogramReading | undefined): HistogramDelta {
  const a = after ?? { count: 0, sum: 0, buckets: [] };
  const b = before ?? { count: 0, sum: 0, buckets: [] };
  const count = a.count - b.count;
  const buckets = a.buckets.map((x) => ({ le: x.le, count: x.count - (b.buckets.find((y) => y.le === x.le)?.count ?? 0) }));
  const bound = (q: number): number => (buckets.find((x) => count > 0 && x.count / count >= q)?.le ?? Number.NaN) * 1000;
  return { count, meanMs: count > 0 ? ((a.sum - b.sum) / count) * 1000 : Number.NaN, p50UpperMs: bound(0.5), p99UpperMs: bound(0.99) };
}

/** Scrapes every node's /metrics and adds each queried histogram over the nodes. */
export async function scrapeNodes(httpUrls: readonly string[], queries: readonly HistogramQuery[]): Promise<MetricsSnapshot> {
  const texts = await metricsTexts(httpUrls);
  const out: MetricsSnapshot = {};
  for (const q of queries) out[q.key] = addReadings(texts.map((t) => readLabelledHistogram(t, q.name, q.labels)));
  return out;
}

/** Each node's /metrics text; a node that does not answer 200 fails the read. */
export function metricsTexts(httpUrls: readonly string[]): Promise<string[]> {
  return Promise.all(
    httpUrls.map(async (url) => {
      const res = await fetch(`${url}/metrics`);
      const text = await res.text();
      if (!res.ok) throw new Error(`GET ${url}/metrics: HTTP ${res.status}`);
      return text;
    }),
  );
}

/** Each queried histogram's delta between two snapshots. */
export function snapshotDelta(before: MetricsSnapshot, after: MetricsSnapshot): Record<string, HistogramDelta> {
  const out: Record<string, HistogramDelta> = {};
  for (const key of Object.keys(after)) out[key] = histogramDelta(before[key], after[key]);
  return out;
}
