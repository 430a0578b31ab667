// Test instants on the calendar: wall times in Asia/Shanghai, and "today" for rigs whose instants reach a real server's clock.

const SHANGHAI_OFFSET_HOURS = 8; // UTC+8 all year: China has no daylight saving time.

/** Wall time in Asia/Shanghai as an instant. */
export function shanghai(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  return Date.UTC(y, mo - 1, d, h - SHANGHAI_OFFSET_HOURS, mi, s);
}

/**
 * Today's date in Asia/Shanghai (by the real clock, or `now`) at the given wall time. For fixtures whose instants meet
 * a real server's `now()` (influxd's retention and time filters): a date pinned in the calendar would age out of them.
 */
export function shanghaiToday(h: number, mi = 0, now: number = Date.now()): number {
  const local = new Date(now + SHANGHAI_OFFSET_HOURS * 3_600_000);
  return shanghai(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate(), h, mi);
}
