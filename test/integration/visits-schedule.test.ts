// Visit plans over a real SQLite store with the test registry: listing, create/change/pause/resume/cancel/reassign, bad input.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { GatewayError } from '../../gateway/core/errors.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import type { OccurrenceView } from '../../gateway/visits/types.js';
import { nearMonthEnd, startVisitsGateway, type VisitsGateway } from '../helpers/visits.js';

async function expectBadRequest(work: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  if (!(err instanceof GatewayError)) return;
  expect(err.code).toBe('GW_ERR_BAD_REQUEST');
  expect(err.statusCode).toBe(400);
  expect(err.message).toMatch(message);
}

const { at, date: day, local: wall, start } = nearMonthEnd;
/** `text` as a regular expression that matches it literally. */
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const brief = (list: OccurrenceView[]) => list.map((o) => `${o.visit} ${o.volunteer} ${o.start} ${o.status}`);

describe('visit schedules', () => {
  let rig: VisitsGateway;

  beforeEach(async () => {
    // The Wednesday before the next month end, 12:00 (Asia/Shanghai): these tests cross a month end. Day -1 is the
    // Tuesday before, 1 the Thursday (still this month), 5 the Monday, 6 the Tuesday after (next month).
    rig = await startVisitsGateway({ clock: new ManualClock(at(0, 12)) });
  });
  afterEach(async () => rig.close());

  it('lists the registry visit across the month end with local +08:00 times and derived statuses', async () => {
    const list = await rig.visits.listOccurrences({ from: day(-1), to: day(8) });
    expect(brief(list)).toEqual([
      `vis-01 v-01 ${start(-1, '11:00')} missed`,
      `vis-01 v-01 ${start(1, '11:00')} scheduled`,
      `vis-01 v-01 ${start(6, '11:00')} scheduled`,
      `vis-01 v-01 ${start(8, '11:00')} scheduled`,
    ]);
    expect(list[1]).toMatchObject({ resident: 'r-001', end: start(1, '12:30'), activity: '做饭' });
  });

  it('creates recurring and one-off visits, and filters by volunteer, resident and community', async () => {
    const weekly = await rig.visits.createVisit({
      volunteer: 'v-03',
      resident: 'r-002',
      cron: '30 9 * * 1',
      durationMinutes: 60,
      activity: '陪聊',
    });
    expect(weekly).toMatchObject({ volunteer: 'v-03', state: 'active', cron: '30 9 * * 1', at: null, next: start(5, '09:30') });
    const once = await rig.visits.createVisit({
      id: 'vis-once',
      volunteer: 'v-03',
      resident: 'r-001',
      at: wall(6, '14:00'),
      durationMinutes: 45,
      activity: '理发',
    });
    expect(once.next).toBe(start(6, '14:00'));

    const v03 = await rig.visits.listOccurrences({ from: day(-2), to: day(11), volunteer: 'v-03' });
    // Created on day 0 (Wednesday): no occurrence on the Monday before it.
    expect(brief(v03)).toEqual([`${weekly.id} v-03 ${start(5, '09:30')} scheduled`, `vis-once v-03 ${start(6, '14:00')} scheduled`]);
    const r002 = await rig.visits.listOccurrences({ from: day(-2), to: day(11), resident: 'r-002' });
    expect(r002.map((o) => o.visit)).toEqual([weekly.id]);
    // vis-01 four times, the weekly visit once, the one-off once.
    expect(await rig.visits.listOccurrences({ from: day(-2), to: day(11), community: 'andali' })).toHaveLength(6);
    expect(await rig.visits.listOccurrences({ from: day(-2), to: day(11), community: 'elsewhere' })).toHaveLength(0);
  });

  it('refuses each kind of bad input with a clear 400 and changes nothing', async () => {
    const before = await rig.store.visits.listPlans();
    const good = { volunteer: 'v-03', resident: 'r-002', cron: '0 15 * * 3', durationMinutes: 60, activity: '陪聊' };
    await expectBadRequest(rig.visits.createVisit({ ...good, cron: '61 15 * * 3' }), /invalid cron expression "61 15 \* \* 3"/);
    await expectBadRequest(rig.visits.createVisit({ ...good, cron: '0 15 * *' }), /expected 5 fields/);
    await expectBadRequest(rig.visits.createVisit({ ...good, volunteer: 'v-99' }), /unknown volunteer v-99/);
    await expectBadRequest(rig.visits.createVisit({ ...good, resident: 'r-999' }), /unknown resident r-999/);
    // Impossible dates (a 13th month, 31 November) are the same on any day the tests run.
    await expectBadRequest(rig.visits.createVisit({ ...good, cron: undefined, at: '2026-13-01T10:00' }), /invalid at/);
    await expectBadRequest(rig.visits.createVisit({ ...good, at: wall(6, '10:00') }), /not both/);
    await expectBadRequest(rig.visits.createVisit({ ...good, durationMinutes: 0 }), /durationMinutes/);
    await expectBadRequest(rig.visits.createVisit({ ...good, id: 'vis-01' }), /vis-01 already exists/);
    await expectBadRequest(rig.visits.createVisit({ ...good, id: 'bad/id' }), /id "bad\/id"/);
    // v-01 visits r-001 on Tue/Thu 11:00-12:30: a Tuesday 12:00 visit overlaps it.
    await expectBadRequest(
      rig.visits.createVisit({ ...good, volunteer: 'v-01', cron: '0 12 * * 2' }),
      new RegExp(`overlaps visit vis-01 of volunteer v-01: ${escaped(start(6, '12:00'))} \\(60 min\\)`),
    );
    // A one-off visit in 7 weeks (a Tuesday, day 48) still counts; one at 12:30 sharp touches but does not overlap.
    await expectBadRequest(
      rig.visits.createVisit({ ...good, volunteer: 'v-01', cron: undefined, at: wall(48, '10:30') }),
      /overlaps visit vis-01/,
    );
    await expectBadRequest(rig.visits.createVisit({ ...good, cron: '0,30 15 * * 3' }), /overlap each other/);
    await expectBadRequest(rig.visits.updateVisit('vis-01', { cron: 'nonsense' }), /invalid cron/);
    await expectBadRequest(rig.visits.updateVisit('vis-01', { volunteer: 'v-99' }), /unknown volunteer/);
    // 92 days after day -24 is day 68.
    await expectBadRequest(rig.visits.listOccurrences({ from: day(-24), to: day(68) }), /spans 93 days; at most 92/);
    await expectBadRequest(rig.visits.listOccurrences({ from: day(6), to: day(5) }), /to must not be before from/);
    await expectBadRequest(rig.visits.listOccurrences({ from: '2026-11-31', to: day(6) }), /from must be a date/);
    expect(await rig.store.visits.listPlans()).toEqual(before);

    // The edges that are allowed: exactly 92 days, and a visit that starts when the other ends.
    expect((await rig.visits.listOccurrences({ from: day(-24), to: day(67) })).length).toBeGreaterThan(20);
    await rig.visits.createVisit({ ...good, volunteer: 'v-01', cron: undefined, at: wall(48, '12:30') });
    // Overlaps are looked for in the next 8 weeks only (to day 56 here).
    await rig.visits.createVisit({ ...good, volunteer: 'v-01', cron: undefined, at: wall(62, '11:30') });
  });

  it('checks overlaps against the volunteer a visit is reassigned to', async () => {
    await rig.visits.createVisit({
      id: 'vis-v03',
      volunteer: 'v-03',
      resident: 'r-002',
      cron: '0 12 * * 4',
      durationMinutes: 60,
      activity: '陪聊',
    });
    await expectBadRequest(rig.visits.updateVisit('vis-01', { volunteer: 'v-03' }), /overlaps visit vis-v03 of volunteer v-03/);
    expect((await rig.store.visits.getPlan('vis-01'))?.volunteer).toBe('v-01');
  });

  it('pauses and resumes: occurrences in the pause stay cancelled, later ones take place, none for cancelled visits', async () => {
    rig.clock.set(at(1, 8));
    expect((await rig.visits.pauseVisit('vis-01')).state).toBe('paused');
    await expectBadRequest(rig.visits.pauseVisit('vis-01'), /already paused/);
    rig.clock.set(at(5, 8));
    expect((await rig.visits.resumeVisit('vis-01')).state).toBe('active');
    await expectBadRequest(rig.visits.resumeVisit('vis-01'), /not paused/);
    const list = await rig.visits.listOccurrences({ from: day(-1), to: day(6) });
    expect(list.map((o) => `${o.start.slice(0, 10)} ${o.status}`)).toEqual([
      `${day(-1)} missed`,
      `${day(1)} cancelled`,
      `${day(6)} scheduled`,
    ]);

    rig.clock.set(at(6, 8));
    expect((await rig.visits.cancelVisit('vis-01')).state).toBe('cancelled');
    const after = await rig.visits.listOccurrences({ from: day(5), to: day(8) });
    expect(after.map((o) => o.status)).toEqual(['cancelled', 'cancelled']);
    await expectBadRequest(rig.visits.updateVisit('vis-01', { activity: '打扫' }), /vis-01 is cancelled/);
    await expectBadRequest(rig.visits.resumeVisit('vis-01'), /vis-01 is cancelled/);
  });

  it('refuses a resume that would overlap a visit created during the pause', async () => {
    await rig.visits.pauseVisit('vis-01');
    await rig.visits.createVisit({
      id: 'vis-new',
      volunteer: 'v-01',
      resident: 'r-002',
      cron: '0 11 * * 4',
      durationMinutes: 30,
      activity: '陪聊',
    });
    await expectBadRequest(rig.visits.resumeVisit('vis-01'), /overlaps visit vis-new/);
    expect((await rig.visits.getVisit('vis-01')).state).toBe('paused');
  });

  it('cancels one occurrence only, and not one already checked in', async () => {
    const one = await rig.visits.cancelOccurrence('vis-01', start(6, '11:00'), '老人住院');
    expect(one).toMatchObject({ status: 'cancelled', start: start(6, '11:00') });
    const list = await rig.visits.listOccurrences({ from: day(1), to: day(8) });
    expect(list.map((o) => o.status)).toEqual(['scheduled', 'cancelled', 'scheduled']);
    await expectBadRequest(rig.visits.cancelOccurrence('vis-01', wall(6, '11:00')), /already cancelled/);
    await expectBadRequest(
      rig.visits.cancelOccurrence('vis-01', wall(7, '11:00')),
      new RegExp(`no occurrence starting at ${escaped(start(7, '11:00'))}`),
    );
    await expectBadRequest(rig.visits.cancelOccurrence('vis-01', 'soon'), /start must be/);
  });

  it('reassigns the whole visit from now on, keeping past occurrences with the former volunteer', async () => {
    rig.clock.set(at(2, 9));
    const changed = await rig.visits.updateVisit('vis-01', { volunteer: 'v-03', durationMinutes: 60 });
    expect(changed).toMatchObject({ volunteer: 'v-03', durationMinutes: 60 });
    const list = await rig.visits.listOccurrences({ from: day(-1), to: day(8) });
    expect(list.map((o) => `${o.start.slice(0, 10)} ${o.volunteer}`)).toEqual([
      `${day(-1)} v-01`,
      `${day(1)} v-01`,
      `${day(6)} v-03`,
      `${day(8)} v-03`,
    ]);
    // The registry's visit document follows the change.
    expect((await rig.store.registry.listVisits()).find((v) => v.id === 'vis-01')).toMatchObject({
      volunteer: 'v-03',
      cron: '0 11 * * 2,4',
    });
  });

  it('reassigns one occurrence to another volunteer, refusing someone busy then', async () => {
    const moved = await rig.visits.reassignOccurrence('vis-01', wall(6, '11:00'), 'v-02');
    expect(moved).toMatchObject({ volunteer: 'v-02', reassignedFrom: 'v-01', status: 'scheduled' });
    const list = await rig.visits.listOccurrences({ from: day(5), to: day(8) });
    expect(list.map((o) => o.volunteer)).toEqual(['v-02', 'v-01']);
    await rig.visits.createVisit({
      id: 'vis-v03',
      volunteer: 'v-03',
      resident: 'r-002',
      at: wall(8, '12:00'),
      durationMinutes: 30,
      activity: '陪聊',
    });
    await expectBadRequest(rig.visits.reassignOccurrence('vis-01', wall(8, '11:00'), 'v-03'), /v-03 already has visit vis-v03/);
    await expectBadRequest(rig.visits.reassignOccurrence('vis-01', wall(8, '11:00'), 'v-01'), /already does/);
  });

  it('keeps a pause when the registry file is imported again', async () => {
    await rig.visits.pauseVisit('vis-01');
    await importRegistryDocument(
      { store: rig.store, log: silentLogger() },
      { visits: [{ id: 'vis-01', volunteer: 'v-01', resident: 'r-001', cron: '0 10 * * 2,4', durationMinutes: 90, activity: '做饭' }] },
    );
    const plan = await rig.visits.getVisit('vis-01');
    expect(plan).toMatchObject({ state: 'paused', cron: '0 10 * * 2,4' });
  });
});
