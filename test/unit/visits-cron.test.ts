// Visit schedules: cron parsing and expansion in Asia/Shanghai across month and year ends, one-off visits, local time helpers.
import { describe, expect, it } from 'vitest';
import { expandCron, expandSchedule, parseSchedule, parseVisitCron, type CronSpec } from '../../gateway/visits/cron.js';
import { isoLocal, parseDate, parseInstant, parseLocalDateTime, zonedTime } from '../../gateway/core/time.js';

const TZ = 'Asia/Shanghai';
const local = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h - 8, mi);

function spec(expr: string): CronSpec {
  const parsed = parseVisitCron(expr);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.spec;
}

const iso = (list: number[]) => list.map((t) => isoLocal(t, TZ));

describe('parseVisitCron', () => {
  it('reads the five fields with node-cron, Sunday as 0 or 7', () => {
    const s = spec('0 11 * * 2,4');
    expect(s.minutes).toEqual([0]);
    expect(s.hours).toEqual([11]);
    expect([...s.weekdays]).toEqual([2, 4]);
    expect([...spec('30 9 * * 7').weekdays]).toEqual([0]);
    expect(spec('*/20 9-10 * * mon-fri').minutes).toEqual([0, 20, 40]);
  });

  it('refuses invalid expressions with a message naming the problem', () => {
    const cases: [string, RegExp][] = [
      ['61 11 * * 2', /invalid cron expression "61 11 \* \* 2": 61 is a invalid expression for minute/],
      ['0 11 * *', /expected 5 fields.*got 4/],
      ['0 0 11 * * 2', /expected 5 fields.*got 6/],
      ['0 11 L * *', /L, W and # are not supported/],
      ['0 11 * * 5#2', /L, W and # are not supported/],
      ['0 25 * * *', /invalid cron expression/],
      ['every tuesday', /expected 5 fields/],
    ];
    for (const [expr, message] of cases) {
      const parsed = parseVisitCron(expr);
      expect(parsed.ok, expr).toBe(false);
      if (!parsed.ok) expect(parsed.error, expr).toMatch(message);
    }
  });
});

describe('expandCron in Asia/Shanghai', () => {
  it('expands a twice-weekly visit across the November/December month end, with +08:00 times', () => {
    const starts = expandCron(spec('0 11 * * 2,4'), local(2026, 11, 23), local(2026, 12, 8), TZ);
    expect(iso(starts)).toEqual([
      '2026-11-24T11:00:00+08:00',
      '2026-11-26T11:00:00+08:00',
      '2026-12-01T11:00:00+08:00',
      '2026-12-03T11:00:00+08:00',
    ]);
    // 11:00 in Shanghai is 03:00 UTC.
    expect(new Date(starts[0]!).toISOString()).toBe('2026-11-24T03:00:00.000Z');
  });

  it('uses the local date, not the UTC one: 00:30 on the 1st is still the 30th in UTC', () => {
    const starts = expandCron(spec('30 0 1 * *'), local(2026, 11, 15), local(2027, 1, 15), TZ);
    expect(iso(starts)).toEqual(['2026-12-01T00:30:00+08:00', '2027-01-01T00:30:00+08:00']);
    expect(new Date(starts[0]!).toISOString()).toBe('2026-11-30T16:30:00.000Z');
  });

  it('skips months without the day and crosses the year end', () => {
    const starts = expandCron(spec('59 23 31 * *'), local(2026, 11, 1), local(2027, 2, 1), TZ);
    expect(iso(starts)).toEqual(['2026-12-31T23:59:00+08:00', '2027-01-31T23:59:00+08:00']);
    expect(iso(expandCron(spec('0 9 29 2 *'), local(2027, 2, 1), local(2028, 3, 31), TZ))).toEqual(['2028-02-29T09:00:00+08:00']);
  });

  it('combines day-of-month and day-of-week with AND, as node-cron fires them', () => {
    // Fridays that are also the 1st-7th: the first Friday of each month.
    expect(iso(expandCron(spec('0 9 1-7 * 5'), local(2026, 11, 1), local(2027, 1, 1), TZ))).toEqual([
      '2026-11-06T09:00:00+08:00',
      '2026-12-04T09:00:00+08:00',
    ]);
  });

  it('keeps from inclusive and to exclusive, and lists several times a day in order', () => {
    const s = spec('0 9,15 * * *');
    expect(iso(expandCron(s, local(2026, 12, 1, 9), local(2026, 12, 2, 9), TZ))).toEqual([
      '2026-12-01T09:00:00+08:00',
      '2026-12-01T15:00:00+08:00',
    ]);
    expect(expandCron(s, local(2026, 12, 2), local(2026, 12, 1), TZ)).toEqual([]);
  });

  it('follows a zone with daylight saving when configured so (New York, spring forward)', () => {
    const ny = 'America/New_York';
    const starts = expandCron(spec('30 2 * * *'), Date.UTC(2026, 2, 7, 12), Date.UTC(2026, 2, 9, 12), ny);
    expect(starts.map((t) => isoLocal(t, ny))).toEqual(['2026-03-08T03:30:00-04:00', '2026-03-09T02:30:00-04:00']);
  });
});

describe('one-off visits and schedule parsing', () => {
  it('reads `at` as local time and yields exactly one occurrence inside the range', () => {
    const parsed = parseSchedule({ cron: null, at: '2026-12-31T23:30' }, TZ);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const start = local(2026, 12, 31, 23, 30);
    expect(expandSchedule(parsed.schedule, local(2026, 12, 1), local(2027, 1, 1), TZ)).toEqual([start]);
    expect(expandSchedule(parsed.schedule, local(2027, 1, 1), local(2027, 2, 1), TZ)).toEqual([]);
  });

  it('wants exactly one of cron and at, and a real local date-time', () => {
    const errors = [
      parseSchedule({ cron: '0 11 * * 2', at: '2026-12-01T10:00' }, TZ),
      parseSchedule({ cron: null, at: null }, TZ),
      parseSchedule({ cron: null, at: '2026-02-30T10:00' }, TZ),
      parseSchedule({ cron: null, at: '2026-12-01 10:00' }, TZ),
    ].map((p) => (p.ok ? 'ok' : p.error));
    expect(errors[0]).toMatch(/not both/);
    expect(errors[1]).toMatch(/needs cron .* or at/);
    expect(errors[2]).toMatch(/invalid at "2026-02-30T10:00"/);
    expect(errors[3]).toMatch(/invalid at/);
  });
});

describe('local time helpers', () => {
  it('parses dates strictly and instants in the forms the API accepts', () => {
    expect(parseDate('2026-11-30')).toEqual({ year: 2026, month: 11, day: 30 });
    expect(parseDate('2026-11-31')).toBeNull();
    expect(parseDate('2026-1-5')).toBeNull();
    expect(parseLocalDateTime('2026-11-26T24:00')).toBeNull();
    const t = local(2026, 11, 26, 11);
    expect(parseInstant('2026-11-26T11:00', TZ)).toBe(t);
    expect(parseInstant('2026-11-26T11:00:00+08:00', TZ)).toBe(t);
    expect(parseInstant('2026-11-26T03:00:00Z', TZ)).toBe(t);
    expect(parseInstant(String(t), TZ)).toBe(t);
    expect(parseInstant('tomorrow', TZ)).toBeNull();
    expect(zonedTime({ year: 2026, month: 11, day: 26 }, 11, 0, TZ)).toBe(t);
  });
});
