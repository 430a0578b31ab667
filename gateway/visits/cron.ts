// Visit schedules: five-field cron parsed with node-cron's parser, expanded here into local start times within a range.
import { validateDetailed } from 'node-cron';
import { addDays, daysBetween, localDate, parseLocalDateTime, weekdayOf, zonedTime, type CivilDate } from '../core/time.js';

/**
 * node-cron parses fields but only computes next runs from the wall clock (`getNextRuns` starts at `new Date()`),
 * so expansion over an arbitrary range, on the gateway's own clock, is done here from its parsed fields.
 * Day-of-month and day-of-week are combined with AND, as node-cron itself fires them.
 */
export interface CronSpec {
  minutes: number[];
  hours: number[];
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday (node-cron folds 7 into 0). */
  weekdays: ReadonlySet<number>;
}

export type CronParse = { ok: true; spec: CronSpec } | { ok: false; error: string };

export function parseVisitCron(expr: string): CronParse {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    return {
      ok: false,
      error: `invalid cron expression "${expr}": expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`,
    };
  }
  const result = validateDetailed(expr.trim());
  if (!result.valid || !result.fields) {
    const why = result.errors.map((e) => e.message).join(', ') || 'not a cron expression';
    return { ok: false, error: `invalid cron expression "${expr}": ${why}` };
  }
  const f = result.fields;
  const daysOfMonth = f.dayOfMonth;
  const weekdays = f.dayOfWeek;
  // Tokens such as "L" or "5#2" stay strings in node-cron's parse; plain days are numbers.
  if (!daysOfMonth.every(isNumber) || !weekdays.every(isNumber)) {
    return { ok: false, error: `invalid cron expression "${expr}": L, W and # are not supported in visit schedules` };
  }
  return {
    ok: true,
    spec: {
      minutes: [...f.minute].sort((a, b) => a - b),
      hours: [...f.hour].sort((a, b) => a - b),
      daysOfMonth: new Set(daysOfMonth),
      months: new Set(f.month),
      weekdays: new Set(weekdays.map((d) => d % 7)),
    },
  };
}

function isNumber(v: number | string): v is number {
  return typeof v === 'number';
}

export function cronMatchesDay(spec: CronSpec, date: CivilDate): boolean {
  return spec.months.has(date.month) && spec.daysOfMonth.has(date.day) && spec.weekdays.has(weekdayOf(date));
}

/** Start instants (ms) of the schedule with from <= start < to, in ascending order. */
export function expandCron(spec: CronSpec, from: number, to: number, timeZone: string): number[] {
  if (to <= from) return [];
  const out: number[] = [];
  const first = localDate(from, timeZone);
  const days = daysBetween(first, localDate(to, timeZone));
  for (let i = 0; i <= days; i++) {
    const date = addDays(first, i);
    if (!cronMatchesDay(spec, date)) continue;
    for (const hour of spec.hours) {
      for (const minute of spec.minutes) {
        const t = zonedTime(date, hour, minute, timeZone);
        if (t >= from && t < to) out.push(t);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/** The schedule of a plan: its cron, or its one-off local time. */
export type Schedule = { kind: 'cron'; spec: CronSpec } | { kind: 'once'; start: number };

export type ScheduleParse = { ok: true; schedule: Schedule } | { ok: false; error: string };

export function parseSchedule(plan: { cron: string | null; at: string | null }, timeZone: string): ScheduleParse {
  if (plan.cron !== null && plan.at !== null) return { ok: false, error: 'give either cron (recurring) or at (one-off), not both' };
  if (plan.cron !== null) {
    const parsed = parseVisitCron(plan.cron);
    return parsed.ok ? { ok: true, schedule: { kind: 'cron', spec: parsed.spec } } : parsed;
  }
  if (plan.at !== null) {
    const local = parseLocalDateTime(plan.at);
    if (!local) return { ok: false, error: `invalid at "${plan.at}": expected a local date and time "YYYY-MM-DDTHH:MM"` };
    return { ok: true, schedule: { kind: 'once', start: zonedTime(local.date, local.hour, local.minute, timeZone) } };
  }
  return { ok: false, error: 'a visit needs cron (recurring) or at (one-off)' };
}

export function expandSchedule(schedule: Schedule, from: number, to: number, timeZone: string): number[] {
  if (schedule.kind === 'once') return schedule.start >= from && schedule.start < to ? [schedule.start] : [];
  return expandCron(schedule.spec, from, to, timeZone);
}
