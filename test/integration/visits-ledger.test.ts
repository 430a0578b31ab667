// Service hours and points: check-out credit, coordinator corrections, redemptions, running balance and the monthly CSV.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { GatewayError } from '../../gateway/core/errors.js';
import { nearMonthEnd, startVisitsGateway, V01, type VisitsGateway } from '../helpers/visits.js';

const { at, date: day, local: wall, start, month } = nearMonthEnd;

async function expectError(work: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  if (err instanceof GatewayError) {
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  }
}

describe('volunteer ledger', () => {
  let rig: VisitsGateway;

  beforeEach(async () => {
    // The Wednesday before the next month end, 19:00 (Asia/Shanghai): the ledger is reported by month across it.
    // Thursday (day 1) is still this month, the next Tuesday (day 6) is in the next.
    rig = await startVisitsGateway({ clock: new ManualClock(at(0, 19)) });
    await rig.visits.runReminders();
  });
  afterEach(async () => rig.close());

  /** Thursday (day 1): checked in 11:00, out 12:15 = 1.25 h = 12.5 points. The Tuesday after, next month (day 6): missed. */
  async function serveThursdayMissTuesday(): Promise<void> {
    rig.clock.set(at(1, 11));
    expect(await rig.text(V01, '到')).toBe('visit_check_in');
    rig.clock.set(at(1, 12, 15));
    expect(await rig.text(V01, '走')).toBe('visit_check_out');
    rig.clock.set(at(6, 13));
    await rig.visits.sweepMissed();
  }

  it('keeps visit hours, corrections and redemptions with a running balance', async () => {
    await serveThursdayMissTuesday();
    // The volunteer was there on Tuesday but forgot to text: the coordinator enters 1.5 h.
    const fixed = await rig.visits.correctHours('vis-01', start(6, '11:00'), 1.5, '忘记签到', '协调员小周');
    expect(fixed).toMatchObject({ status: 'done', hours: 1.5 });
    // Thursday was shorter than texted: down to 1 h.
    await rig.visits.correctHours('vis-01', wall(1, '11:00'), 1, '提前离开', '协调员小周');
    const redemption = await rig.visits.redeem('v-01', 20, '兑换大米一袋', '协调员小周');
    expect(redemption).toMatchObject({ kind: 'redemption', points: -20, balance: 5 });

    const ledger = await rig.visits.volunteerLedger('v-01');
    expect(ledger).toMatchObject({ volunteer: 'v-01', name: '王奶奶', pointsPerHour: 10, hours: 2.5, balance: 5 });
    expect(ledger.entries.map((e) => [e.kind, e.date, e.hours, e.points, e.balance, e.by])).toEqual([
      ['visit', day(1), 1.25, 12.5, 12.5, 'sms'],
      ['correction', day(6), 1.5, 15, 27.5, '协调员小周'],
      ['correction', day(1), -0.25, -2.5, 25, '协调员小周'],
      ['redemption', day(6), 0, -20, 5, '协调员小周'],
    ]);
    expect(ledger.entries[0]?.occurrenceStart).toBe(start(1, '11:00'));
    expect(ledger.entries[3]?.note).toBe('兑换大米一袋');
  });

  it('uses the configured points rate', async () => {
    await rig.visits.stop();
    const service = rig.newService({ settings: { pointsPerHour: 8 } });
    await service.start();
    rig.visits = service;
    await serveThursdayMissTuesday();
    expect((await rig.visits.volunteerLedger('v-01')).balance).toBe(10);
  });

  it('refuses corrections and redemptions that make no sense, changing nothing', async () => {
    await serveThursdayMissTuesday();
    const before = await rig.visits.volunteerLedger('v-01');
    await expectError(rig.visits.redeem('v-01', 13, '兑换', 'x'), 'GW_ERR_BAD_REQUEST', /has 12.5 points; cannot redeem 13/);
    await expectError(rig.visits.redeem('v-01', 0, '兑换', 'x'), 'GW_ERR_BAD_REQUEST', /positive/);
    await expectError(rig.visits.redeem('v-99', 1, '兑换', 'x'), 'GW_ERR_NOT_FOUND', /volunteer v-99 not found/);
    await expectError(rig.visits.correctHours('vis-01', wall(8, '11:00'), 1, null, 'x'), 'GW_ERR_BAD_REQUEST', /not started yet/);
    await expectError(rig.visits.correctHours('vis-01', wall(1, '11:00'), 1.25, null, 'x'), 'GW_ERR_BAD_REQUEST', /already has 1.25 hours/);
    await expectError(rig.visits.correctHours('vis-01', wall(1, '11:00'), 25, null, 'x'), 'GW_ERR_BAD_REQUEST', /from 0 to 24/);
    await rig.visits.cancelOccurrence('vis-01', wall(6, '11:00'), '老人住院');
    await expectError(rig.visits.correctHours('vis-01', wall(6, '11:00'), 1, null, 'x'), 'GW_ERR_BAD_REQUEST', /cancelled/);
    await expectError(rig.visits.volunteerLedger('v-99'), 'GW_ERR_NOT_FOUND', /v-99/);
    expect(await rig.visits.volunteerLedger('v-01')).toEqual(before);
  });

  it('exports the hours of a month as CSV, one row per volunteer, by service date', async () => {
    await serveThursdayMissTuesday();
    await rig.visits.correctHours('vis-01', wall(6, '11:00'), 1.5, null, '协调员');
    await rig.visits.redeem('v-01', 5, '兑换', '协调员');
    const [thisMonth, nextMonth] = [month(1), month(6)];
    expect(thisMonth).not.toBe(nextMonth);
    const first = await rig.visits.hoursCsv(thisMonth);
    expect(first.split('\r\n')).toEqual([
      'month,volunteer,name,team,visits,hours,points_earned,points_redeemed',
      `${thisMonth},v-01,王奶奶,apron,1,1.25,12.5,0`,
      `${thisMonth},v-02,刘阿姨,apron,0,0,0,0`,
      `${thisMonth},v-03,陈大妈,apron,0,0,0,0`,
      `${thisMonth},v-04,张伟,sons,0,0,0,0`,
      '',
    ]);
    const second = await rig.visits.hoursCsv(nextMonth);
    expect(second).toContain(`${nextMonth},v-01,王奶奶,apron,0,1.5,15,5\r\n`);
    // A 13th month, on any day the tests run.
    await expectError(rig.visits.hoursCsv('2026-13'), 'GW_ERR_BAD_REQUEST', /month must be "YYYY-MM"/);
  });
});
