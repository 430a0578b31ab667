// Reminders (once per volunteer and day, across restarts, caught up after downtime) and missed-visit escalation.
import { getTasks } from 'node-cron';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { chineseDate } from '../helpers/calendar.js';
import { dateOf, onDay, startVisitsGateway, V01, V02, V03, W01, type VisitsGateway } from '../helpers/visits.js';

const REMINDER = '【探访提醒】';
const MISSED = '【探访未签到】';

describe('evening reminders', () => {
  let rig: VisitsGateway;
  afterEach(async () => rig.close());

  const remindersTo = async (phone: string) => (await rig.smsTo(phone)).filter((m) => m.body.startsWith(REMINDER));

  it("sends one SMS per volunteer listing tomorrow's visits in time order, and none for paused or cancelled ones", async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(0, 18)) });
    await rig.visits.createVisit({
      id: 'vis-pm',
      volunteer: 'v-01',
      resident: 'r-002',
      at: `${dateOf(1)}T15:00`,
      durationMinutes: 60,
      activity: '读报',
    });
    await rig.visits.createVisit({
      id: 'vis-v03',
      volunteer: 'v-03',
      resident: 'r-002',
      at: `${dateOf(1)}T09:00`,
      durationMinutes: 60,
      activity: '陪聊',
    });
    await rig.visits.createVisit({
      id: 'vis-v02',
      volunteer: 'v-02',
      resident: 'r-002',
      at: `${dateOf(1)}T16:30`,
      durationMinutes: 60,
      activity: '买菜',
    });
    await rig.visits.createVisit({
      id: 'vis-fri',
      volunteer: 'v-02',
      resident: 'r-001',
      at: `${dateOf(2)}T09:00`,
      durationMinutes: 60,
      activity: '买菜',
    });
    await rig.visits.pauseVisit('vis-v03');
    await rig.visits.cancelOccurrence('vis-v02', `${dateOf(1)}T16:30`);

    rig.clock.set(onDay(0, 18, 59));
    expect(await rig.visits.runReminders()).toBe(0);
    rig.clock.set(onDay(0, 19));
    expect(await rig.visits.runReminders()).toBe(1);
    const [mine] = await remindersTo(V01);
    // The gateway's pages carry links, so the reminder ends with her own signed page.
    const [text, link] = (mine?.body ?? '').split(' 查看：');
    expect(text).toBe(
      `【探访提醒】明天${chineseDate(onDay(1, 12))}周四探访：11:00 张桂兰 安达里3号楼2门401 做饭；15:00 王淑珍 安达里5号楼1门202 读报。到达回“到”，离开回“走”，敲门无人应回“没人”。`,
    );
    expect(link).toMatch(new RegExp(`^${rig.tg.publicUrl}/v/visits\\?p=v-01&r=volunteer&e=\\w+&s=[\\w-]+$`));
    expect(await remindersTo(V02)).toEqual([]);
    expect(await remindersTo(V03)).toEqual([]);
    // Later triggers the same evening send nothing more.
    rig.clock.set(onDay(0, 19, 1));
    expect(await rig.visits.runReminders()).toBe(0);
    expect(await remindersTo(V01)).toHaveLength(1);
  });

  it('never sends a reminder twice when the gateway restarts at the reminder minute', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(0, 18)) });
    rig.clock.set(onDay(0, 19));
    // The cron trigger fires twice at once (e.g. a slow tick): the second run finds the first one's key.
    const both = await Promise.all([rig.visits.runReminders(), rig.visits.runReminders()]);
    expect(both.sort()).toEqual([0, 1]);
    rig.clock.set(onDay(0, 19) + 30_000);
    // A new process, same database: start-up catches up on reminders and finds this one done.
    await rig.restart();
    expect(await rig.visits.runReminders()).toBe(0);
    expect(await remindersTo(V01)).toHaveLength(1);
    expect(await rig.store.visits.hasRun(`reminder:${dateOf(1)}:v-01`)).toBe(true);
  });

  it('catches up at start on a reminder missed while the gateway was down, if its visits are still ahead', async () => {
    // Down over Wednesday evening; back at 21:00: Thursday's reminder goes out at start.
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(0, 21)) });
    expect((await remindersTo(V01))[0]?.body).toContain(`明天${chineseDate(onDay(1, 12))}周四探访：11:00`);

    // Down from before 19:00 until Monday 08:00: Monday has no visit; Tuesday's reminder waits for 19:00.
    rig.clock.set(onDay(5, 8));
    await rig.restart();
    expect(await remindersTo(V01)).toHaveLength(1);

    // Down over Monday evening, back Tuesday 08:00: the reminder about today's 11:00 visit goes out now.
    rig.clock.set(onDay(6, 8));
    await rig.restart();
    const reminders = await remindersTo(V01);
    expect(reminders).toHaveLength(2);
    expect(reminders[1]?.body).toContain(`【探访提醒】今天${chineseDate(onDay(6, 12))}周二探访：11:00 张桂兰`);
  });

  it('sends no catch-up reminder for a visit that has already begun', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(1, 11, 10)) });
    expect(await remindersTo(V01)).toEqual([]);
  });

  it('runs the reminder and the sweep on node-cron at the configured local time, and removes them on stop', async () => {
    rig = await startVisitsGateway();
    rig.visits = rig.newService({ triggers: 'cron', settings: { reminderTime: '18:30' } });
    await rig.visits.start();
    expect(rig.visits.cronPatterns()).toEqual(['30 18 * * *', '* * * * *']);
    const names = [...getTasks().values()].map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['visits:reminders', 'visits:missed']));
    await rig.visits.stop();
    expect(rig.visits.cronPatterns()).toEqual([]);
    expect([...getTasks().values()].map((t) => t.name)).not.toContain('visits:reminders');
    await expect(rig.newService({ settings: { reminderTime: '7pm' } }).start()).rejects.toThrow(/reminder time must be "HH:MM"/);
  });
});

describe('missed visits', () => {
  let rig: VisitsGateway;
  afterEach(async () => rig.close());

  const missedTo = async (phone: string) => (await rig.smsTo(phone)).filter((m) => m.body.startsWith(MISSED));
  const thursday = async () => (await rig.visits.listOccurrences({ from: dateOf(1), to: dateOf(1) })).find((o) => o.visit === 'vis-01');

  async function at(h: number, mi: number): Promise<number> {
    rig.clock.set(onDay(1, h, mi));
    return rig.visits.sweepMissed();
  }

  it('tells the team leader and the nearest on-duty grid worker once, 30 minutes after the start', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(1, 10)) });
    expect(await at(11, 29)).toBe(0);
    expect((await thursday())?.status).toBe('scheduled');
    expect(await at(11, 30)).toBe(1);
    expect((await thursday())?.status).toBe('missed');
    const [leader] = await missedTo(V02);
    expect(leader?.body).toBe(
      '【探访未签到】志愿者王奶奶应于11:00到张桂兰家（安达里3号楼2门401），探访内容做饭，已过30分钟未签到，请联系确认。',
    );
    expect(leader?.context).toBeNull();
    // w-04 lives closer but is never on duty; w-01 is the nearest on duty.
    expect(await missedTo(W01)).toHaveLength(1);
    expect(await missedTo('+8613900000004')).toEqual([]);
    expect(await missedTo(V03)).toEqual([]);
    expect(await at(11, 31)).toBe(0);
    // A restart sweeps again at start and finds it already handled.
    await rig.restart();
    expect(await missedTo(V02)).toHaveLength(1);
  });

  it('does not fire for checked-in, cancelled, reassigned or paused occurrences', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(0, 19)) });
    await rig.visits.createVisit({
      id: 'vis-r2',
      volunteer: 'v-03',
      resident: 'r-002',
      cron: '0 14 * * 4',
      durationMinutes: 60,
      activity: '陪聊',
    });
    await rig.visits.createVisit({
      id: 'vis-cx',
      volunteer: 'v-03',
      resident: 'r-001',
      at: `${dateOf(1)}T09:00`,
      durationMinutes: 60,
      activity: '理发',
    });
    await rig.visits.createVisit({
      id: 'vis-mv',
      volunteer: 'v-02',
      resident: 'r-002',
      at: `${dateOf(1)}T16:00`,
      durationMinutes: 60,
      activity: '买菜',
    });
    await rig.visits.runReminders();
    await rig.visits.cancelOccurrence('vis-cx', `${dateOf(1)}T09:00`);
    await rig.visits.reassignOccurrence('vis-mv', `${dateOf(1)}T16:00`, 'v-03');
    expect(await at(10, 55)).toBe(0);
    expect(await rig.text(V01, '到')).toBe('visit_check_in');
    await rig.visits.pauseVisit('vis-r2');
    expect(await at(18, 0)).toBe(0);
    const statuses = (await rig.visits.listOccurrences({ from: dateOf(1), to: dateOf(1) })).map((o) => `${o.visit} ${o.status}`);
    expect(statuses).toEqual(['vis-cx cancelled', 'vis-01 checked_in', 'vis-r2 cancelled', 'vis-mv missed']);
    expect(await missedTo(V02)).toEqual([]);
    expect(await missedTo(W01)).toEqual([]);
  });

  it('spares an occurrence under way when the visit is handed to someone else, and the leader of their own visit', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(1, 10)) });
    await rig.visits.createVisit({
      id: 'vis-lead',
      volunteer: 'v-02',
      resident: 'r-002',
      at: `${dateOf(1)}T14:00`,
      durationMinutes: 60,
      activity: '买菜',
    });
    rig.clock.set(onDay(1, 11, 10));
    await rig.visits.updateVisit('vis-01', { volunteer: 'v-03' });
    expect(await at(11, 40)).toBe(0);
    expect((await thursday())?.volunteer).toBe('v-03');
    // The leader misses her own visit: only the grid worker hears of it.
    expect(await at(14, 30)).toBe(1);
    expect(await missedTo(V02)).toEqual([]);
    expect((await missedTo(W01))[0]?.body).toContain('志愿者刘阿姨应于14:00到王淑珍家');
  });

  it('records a visit missed long ago during downtime without alerting anyone', async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(1, 10)) });
    await rig.visits.stop();
    rig.clock.set(onDay(1, 16));
    await rig.restart();
    expect((await thursday())?.status).toBe('missed');
    expect(await missedTo(V02)).toEqual([]);
    expect(await missedTo(W01)).toEqual([]);
  });
});
