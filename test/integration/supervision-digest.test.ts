// The care-task digest: one short SMS per worker with open tasks at each slot, never twice for a slot across restarts, catch-up within 3 h.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { smsLength } from '../../gateway/paging/messages.js';
import { DIGEST_MAX_LENGTH } from '../../gateway/supervision/messages.js';
import { B3, B5, W01, W02, WB1, thursday, registryDoc, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';

describe('care-task digest', () => {
  let rig: SupervisionGateway | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  const openTasks = async (r: SupervisionGateway) => {
    const at = r.clock.now();
    const t = r.supervision.tasks;
    await t.open({ kind: 'device_offline', residentId: `r-${B3[0]}`, deviceId: B3[0] }, at);
    await t.open({ kind: 'low_battery', residentId: `r-${B3[1]}`, deviceId: B3[1], detail: { battery: 12 } }, at + 1);
    await t.open({ kind: 'never_reported', residentId: `r-${B3[2]}`, deviceId: B3[2] }, at + 2);
    // The inactivity detector's kind, through the same sink: no device.
    await t.open({ kind: 'wellness_check', residentId: `r-${B3[3]}`, detail: { hours: 14 } }, at + 3);
    await t.open({ kind: 'low_battery', residentId: `r-${B5[0]}`, deviceId: B5[0], detail: { battery: 9 } }, at);
    // Opened twice: still one task. Closed before the slot: not listed.
    await t.open({ kind: 'device_offline', residentId: `r-${B3[0]}`, deviceId: B3[0] }, at + 5);
    await t.open({ kind: 'device_offline', residentId: `r-${B5[1]}`, deviceId: B5[1] }, at);
    await t.clear('device_offline', `r-${B5[1]}`, B5[1], 'device back online', at + 10);
  };

  it('sends each worker with open tasks one short SMS at 08:30, nothing to a worker without tasks, and never twice for the slot across a restart', async () => {
    rig = await startSupervisionGateway({ clock: new ManualClock(thursday(7, 0)) });
    // At start, yesterday's 17:30 slot is 13.5 h old: not caught up.
    expect(await rig.store.sms.list(100)).toEqual([]);
    await openTasks(rig);
    expect(await rig.store.supervision.listOpenTasks()).toHaveLength(5);

    rig.clock.set(thursday(8, 29));
    expect(await rig.supervision.digest.runDue()).toBe(0);
    rig.clock.set(thursday(8, 30));
    expect(await rig.supervision.digest.runDue()).toBe(2);

    const [toW01, ...moreW01] = await rig.smsTo(W01);
    expect(moreW01).toEqual([]);
    // A person to see first, then the silent fixture, then the one never installed right; the count says there are 4.
    expect(toW01?.body).toBe(
      '【照护待办】李明，您有4项待办：居民3-04需上门探望；居民3-01求助按钮离线；居民3-03求助按钮装后未上线等。详见工作台。',
    );
    expect(toW01).toMatchObject({ purpose: 'digest', role: 'worker', personId: 'w-01', context: null, incidentId: null });
    expect(smsLength(toW01?.body ?? '')).toBeLessThanOrEqual(DIGEST_MAX_LENGTH);
    expect((await rig.smsTo(W02)).map((m) => m.body)).toEqual(['【照护待办】赵强，您有1项待办：居民5-01求助按钮电量低9%。详见工作台。']);
    expect(await rig.smsTo(WB1)).toEqual([]);

    // node-cron firing again, or a restart within the catch-up window: the slot already ran.
    rig.clock.set(thursday(8, 31));
    expect(await rig.supervision.digest.runDue()).toBe(0);
    rig.clock.set(thursday(8, 40));
    await rig.restart();
    expect(await rig.supervision.digest.runDue()).toBe(0);
    expect(await rig.smsTo(W01)).toHaveLength(1);

    // The evening slot is a new slot. By then the devices that never reported have tasks too, so 拜泉里's worker gets one.
    rig.clock.set(thursday(17, 30));
    await rig.settle();
    expect(await rig.supervision.digest.runDue()).toBe(3);
    expect(await rig.smsTo(W01)).toHaveLength(2);
    expect((await rig.smsTo(WB1)).map((m) => m.body)).toEqual([
      '【照护待办】孙红，您有2项待办：居民q-01求助按钮装后未上线；居民q-02求助按钮装后未上线。详见工作台。',
    ]);
  });

  it('catches up a slot missed while down if it is less than 3 hours old, and not later', async () => {
    rig = await startSupervisionGateway({ clock: new ManualClock(thursday(8, 0)) });
    await openTasks(rig);
    await rig.supervision.stop();
    // Down over 08:30; back at 10:15: the morning list still plans the day.
    rig.clock.set(thursday(10, 15));
    await rig.restart();
    expect((await rig.smsTo(W01, 'digest')).length).toBe(1);
    // Down over 17:30; back at 20:45: too late, the next list is tomorrow's 08:30.
    await rig.supervision.stop();
    rig.clock.set(thursday(20, 45));
    await rig.restart();
    expect((await rig.smsTo(W01, 'digest')).length).toBe(1);
    rig.clock.set(thursday(8, 30, 1));
    await rig.settle();
    expect(await rig.supervision.digest.runDue()).toBe(3);
  });

  it('takes its times from the registry careDigest and schedules them with node-cron in the local zone', async () => {
    rig = await startSupervisionGateway({
      clock: new ManualClock(thursday(6, 0)),
      registry: registryDoc({ careDigest: { times: ['7:15', '19:00'] } }),
      jobs: 'cron',
    });
    expect(rig.supervision.digest.digestTimes()).toEqual(['07:15', '19:00']);
    expect(rig.supervision.digest.cronPatterns()).toEqual(['15 7 * * *', '0 19 * * *']);
    await openTasks(rig);
    rig.clock.set(thursday(7, 15));
    expect(await rig.supervision.digest.runDue()).toBe(2);
  });
});
