// Device supervision over a real broker: offline by timeout and by will, never-reported devices, low battery, and their care tasks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CareTask } from '../../gateway/supervision/types.js';
import { B3, B5, BQ, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';

const MIN = 60_000;

describe('device supervision', () => {
  let rig: SupervisionGateway;
  const changes: [string, string, string][] = [];

  beforeEach(async () => {
    rig = await startSupervisionGateway();
    changes.length = 0;
    rig.bus.on({}, 'taskChanged', (t: CareTask, what) => void changes.push([t.kind, t.deviceId ?? '', what]));
  });
  afterEach(async () => {
    await rig.close();
  });

  const tasksOf = async (deviceId: string, state?: 'open' | 'closed') =>
    (await rig.store.supervision.listTasks(state ? { state } : {})).filter((t) => t.deviceId === deviceId);

  it('marks a silent device offline after offlineAfterSeconds, opens a task after the storm window, and closes it when the device speaks', async () => {
    const c = await rig.online(B5[0]!);
    await rig.publish(c, 'telemetry', JSON.stringify({ battery: 80, rssi: -60 }));
    await rig.settle();
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('online');

    // Still connected, but silent: 14 minutes is not enough.
    await rig.advance(14 * MIN);
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('online');
    // Past 900 s (one sweep interval late at most), the sweep marks it offline.
    await rig.advance(2 * MIN);
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('offline');
    expect(await tasksOf(B5[0]!)).toEqual([]);
    // The device-offline task waits out the storm window (120 s), then opens for the resident's grid worker.
    await rig.advance(2.5 * MIN);
    const [task] = await tasksOf(B5[0]!, 'open');
    expect(task).toMatchObject({ kind: 'device_offline', residentId: `r-${B5[0]}`, communityId: 'andali', workerId: 'w-02' });

    // Any message brings it back and closes the task by itself.
    await rig.publish(c, 'event', JSON.stringify({ type: 'heartbeat', seq: 1 }));
    await rig.settle();
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('online');
    const [closed] = await tasksOf(B5[0]!, 'closed');
    expect(closed).toMatchObject({ id: task?.id, closedBy: 'system', closeReason: 'device back online' });
    expect(changes.filter(([, device]) => device === B5[0])).toEqual([
      ['device_offline', B5[0], 'opened'],
      ['device_offline', B5[0], 'closed'],
    ]);
  });

  it('takes offline from the will, and a device back before the storm window ends gets no task at all', async () => {
    const c = await rig.online(B5[1]!);
    rig.drop(c);
    await rig.settle();
    expect(rig.ingest.healthOf(B5[1]!)?.state).toBe('offline');
    await rig.advance(1 * MIN);
    const again = await rig.online(B5[1]!);
    await rig.settle();
    expect(rig.ingest.healthOf(B5[1]!)?.state).toBe('online');
    await rig.advance(3 * MIN);
    expect(await tasksOf(B5[1]!)).toEqual([]);

    // Dropped for good: a task once the window has passed, and just one however long it stays down.
    rig.drop(again);
    await rig.settle();
    await rig.advance(30 * MIN);
    expect((await tasksOf(B5[1]!)).map((t) => [t.kind, t.state])).toEqual([['device_offline', 'open']]);
  });

  it('gives a device that never reported a never_reported task (and no offline task), closed by its first message', async () => {
    // Only BQ[1] ever reports; every other device stays silent from the moment the gateway first knew it.
    await rig.online(BQ[1]!);
    await rig.advance(14 * MIN);
    expect(await rig.store.supervision.listOpenTasks()).toEqual([]);
    await rig.advance(2 * MIN);
    const open = await rig.store.supervision.listOpenTasks();
    const never = open.filter((t) => t.kind === 'never_reported').map((t) => t.deviceId);
    expect(never).toContain(BQ[0]);
    expect(never).not.toContain(BQ[1]);
    expect(never).toHaveLength(B3.length + B5.length + 1);
    expect(open.filter((t) => t.kind === 'device_offline')).toEqual([]);
    const task = open.find((t) => t.deviceId === BQ[0]);
    expect(task).toMatchObject({ communityId: 'baiquanli', workerId: 'w-b1' });
    expect(rig.ingest.healthOf(BQ[0]!)?.state).toBe('offline');
    // A fleet that never reported is no storm: nothing dropped that had ever been up.
    expect(await rig.store.supervision.listOutages({})).toEqual([]);

    await rig.online(BQ[0]!);
    await rig.settle();
    expect(await tasksOf(BQ[0]!, 'closed')).toMatchObject([{ kind: 'never_reported', closeReason: 'first message received' }]);
  });

  it('opens a low-battery task from telemetry below 20 % or a low_battery event, and closes it once a fresh battery reads 50 % or more', async () => {
    const a = await rig.online(B5[2]!);
    const b = await rig.online(B5[3]!);
    await rig.publish(a, 'telemetry', JSON.stringify({ battery: 25 }));
    await rig.settle();
    expect(await tasksOf(B5[2]!)).toEqual([]);
    await rig.publish(a, 'telemetry', JSON.stringify({ battery: 15 }));
    await rig.publish(a, 'telemetry', JSON.stringify({ battery: 14 }));
    await rig.publish(b, 'event', JSON.stringify({ type: 'low_battery', seq: 7, battery: 22 }));
    await rig.settle();
    expect((await tasksOf(B5[2]!, 'open')).map((t) => [t.kind, t.detail?.battery])).toEqual([['low_battery', 15]]);
    expect((await tasksOf(B5[3]!, 'open')).map((t) => [t.kind, t.detail?.battery])).toEqual([['low_battery', 22]]);

    // 30 % is a tired battery warming up, not a replaced one: the task stays.
    await rig.publish(a, 'telemetry', JSON.stringify({ battery: 30 }));
    await rig.settle();
    expect(await tasksOf(B5[2]!, 'open')).toHaveLength(1);
    await rig.publish(a, 'telemetry', JSON.stringify({ battery: 98 }));
    await rig.publish(b, 'event', JSON.stringify({ type: 'heartbeat', seq: 8, battery: 100 }));
    await rig.settle();
    expect(await rig.store.supervision.listOpenTasks()).toEqual([]);
    expect((await tasksOf(B5[2]!, 'closed'))[0]).toMatchObject({ closeReason: 'battery replaced', closedBy: 'system' });
  });

  it('closes a low-battery task when the fresh reading comes in the same turn as the low one, before the task is even open', async () => {
    await rig.online(B5[2]!);
    await rig.settle();
    // Two readings of one socket read are handled in one turn (telemetry takes no promise): the second must wait for the
    // first one's open, not be skipped because no task is open yet.
    const at = rig.clock.now();
    rig.bus.emit('telemetryReceived', { deviceId: B5[2]!, battery: 10, rssi: null, at, payload: { battery: 10 } });
    rig.bus.emit('telemetryReceived', { deviceId: B5[2]!, battery: 90, rssi: null, at, payload: { battery: 90 } });
    await rig.settle();
    expect((await tasksOf(B5[2]!)).map((t) => [t.kind, t.detail?.battery, t.closeReason])).toEqual([
      ['low_battery', 10, 'battery replaced'],
    ]);
    // Everyday readings in between open and close nothing, and a fresh one with no task open changes nothing.
    for (const battery of [35, 60, 100])
      rig.bus.emit('telemetryReceived', { deviceId: B5[2]!, battery, rssi: null, at, payload: { battery } });
    await rig.settle();
    expect(await tasksOf(B5[2]!)).toHaveLength(1);
  });

  it('does not mark the fleet offline after a gateway restart: silence is counted from the start', async () => {
    const c = await rig.online(B5[0]!);
    await rig.settle();
    await rig.supervision.stop();
    c.end(true);
    // The gateway was "down" for an hour; the device's last message is older than 900 s.
    rig.clock.advance(60 * MIN);
    await rig.restart();
    await rig.advance(2 * MIN);
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('online');
    await rig.advance(14 * MIN);
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('offline');
  });
});
