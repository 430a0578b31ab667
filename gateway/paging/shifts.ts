// Who is on duty when: workers' weekly shifts read in the gateway's local time zone.
import { WEEKDAYS, type Shift, type Weekday, type Worker } from '../core/types.js';

export interface LocalTime {
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
  /** Local "HH:MM". */
  hhmm: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

// Local weekday and minute change only on minute boundaries (zone offsets are whole minutes), and selection asks once
// per worker for the same instant: the last answer is kept rather than formatting the date again for each.
let last: { minute: number; timeZone: string; value: LocalTime } | null = null;

export function localTime(ms: number, timeZone: string): LocalTime {
  const minute = Math.floor(ms / 60_000);
  if (last && last.minute === minute && last.timeZone === timeZone) return last.value;
  const value = formatLocalTime(ms, timeZone);
  last = { minute, timeZone, value: Object.freeze(value) };
  return last.value;
}

function formatLocalTime(ms: number, timeZone: string): LocalTime {
  let weekday: Weekday = 'sun';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type === 'weekday') weekday = part.value.slice(0, 3).toLowerCase() as Weekday;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { weekday, minutes: hour * 60 + minute, hhmm: `${pad(hour)}:${pad(minute)}` };
}

export function parseHhmm(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function previousDay(d: Weekday): Weekday {
  const i = WEEKDAYS.indexOf(d);
  return WEEKDAYS[(i + 6) % 7] ?? 'sat';
}

/** A shift's days name the day it starts; one with `to` at or before `from` ends the next day. */
export function shiftCovers(shift: Shift, t: LocalTime): boolean {
  const from = parseHhmm(shift.from);
  const to = parseHhmm(shift.to);
  if (from < to) return shift.days.includes(t.weekday) && t.minutes >= from && t.minutes < to;
  return (shift.days.includes(t.weekday) && t.minutes >= from) || (shift.days.includes(previousDay(t.weekday)) && t.minutes < to);
}

export function isOnDuty(worker: Worker, ms: number, timeZone: string): boolean {
  const t = localTime(ms, timeZone);
  return worker.shifts.some((s) => shiftCovers(s, t));
}

function pad(n: number): string {
  return n.toString().padStart(2, '0');
}
