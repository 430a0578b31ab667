// A round's slow alarms from the nodes' own slow-alarm log (ALARM_SLOW_LOG_MS), and what PostgreSQL logged meanwhile (checkpoints, autovacuum).
import { existsSync, readFileSync } from 'node:fs';
import type { SlowAlarmReport } from '../../gateway/metrics/slow-alarms.js';

/** The threshold the benchmark starts its nodes with: hook -> send runs about 2 ms under the bench's PUBLISH -> SMS request, so the alarms that decide a p99 near the 15 ms target are logged. */
export const BENCH_SLOW_ALARM_MS = 10;
/** Slow alarms printed (and kept in latest.json) per round, the slowest first. */
const SHOWN = 10;
/** Slow alarms closer than this to one another form one burst (the benchmark's alarms go one at a time). */
const BURST_GAP_MS = 250;

export interface SlowAlarm {
  node: string;
  /** Seconds from the round's first measured alarm to this alarm's arrival at the node. */
  offsetS: number;
  totalMs: number;
  recordMs: number;
  queueMs: number;
  beginMs: number;
  transactionMs: number;
  /** Of transactionMs, its COMMIT alone (null when the node did not time it). */
  commitMs: number | null;
  sendMs: number;
  lagMs: number;
  gcMs: number;
  residentUncached: boolean;
}

/** Slow alarms within BURST_GAP_MS of each other: how many, on which nodes, from when. */
export interface SlowBurst {
  offsetS: number;
  spanS: number;
  count: number;
  nodes: string[];
}

export interface RoundSlowAlarms {
  /** Every slow alarm of the round's measured part, on every node. */
  count: number;
  /** The slowest SHOWN. */
  slowest: SlowAlarm[];
  /** Bursts of two or more slow alarms, the largest first. */
  bursts: SlowBurst[];
  /** What PostgreSQL logged over the round (checkpoint and autovacuum lines), with their offsets; empty without it. */
  postgres: { offsetS: number; line: string }[];
}

/** Where each node's output stands now: the next reading takes only what comes after. */
export type OutputMarks = Map<string, number>;

export function outputMarks(outputs: readonly { node: string; stdout: string }[]): OutputMarks {
  return new Map(outputs.map((o) => [o.node, o.stdout.length]));
}

/** The slow-alarm lines the nodes wrote since `marks`, for alarms that arrived at or after `fromMs` (epoch ms). */
export function slowAlarmsSince(outputs: readonly { node: string; stdout: string }[], marks: OutputMarks, fromMs: number): SlowAlarm[] {
  const out: SlowAlarm[] = [];
  for (const { node, stdout } of outputs) {
    for (const line of stdout.slice(marks.get(node) ?? 0).split('\n')) {
      if (!line.includes('"slow alarm')) continue;
      let r: Partial<SlowAlarmReport>;
      try {
        r = JSON.parse(line) as Partial<SlowAlarmReport>;
      } catch {
        continue;
      }
      if (typeof r.arrivedAt !== 'number' || typeof r.totalMs !== 'number' || r.arrivedAt < fromMs) continue;
      out.push({
        node,
        offsetS: Math.round(r.arrivedAt - fromMs) / 1000,
        totalMs: r.totalMs,
        recordMs: r.recordMs ?? 0,
        queueMs: r.queueMs ?? 0,
        beginMs: r.beginMs ?? 0,
        transactionMs: r.transactionMs ?? 0,
        commitMs: r.commitMs ?? null,
        sendMs: r.sendMs ?? 0,
        lagMs: r.lagMs ?? 0,
        gcMs: r.gcMs ?? 0,
        residentUncached: r.residentUncached === true,
      });
    }
  }
  return out;
}

/** The round's slow alarms summed up: the slowest, the bursts, and PostgreSQL's checkpoints and autovacuums meanwhile. */
export function roundSlowAlarms(all: readonly SlowAlarm[], postgres: RoundSlowAlarms['postgres']): RoundSlowAlarms {
  const byTime = [...all].sort((a, b) => a.offsetS - b.offsetS);
  const bursts: SlowBurst[] = [];
  let current: SlowAlarm[] = [];
  const close = (): void => {
    const first = current[0];
    const last = current.at(-1);
    if (first && last && current.length > 1)
      bursts.push({
        offsetS: first.offsetS,
        spanS: Math.round((last.offsetS - first.offsetS) * 1000) / 1000,
        count: current.length,
        nodes: [...new Set(current.map((a) => a.node))].sort(),
      });
    current = [];
  };
  for (const a of byTime) {
    const last = current.at(-1);
    if (last && (a.offsetS - last.offsetS) * 1000 > BURST_GAP_MS) close();
    current.push(a);
  }
  close();
  bursts.sort((a, b) => b.count - a.count || a.offsetS - b.offsetS);
  return { count: all.length, slowest: [...all].sort((a, b) => b.totalMs - a.totalMs).slice(0, SHOWN), bursts, postgres };
}

const STAGES: [keyof SlowAlarm, string][] = [
  ['recordMs', 'commit'],
  ['queueMs', 'queue'],
  ['beginMs', 'begin'],
  ['transactionMs', 'tx'],
  ['sendMs', 'send'],
];

/** A line per slow alarm (the slowest first), then the bursts and PostgreSQL's lines: short enough for a round's log. */
export function describeRoundSlowAlarms(r: RoundSlowAlarms): string[] {
  if (r.count === 0) return ['no alarm over the slow-alarm threshold'];
  const lines = [`${r.count} alarms over the slow-alarm threshold; the slowest:`];
  for (const a of r.slowest) {
    const commit = a.commitMs === null ? '' : ` (COMMIT ${a.commitMs.toFixed(1)})`;
    const stages = STAGES.map(([k, name]) => `${name} ${Number(a[k]).toFixed(1)}${k === 'transactionMs' ? commit : ''}`).join(' ');
    lines.push(
      `  ${a.node} at ${a.offsetS.toFixed(3)} s: ${a.totalMs.toFixed(2)} ms = ${stages}; loop late ${a.lagMs.toFixed(1)}, gc ${a.gcMs.toFixed(1)}` +
        (a.residentUncached ? '; resident uncached' : ''),
    );
  }
  const shared = r.bursts.filter((b) => b.nodes.length > 1);
  lines.push(
    r.bursts.length === 0
      ? `  no two slow alarms within ${BURST_GAP_MS} ms of each other`
      : `  bursts (within ${BURST_GAP_MS} ms): ${r.bursts
          .slice(0, 5)
          .map((b) => `${b.count} at ${b.offsetS.toFixed(3)} s over ${b.spanS.toFixed(3)} s on ${b.nodes.join('+')}`)
          .join('; ')}` + `; ${shared.length} of ${r.bursts.length} span several nodes`,
  );
  for (const p of r.postgres.slice(0, 6)) lines.push(`  postgres at ${p.offsetS.toFixed(3)} s: ${p.line}`);
  return lines;
}

/** Checkpoint and autovacuum lines of a PostgreSQL server log (default log_line_prefix '%m [%p] ', UTC) between two instants. */
export function postgresEventsBetween(file: string | null, fromMs: number, toMs: number): RoundSlowAlarms['postgres'] {
  if (!file || !existsSync(file)) return [];
  const out: RoundSlowAlarms['postgres'] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!/checkpoint (starting|complete)|automatic (vacuum|analyze)/.test(line)) continue;
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) (UTC|GMT)/.exec(line);
    if (!m) continue;
    const at = Date.parse(`${m[1]}T${m[2]}Z`);
    if (at < fromMs || at > toMs) continue;
    out.push({
      offsetS: Math.round(at - fromMs) / 1000,
      line: line
        .slice(m[0].length)
        .replace(/^\s*\[\d+\]\s*LOG:\s*/, '')
        .slice(0, 160),
    });
  }
  return out;
}
