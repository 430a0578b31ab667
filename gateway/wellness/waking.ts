// Waking-hours arithmetic in the gateway's time zone: how much of a span falls inside a resident's waking window.
import type { WakingHours } from '../core/types.js';
import { parseHhmm } from '../paging/shifts.js';
import { addDays, daysBetween, offsetMs, zonedTime, type CivilDate } from '../core/time.js';

/**
 * 07:00-22:00: inactivity counts from when an elderly person living alone is normally up and about until
 * well after the evening news; the nine hours outside it (sleep, and a slow start in the morning) never
 * count. A resident who is up earlier is still seen: a sign of life counts at any hour.
 */
export const DEFAULT_WAKING_HOURS: WakingHours = { from: '07:00', to: '22:00' };

export function wakingHoursOf(resident: { wakingHours?: WakingHours | undefined }): WakingHours {
  return resident.wakingHours ?? DEFAULT_WAKING_HOURS;
}

/** True when the window covers the whole day (`from` = `to`): every hour counts. */
export function isAllDay(w: WakingHours): boolean {
  return parseHhmm(w.from) === parseHhmm(w.to);
}

/** Waking time in [a, b), in ms. A window whose `to` is not after `from` runs past midnight into the next day. */
export function wakingMs(a: number, b: number, w: WakingHours, timeZone: string): number {
  if (b <= a) return 0;
  if (isAllDay(w)) return b - a;
  let total = 0;
  for (const [start, end] of windowsAround(a, b, w, timeZone)) {
    const lo = Math.max(a, start);
    const hi = Math.min(b, end);
    if (hi > lo) total += hi - lo;
  }
  return total;
}

/** True when `at` lies inside the waking window (its start included, its end not). */
export function isWaking(at: number, w: WakingHours, timeZone: string): boolean {
  return wakingMs(at, at + 1, w, timeZone) > 0;
}

/** "07:00-22:00", for logs and task details. */
export function describeWakingHours(w: WakingHours): string {
  return isAllDay(w) ? 'all day' : `${w.from}-${w.to}`;
}

/**
 * The windows that may overlap [a, b): one per local day, starting the day before `a` because a window
 * that runs past midnight began then. The instants come from zonedTime, so a daylight-saving day is
 * 23 or 25 hours long where the zone has one (Asia/Shanghai has none).
 */
function windowsAround(a: number, b: number, w: WakingHours, timeZone: string): [number, number][] {
  const from = parseHhmm(w.from);
  const to = parseHhmm(w.to);
  const first = addDays(localDay(a, timeZone), -1);
  const last = localDay(b, timeZone);
  const out: [number, number][] = [];
  for (let d = first; daysBetween(d, last) >= 0; d = addDays(d, 1)) {
    const start = at(d, from, timeZone);
    const end = at(to > from ? d : addDays(d, 1), to, timeZone);
    out.push([start, end]);
  }
  return out;
}

// Every resident is asked about the same instants on every sweep, and Intl is slow (tens of µs a call):
// window edges and zone offsets are remembered (bounded), which keeps a sweep of 1,000 residents at a few ms.
const edges = new Map<string, number>();
const offsets = new Map<string, number>();
const CACHE_MAX = 4096;
/** Offsets change at most at a quarter hour in every zone in use, so one read per quarter hour is exact. */
const OFFSET_BUCKET_MS = 15 * 60_000;

function localDay(ms: number, timeZone: string): CivilDate {
  const bucket = Math.floor(ms / OFFSET_BUCKET_MS);
  const key = `${timeZone}|${bucket}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    offset = offsetMs(ms, timeZone);
    if (offsets.size >= CACHE_MAX) offsets.clear();
    offsets.set(key, offset);
  }
  const local = new Date(ms + offset);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

function at(date: CivilDate, minutes: number, timeZone: string): number {
  const key = `${timeZone}|${date.year}-${date.month}-${date.day}|${minutes}`;
  const hit = edges.get(key);
  if (hit !== undefined) return hit;
  const t = zonedTime(date, Math.floor(minutes / 60), minutes % 60, timeZone);
  if (edges.size >= CACHE_MAX) edges.clear();
  edges.set(key, t);
  return t;
}
