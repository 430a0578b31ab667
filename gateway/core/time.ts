// Local calendar arithmetic in a named time zone: civil dates, local wall time <-> instants, ISO strings with the offset.

/** A calendar date without a zone. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export interface LocalParts extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday, as in cron. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function localParts(ms: number, timeZone: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const year = p.year ?? 1970;
  const month = p.month ?? 1;
  const day = p.day ?? 1;
  return { year, month, day, hour: p.hour ?? 0, minute: p.minute ?? 0, second: p.second ?? 0, weekday: weekdayOf({ year, month, day }) };
}

/** Offset of local time from UTC at that instant, in ms (Asia/Shanghai: +8 h). */
export function offsetMs(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant of a local wall time. A time skipped by a daylight-saving jump lands after the jump; a repeated
 * one takes its first occurrence. (Asia/Shanghai has neither, but the gateway's zone is configurable.)
 */
export function zonedTime(date: CivilDate, hour: number, minute: number, timeZone: string): number {
  const asUtc = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  // The offsets in force around that day; a wall time is valid under an offset that reads back as itself.
  const offsets = [...new Set([offsetMs(asUtc - 43_200_000, timeZone), offsetMs(asUtc + 43_200_000, timeZone)])];
  const valid = offsets.map((o) => asUtc - o).filter((t) => offsetMs(t, timeZone) === asUtc - t);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: read the wall time with the offset from before the jump, which lands after it.
  return asUtc - Math.min(...offsets);
}

/** Local midnight at the start of `date`. */
export function startOfDay(date: CivilDate, timeZone: string): number {
  return zonedTime(date, 0, 0, timeZone);
}

export function localDate(ms: number, timeZone: string): CivilDate {
  const { year, month, day } = localParts(ms, timeZone);
  return { year, month, day };
}

export function addDays(date: CivilDate, days: number): CivilDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export function weekdayOf(date: CivilDate): number {
  return new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
}

/** Whole days from `a` to `b` (b − a). */
export function daysBetween(a: CivilDate, b: CivilDate): number {
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / 86_400_000);
}

export function formatDate(d: CivilDate): string {
  return `${d.year}-${pad(d.month)}-${pad(d.day)}`;
}

/** "YYYY-MM-DD" that names a real calendar day, else null. */
export function parseDate(text: string): CivilDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  return formatDate(addDays(date, 0)) === text ? date : null;
}

/** "YYYY-MM-DDTHH:MM" (seconds ":00" allowed) as a local date and time, else null. */
export function parseLocalDateTime(text: string): { date: CivilDate; hour: number; minute: number } | null {
  const m = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::00)?$/.exec(text);
  const date = m?.[1] ? parseDate(m[1]) : null;
  if (!m || !date) return null;
  return { date, hour: Number(m[2]), minute: Number(m[3]) };
}

/**
 * An occurrence start as an instant: local "YYYY-MM-DDTHH:MM", or ISO 8601 with an offset or Z (as the
 * API lists them), or ms since the epoch. Null when it is none of these.
 */
export function parseInstant(text: string, timeZone: string): number | null {
  if (/^\d{12,14}$/.test(text)) return Number(text);
  const local = parseLocalDateTime(text);
  if (local) return zonedTime(local.date, local.hour, local.minute, timeZone);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** ISO 8601 in local time with its offset, e.g. `2026-11-26T11:00:00+08:00`. */
export function isoLocal(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  const off = Math.round(offsetMs(ms, timeZone) / 60_000);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${formatDate(p)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Local "HH:MM". */
export function hhmm(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

export function pad(n: number): string {
  return n.toString().padStart(2, '0');
}
