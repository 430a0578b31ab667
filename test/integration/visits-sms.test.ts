// Check-in and check-out by SMS: the whole gateway (its ReplyRouter and dispatcher) sending through the Twilio simulator.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import * as visitTexts from '../../gateway/visits/messages.js';
import { demoText } from '../../gateway/notifiers/catalogue.js';

const REPLY_NOT_CHECKED_IN = demoText(visitTexts.REPLY_NOT_CHECKED_IN);
const REPLY_NOT_A_VOLUNTEER = demoText(visitTexts.REPLY_NOT_A_VOLUNTEER);
import { makeIncident } from '../helpers/http-fixture.js';
import { pageSms } from '../helpers/sms.js';
import type { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { chineseDate } from '../helpers/calendar.js';
import { dateOf, onDay, startVisitsGateway, V01, V02, V04, W01, type VisitsGateway } from '../helpers/visits.js';

const THU_11 = onDay(1, 11);

describe('visit check-in and check-out by SMS', () => {
  let clock: ManualClock;
  let rig: VisitsGateway;
  /** The phones' side: the gateway sends through the Twilio simulator. */
  let sim: TwilioSimServer;

  beforeEach(async () => {
    // Last Wednesday 18:00 in Asia/Shanghai, an hour before the reminder about Thursday's visit.
    clock = new ManualClock(onDay(0, 18));
    rig = await startVisitsGateway({ clock, twilio: true });
    sim = rig.tg.sms;
    clock.set(onDay(0, 19));
  });
  afterEach(async () => {
    await rig.close();
  });

  const thursday = async () => (await rig.visits.listOccurrences({ from: dateOf(1), to: dateOf(1) }))[0];
  const lastReplyTo = async (phone: string) => (await rig.smsTo(phone)).at(-1)?.body ?? '';

  it('reminds the evening before, then 到 checks in and 走 checks out with capped hours and points', async () => {
    expect(await rig.visits.runReminders()).toBe(1);
    const reminder = await sim.waitForMessage((m) => m.to === V01);
    expect(reminder.body).toContain(`【探访提醒】明天${chineseDate(onDay(1, 12))}周四探访：11:00 张桂兰 安达里3号楼2门401 做饭`);
    expect(reminder.body).toContain('到达回“到”');
    expect((await rig.store.sms.latestWithContextTo(V01))?.context).toEqual({ kind: 'visit', visitId: 'vis-01', occurrenceStart: THU_11 });

    clock.set(onDay(1, 9, 58));
    expect(await rig.text(V01, '到')).toBe('visit_too_early');
    expect(await lastReplyTo(V01)).toBe('下一次探访11:00在张桂兰家，开始前60分钟内可签到。');
    expect((await thursday())?.status).toBe('scheduled');

    clock.set(onDay(1, 10, 5));
    expect(await rig.text(V01, ' d ')).toBe('visit_check_in');
    expect(await lastReplyTo(V01)).toBe('已签到：张桂兰家 做饭。离开时请回“走”。');
    expect(await rig.text(V01, '到')).toBe('visit_already_checked_in');
    expect(await thursday()).toMatchObject({ status: 'checked_in', checkedInAt: `${dateOf(1)}T10:05:00+08:00` });

    // 2 h 40 min at the door; a 90-minute visit is credited at most 2 h.
    clock.set(onDay(1, 12, 45));
    expect(await rig.text(V01, '走')).toBe('visit_check_out');
    await sim.waitForMessage((m) => m.to === V01 && m.body.startsWith('已签退'));
    expect(await lastReplyTo(V01)).toBe('已签退，本次服务2小时，积分+20。谢谢您！');
    expect(await thursday()).toMatchObject({ status: 'done', hours: 2, checkedOutAt: `${dateOf(1)}T12:45:00+08:00` });
    expect(await rig.text(V01, 'Z')).toBe('visit_not_checked_in');
    expect(await lastReplyTo(V01)).toBe(REPLY_NOT_CHECKED_IN);

    const ledger = await rig.visits.volunteerLedger('v-01');
    expect(ledger).toMatchObject({ hours: 2, balance: 20 });
    // Every reply went out through the simulator; none of them carries a reply context.
    await sim.waitForMessage((m) => m.to === V01 && m.body === REPLY_NOT_CHECKED_IN);
    expect((await rig.smsTo(V01)).filter((m) => m.context !== null)).toHaveLength(1);
  });

  it('answers a phone that is not a volunteer politely and changes nothing', async () => {
    await rig.visits.runReminders();
    clock.set(onDay(1, 10, 30));
    expect(await rig.text('+8613111111111', '到')).toBe('unknown_phone');
    // The volunteer's number changed after the reminder went out: the old phone can no longer check in.
    await importRegistryDocument(
      { store: rig.store, log: silentLogger() },
      { volunteers: [{ id: 'v-01', name: '王奶奶', phone: '+8613700000009', team: 'apron' }] },
    );
    expect(await rig.text(V01, '到')).toBe('visit_unknown_phone');
    expect(await lastReplyTo(V01)).toBe(REPLY_NOT_A_VOLUNTEER);
    expect((await thursday())?.status).toBe('scheduled');
  });

  it('raises the door alarm once on 没人, counts the volunteer as there, and raises no missed-visit alarm', async () => {
    await rig.visits.runReminders();
    clock.set(onDay(1, 11, 5));
    expect(await rig.text(V01, '没人')).toBe('visit_door_unanswered');
    expect(await rig.doorAlarms()).toEqual(['r-001/v-01']);
    expect(await lastReplyTo(V01)).toBe('已通知社区网格员去张桂兰家查看，请在门口稍候。');
    expect(await rig.text(V01, '没人')).toBe('visit_door_unanswered');
    expect(await rig.doorAlarms()).toHaveLength(1);
    expect((await thursday())?.status).toBe('checked_in');
    clock.set(onDay(1, 11, 45));
    expect(await rig.visits.sweepMissed()).toBe(0);
    expect(await rig.smsTo(V02)).toEqual([]);
  });

  it("lets a worker's 1 acknowledge the incident page even after a missed-visit notice reached the same phone", async () => {
    clock.set(onDay(1, 11, 20));
    await rig.store.incidents.create(makeIncident({ id: 'inc-test', openedAt: clock.now(), residentId: 'r-002' }));
    await rig.gateway.dispatcher.enqueue(pageSms(W01));
    clock.set(onDay(1, 11, 30));
    expect(await rig.visits.sweepMissed()).toBe(1);
    const notice = await sim.waitForMessage((m) => m.to === W01 && m.body.startsWith('【探访未签到】'));
    expect(notice.body).toBe(
      '【探访未签到】志愿者王奶奶应于11:00到张桂兰家（安达里3号楼2门401），探访内容做饭，已过30分钟未签到，请联系确认。',
    );
    await sim.waitForMessage((m) => m.to === V02 && m.body.startsWith('【探访未签到】'));
    expect((await rig.smsTo(W01)).at(-1)?.context).toBeNull();

    expect(await rig.text(W01, '1')).toBe('ack');
    expect((await rig.store.incidents.get('inc-test'))?.state).toBe('acknowledged');
  });

  it('sends a reminder without reply context to a phone whose incident page is still open', async () => {
    await rig.visits.createVisit({
      id: 'vis-son',
      volunteer: 'v-04',
      resident: 'r-002',
      at: `${dateOf(1)}T15:00`,
      durationMinutes: 60,
      activity: '修水管',
    });
    await rig.store.incidents.create(makeIncident({ id: 'inc-test', openedAt: clock.now(), residentId: 'r-001' }));
    await rig.gateway.dispatcher.enqueue({ ...pageSms(V04), role: 'family', personId: 'family:r-001:0' });
    expect(await rig.visits.runReminders()).toBe(2);
    const reminders = (await rig.smsTo(V04)).filter((m) => m.body.startsWith('【探访提醒】'));
    expect(reminders).toHaveLength(1);
    expect(reminders[0]?.context).toBeNull();
    expect(await rig.text(V04, '1')).toBe('ack');
    expect((await rig.store.incidents.get('inc-test'))?.acknowledgedBy?.role).toBe('family');
  });
});
