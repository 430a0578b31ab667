// Occurrence status rules (pause, cancel, reassignment, missed), overlap detection, service-hours capping and CSV quoting.
import { describe, expect, it } from 'vitest';
import { parseVisitCron } from '../../gateway/visits/cron.js';
import { csvField, round2, serviceHours } from '../../gateway/visits/ledger.js';
import { firstOverlap, occurrencesOf, statusOf, volunteerAt } from '../../gateway/visits/occurrences.js';
import type { OccurrenceRecord, VisitPlan } from '../../gateway/visits/types.js';

const TZ = 'Asia/Shanghai';
const local = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h - 8, mi);
const MIN = 60_000;

function plan(over: Partial<VisitPlan> = {}): VisitPlan {
  return {
    id: 'vis-01',
    volunteer: 'v-01',
    resident: 'r-001',
    cron: '0 11 * * 2,4',
    at: null,
    durationMinutes: 90,
    activity: '做饭',
    createdAt: null,
    cancelledAt: null,
    pausedSince: null,
    pauses: [],
    formerVolunteers: [],
    updatedAt: 0,
    ...over,
  };
}

const THU = local(2026, 11, 26, 11);
const ctx = (now: number) => ({ now, timeZone: TZ, missedAfterMinutes: 30 });

function record(over: Partial<OccurrenceRecord>): OccurrenceRecord {
  return {
    visitId: 'vis-01',
    start: THU,
    end: THU + 90 * MIN,
    volunteerId: 'v-01',
    residentId: 'r-001',
    status: 'scheduled',
    reassignedFrom: null,
    checkedInAt: null,
    checkedOutAt: null,
    doorUnansweredAt: null,
    missedAt: null,
    cancelledAt: null,
    creditedHours: 0,
    note: null,
    updatedAt: 0,
    ...over,
  };
}

describe('occurrence status', () => {
  it('is scheduled until 30 minutes after the start without a check-in, then missed', () => {
    expect(statusOf(plan(), THU, null, ctx(THU + 29 * MIN))).toBe('scheduled');
    expect(statusOf(plan(), THU, null, ctx(THU + 30 * MIN))).toBe('missed');
    expect(statusOf(plan(), THU, record({ status: 'checked_in' }), ctx(THU + 60 * MIN))).toBe('checked_in');
  });

  it('is cancelled inside a pause or after a cancellation, including one under way whose missed moment had not passed', () => {
    const paused = plan({ pauses: [[THU - 10 * MIN, THU + 5 * 24 * 60 * MIN]] });
    expect(statusOf(paused, THU, null, ctx(THU + 60 * MIN))).toBe('cancelled');
    // Resumed before the next one: that one takes place again.
    expect(statusOf(paused, local(2026, 12, 1, 11), null, ctx(THU))).toBe('scheduled');
    expect(statusOf(plan({ pausedSince: THU + 10 * MIN }), THU, null, ctx(THU + 60 * MIN))).toBe('cancelled');
    expect(statusOf(plan({ pausedSince: THU + 31 * MIN }), THU, null, ctx(THU + 60 * MIN))).toBe('missed');
    expect(statusOf(plan({ cancelledAt: THU + 20 * MIN }), THU, null, ctx(THU + 60 * MIN))).toBe('cancelled');
    // A record of what happened outranks the plan's later state.
    expect(statusOf(plan({ cancelledAt: THU }), THU, record({ status: 'done' }), ctx(THU + 600 * MIN))).toBe('done');
  });

  it('keeps occurrences before a reassignment with the former volunteer', () => {
    const p = plan({ volunteer: 'v-03', formerVolunteers: [{ volunteer: 'v-01', untilStart: THU + MIN }] });
    expect(volunteerAt(p, THU)).toBe('v-01');
    expect(volunteerAt(p, THU + 2 * MIN)).toBe('v-03');
  });

  it('merges records with the schedule, keeps records the schedule no longer yields, and honours createdAt', () => {
    const parsed = parseVisitCron('0 11 * * 2,4');
    if (!parsed.ok) throw new Error(parsed.error);
    const schedule = { kind: 'cron' as const, spec: parsed.spec };
    const oldStart = local(2026, 11, 25, 9); // a Wednesday: from before the plan was changed
    const records = [record({ status: 'done' }), record({ start: oldStart, end: oldStart + 60 * MIN, status: 'missed' })];
    const list = occurrencesOf(plan(), schedule, records, local(2026, 11, 23), local(2026, 11, 30), ctx(local(2026, 11, 28)));
    expect(list.map((o) => [o.start, o.status])).toEqual([
      [local(2026, 11, 24, 11), 'missed'],
      [oldStart, 'missed'],
      [THU, 'done'],
    ]);
    expect(list[1]?.end).toBe(oldStart + 60 * MIN);
    const created = occurrencesOf(plan({ createdAt: local(2026, 11, 25) }), schedule, [], local(2026, 11, 23), local(2026, 11, 30), ctx(0));
    expect(created.map((o) => o.start)).toEqual([THU]);
  });
});

describe('firstOverlap', () => {
  it('finds touching-free intervals apart and overlapping ones together', () => {
    expect(
      firstOverlap([
        { start: 0, end: 10 },
        { start: 10, end: 20 },
      ]),
    ).toBeNull();
    const a = { start: 0, end: 100 };
    const b = { start: 50, end: 60 };
    const c = { start: 90, end: 120 };
    expect(firstOverlap([c, a, b])).toEqual([a, b]);
  });
});

describe('service hours', () => {
  const base = { start: THU, end: THU + 90 * MIN };
  it('counts check-in to check-out, capped at the duration plus 30 minutes', () => {
    expect(serviceHours({ ...base, checkedInAt: THU, checkedOutAt: THU + 75 * MIN }, 30)).toBe(1.25);
    expect(serviceHours({ ...base, checkedInAt: THU - 20 * MIN, checkedOutAt: THU + 180 * MIN }, 30)).toBe(2);
    expect(serviceHours({ ...base, checkedInAt: THU, checkedOutAt: THU + 119 * MIN }, 30)).toBe(1.98);
    expect(serviceHours({ ...base, checkedInAt: THU, checkedOutAt: null }, 30)).toBe(0);
    expect(serviceHours({ ...base, checkedInAt: THU + 10 * MIN, checkedOutAt: THU }, 30)).toBe(0);
    expect(round2(0.1 + 0.2)).toBe(0.3);
  });
});

describe('csvField', () => {
  it('quotes separators and defuses spreadsheet formulas', () => {
    expect(csvField('王奶奶')).toBe('王奶奶');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField(-2.5)).toBe('-2.5');
  });
});
