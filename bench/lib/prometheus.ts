// Reads one histogram out of a Prometheus text exposition (the gateway's /metrics), for cross-checking measured latencies.

export interface HistogramReading {
  count: number;
  sum: number;
  /** Cumulative counts by upper bound (`le`), ascending; +Inf last. */
  buckets: { le: number; count: number }[];
}

/** The unlabelled histogram `name`, or null when the text has none. */
export function readHistogram(text: string, name: string): HistogramReading | null {
  let count: number | null = null;
  let sum: number | null = null;
  const buckets: { le: number; count: number }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [key, value] = splitSample(line);
    if (key === undefined || value === undefined) continue;
    if (key === `${name}_count`) count = value;
    else if (key === `${name}_sum`) sum = value;
    else if (key.startsWith(`${name}_bucket{`)) {
      const le = /le="([^"]+)"/.exec(key)?.[1];
      if (le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
    }
  }
  if (count === null || sum === null) return null;
  return { count, sum, buckets: buckets.sort((a, b) => a.le - b.le) };
}

/** Share of observations at or below `le` (which must be one of the bucket bounds), or NaN. */
export function shareAtOrBelow(h: HistogramReading, le: number): number {
  const bucket = h.buckets.find((b) => b.le === le);
  return bucket && h.count > 0 ? bucket.count / h.count : Number.NaN;
}

/** The smallest bucket bound with at least `q` (0..1) of the observations at or below it: an upper bound of that quantile. */
export function quantileUpperBound(h: HistogramReading, q: number): number {
  return h.buckets.find((b) => h.count > 0 && b.count / h.count >= q)?.le ?? Number.NaN;
}

/** A counter's samples by the value of one label (e.g. mqtt_connects_refused_total by reason); {} when the text has none. */
export function readCounterByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const pattern = new RegExp(`${label}="([^"]*)"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [key, value] = splitSample(line);
    const at = key === undefined ? undefined : pattern.exec(key)?.[1];
    if (at === undefined || value === undefined) continue;
    out[at] = (out[at] ?? 0) + value;
  }
  return out;
}

/** Counts by key added over several readings (nodes). */
export function addCounts(readings: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of readings) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** What each count grew by between two readings. */
export function countsSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

function splitSample(line: string): [string | undefined, number | undefined] {
  const at = line.lastIndexOf(' ');
  if (at <= 0) return [undefined, undefined];
  const value = Number(line.slice(at + 1));
  return [line.slice(0, at), Number.isNaN(value) ? undefined : value];
}
