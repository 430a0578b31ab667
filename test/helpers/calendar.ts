// Test instants on the calendar: wall times in Asia/Shanghai, and "today" for rigs whose instants reach a real server's clock.

const SHANGHAI_OFFSET_HOURS = 8; // UTC+8 all year: China has no daylight saving time.

/** Wall time in Asia/Shanghai as an instant. */
export function shanghai(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  return Date.UTC(y, mo - 1, d, h - SHANGHAI_OFFSET_HOURS, mi, s);
}

/**
 * A wall time on the Asia/Shanghai day `days` from today (by the real clock, or `now`): `shanghaiDay(-1, 10)` is
 * yesterday at 10:00. For fixtures whose instants meet a real server's `now()` (influxd's time filters): a date pinned
 * in the calendar would age out of them, and an instant later than the server's own clock is a point in its future.
 */
export function shanghaiDay(days: number, h: number, mi = 0, now: number = Date.now()): number {
  const local = new Date(now + SHANGHAI_OFFSET_HOURS * 3_600_000);
  return shanghai(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate() + days, h, mi);
}

/**
 * The latest `weekday` (0 Sunday … 6 Saturday) before today in Asia/Shanghai, at the given wall time: a recent instant
 * on a fixed day of the week, for rigs whose duty shifts are by weekday and whose instants may meet a real server's clock.
 */
export function shanghaiLast(weekday: number, h: number, mi = 0, now: number = Date.now()): number {
  const today = new Date(now + SHANGHAI_OFFSET_HOURS * 3_600_000).getUTCDay();
  const back = ((today - weekday + 6) % 7) + 1;
  return shanghaiDay(-back, h, mi, now);
}

/**
 * Midnight (Asia/Shanghai) of the Wednesday before the next month end: its Thursday is still in its month and the
 * Tuesday after it is in the next, so the month's last day is one of the Thursday … Monday between them. The month is
 * this one (by the real clock, or `now`), or the next when this one ends on a Tuesday or a Wednesday.
 */
export function monthEndWednesday(now: number = Date.now()): number {
  const local = new Date(now + SHANGHAI_OFFSET_HOURS * 3_600_000);
  for (let month = local.getUTCMonth(); ; month++) {
    // Day 0 of the month after: the last day of this one (Date.UTC rolls months over into years).
    const last = new Date(Date.UTC(local.getUTCFullYear(), month + 1, 0));
    const afterWednesday = (last.getUTCDay() - 3 + 7) % 7;
    if (afterWednesday >= 1 && afterWednesday <= 5) {
      return shanghai(last.getUTCFullYear(), last.getUTCMonth() + 1, last.getUTCDate() - afterWednesday);
    }
  }
}

/** `h:mi` wall time `days` after the Asia/Shanghai day that starts at `midnight` (e.g. `shanghaiLast(4, 0)`). */
export function wallTime(midnight: number, h: number, mi = 0, days = 0): number {
  return midnight + ((days * 24 + h) * 60 + mi) * 60_000;
}

/** The Asia/Shanghai calendar day of an instant, as 'YYYY-MM-DD' (how the API and the store name a day). */
export function shanghaiDate(at: number): string {
  return new Date(at + SHANGHAI_OFFSET_HOURS * 3_600_000).toISOString().slice(0, 10);
}

/** The Asia/Shanghai month of an instant, as 'YYYY-MM'. */
export function shanghaiMonth(at: number): string {
  return shanghaiDate(at).slice(0, 7);
}

/** The Asia/Shanghai day of an instant as Chinese SMS print it: '11月26日'. */
export function chineseDate(at: number): string {
  const d = new Date(at + SHANGHAI_OFFSET_HOURS * 3_600_000);
  return `${d.getUTCMonth() + 1}月${d.getUTCDate()}日`;
}
