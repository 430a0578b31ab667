// Report arithmetic kept pure and small: nearest-rank percentiles, shares, response-time buckets and local month bounds.
import { addDays, startOfDay, type CivilDate } from '../core/time.js';

/**
 * Nearest-rank percentile (the value at rank ceil(q·n) of the sorted list), so every reported figure is one that
 * really happened. Null for an empty list.
 */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/** part / whole rounded to 4 decimals; null when there is nothing to divide by (no alarms is not "0 % false alarms"). */
export function share(part: number, whole: number): number | null {
  if (whole <= 0) return null;
  return Math.round((part / whole) * 10_000) / 10_000;
}

/** Seconds between two instants, to one decimal; null when either is missing. */
export function seconds(from: number | null, to: number | null): number | null {
  if (from === null || to === null) return null;
  return Math.round((to - from) / 100) / 10;
}

export interface Summary {
  count: number;
  p50: number | null;
  p90: number | null;
}

export function summarise(values: readonly number[]): Summary {
  return { count: values.length, p50: percentile(values, 0.5), p90: percentile(values, 0.9) };
}

export interface Bucket {
  /** Label for the chart, e.g. "60–120 s". */
  label: string;
  /** Lower bound in seconds (exclusive, except 0), upper bound inclusive; null upper = open. */
  fromS: number;
  toS: number | null;
  count: number;
}

/** Upper bounds of the acknowledgement-time buckets; 60 s and 180 s are bounds so the telecare shares read off the chart. */
export const ACK_BUCKET_BOUNDS = [30, 60, 120, 180, 300, 600] as const;

/** Counts values into (prev, bound] buckets and one open-ended bucket above the last bound. */
export function bucketize(values: readonly number[], bounds: readonly number[] = ACK_BUCKET_BOUNDS): Bucket[] {
  const buckets: Bucket[] = [];
  let lower = 0;
  for (const upper of bounds) {
    buckets.push({ label: `${lower}–${upper} s`, fromS: lower, toS: upper, count: 0 });
    lower = upper;
  }
  buckets.push({ label: `> ${lower} s`, fromS: lower, toS: null, count: 0 });
  for (const v of values) {
    const b = buckets.find((x) => x.toS === null || v <= x.toS);
    if (b) b.count++;
  }
  return buckets;
}

/** "YYYY-MM" → the month's first day, or null. */
export function parseMonth(text: string): CivilDate | null {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  return m ? { year: Number(m[1]), month: Number(m[2]), day: 1 } : null;
}

export function formatMonth(d: CivilDate): string {
  return `${d.year}-${String(d.month).padStart(2, '0')}`;
}

export function addMonths(d: CivilDate, n: number): CivilDate {
  const index = d.year * 12 + (d.month - 1) + n;
  return { year: Math.floor(index / 12), month: (index % 12) + 1, day: 1 };
}

/** [start, end) of a local calendar month as instants. */
export function monthBounds(month: CivilDate, timeZone: string): { from: number; to: number } {
  const first = { year: month.year, month: month.month, day: 1 };
  return { from: startOfDay(first, timeZone), to: startOfDay(addMonths(first, 1), timeZone) };
}

/** The last local day of a month (for visit queries given as inclusive dates). */
export function lastDayOf(month: CivilDate): CivilDate {
  return addDays(addMonths(month, 1), -1);
}
