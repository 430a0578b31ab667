// Latency statistics: percentiles of one run, and the median, min and max of each figure across repeated runs.

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export type RunsSummary = { [K in keyof LatencySummary]: Spread };

/** Nearest-rank percentile of an ascending array: the smallest sample with at least p % of samples at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((s, x) => s + x, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** Median of the values; for an even count, the mean of the middle two. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Each figure of the per-run summaries reduced to its median over the runs, with the best and worst run. */
export function acrossRuns(runs: readonly LatencySummary[]): RunsSummary {
  const of = (k: keyof LatencySummary): Spread => spread(runs.map((r) => r[k]));
  return { n: of('n'), p50: of('p50'), p90: of('p90'), p99: of('p99'), max: of('max'), mean: of('mean') };
}
