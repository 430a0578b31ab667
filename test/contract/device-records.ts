// Store contract, what devices leave behind: health records, security events, the inactivity monitor's state, bridge levels, test windows.
import { describe, expect, it } from 'vitest';
import type { DeviceHealth } from '../../gateway/core/types.js';
import type { Store } from '../../gateway/storage/ports.js';
import type { TestWindow } from '../../gateway/test-presses/types.js';
import type { WellnessState } from '../../gateway/wellness/repo.js';
import { event, MIN, T0 } from './fixtures.js';

function health(deviceId: string, over: Partial<DeviceHealth> = {}): DeviceHealth {
  return {
    deviceId,
    state: 'online',
    lastSeen: T0,
    battery: 80,
    rssi: -60,
    lastStatusAt: T0,
    remoteAddress: '10.0.0.5',
    lastRejection: null,
    rejectedCount: 0,
    ...over,
  };
}

function wellness(residentId: string, over: Partial<WellnessState> = {}): WellnessState {
  return {
    residentId,
    lastSignAt: T0,
    lastSignSource: 'motion',
    inactiveMs: 0,
    countedUntil: T0,
    taskOpenedAt: null,
    pagedAt: null,
    ...over,
  };
}

function testWindow(id: string, over: Partial<TestWindow> = {}): TestWindow {
  return {
    id,
    scope: { kind: 'device', deviceId: 'btn-1' },
    communityId: 'andali',
    startedAt: T0,
    endsAt: T0 + 30 * MIN,
    startedBy: 'u-1',
    endedAt: null,
    endedBy: null,
    endReason: null,
    note: null,
    ...over,
  };
}

/** The cases run against `store()`, a fresh store holding SNAPSHOT. */
export function deviceRecordsContract(store: () => Store): void {
  describe('device health', () => {
    it('keeps one record per device, the last save winning, with its last rejection', async () => {
      expect(await store().health.get('btn-1')).toBeNull();
      await store().health.save([health('btn-1'), health('fall-1', { state: 'offline' })]);
      const rejected = { reason: 'malformed_json' as const, detail: 'Unexpected token', at: T0 + MIN };
      await store().health.save([health('btn-1', { battery: 15, lastRejection: rejected, rejectedCount: 1 })]);
      expect(await store().health.get('btn-1')).toEqual(health('btn-1', { battery: 15, lastRejection: rejected, rejectedCount: 1 }));
      expect((await store().health.list()).map((h) => [h.deviceId, h.state]).sort()).toEqual([
        ['btn-1', 'online'],
        ['fall-1', 'offline'],
      ]);
    });

    it('keeps the newest last_seen whichever node flushes last: an older record never overwrites a newer one', async () => {
      // Node B heard the device a minute after node A; A's flush of its older view arrives second, in its own batch and
      // in a batch of B's with another device.
      await store().health.save([health('btn-1', { lastSeen: T0 + MIN, battery: 70, remoteAddress: '10.0.0.9' })]);
      await store().health.save([health('btn-1', { lastSeen: T0, battery: 90, state: 'offline' }), health('fall-1')]);
      expect(await store().health.get('btn-1')).toEqual(health('btn-1', { lastSeen: T0 + MIN, battery: 70, remoteAddress: '10.0.0.9' }));
      expect(await store().health.get('fall-1')).toEqual(health('fall-1'));
      // The same last message with a new state (the offline timeout) is written; a newer message is written.
      await store().health.save([health('btn-1', { lastSeen: T0 + MIN, battery: 70, remoteAddress: '10.0.0.9', state: 'offline' })]);
      expect((await store().health.get('btn-1'))?.state).toBe('offline');
      await store().health.save([health('btn-1', { lastSeen: T0 + 2 * MIN, battery: 65 })]);
      expect(await store().health.get('btn-1')).toEqual(health('btn-1', { lastSeen: T0 + 2 * MIN, battery: 65 }));
      // A device never heard (no last_seen) cannot overwrite one that was.
      await store().health.save([health('btn-1', { lastSeen: null, state: 'unknown' })]);
      expect((await store().health.get('btn-1'))?.lastSeen).toBe(T0 + 2 * MIN);
    });
  });

  describe('security events', () => {
    it('lists the newest first, up to the limit', async () => {
      for (const [i, kind] of (['auth_failed', 'publish_denied', 'client_id_mismatch'] as const).entries()) {
        await store().security.record({
          kind,
          at: T0 + i,
          deviceId: 'btn-1',
          clientId: 'btn-1',
          remoteAddress: '10.0.0.5',
          detail: `#${i}`,
        });
      }
      expect((await store().security.list(2)).map((e) => [e.kind, e.detail])).toEqual([
        ['client_id_mismatch', '#2'],
        ['publish_denied', '#1'],
      ]);
    });
  });

  describe('inactivity monitor state', () => {
    it('saves the states with the event cursor, removes residents, and starts with no cursor', async () => {
      expect(await store().wellness.eventCursor()).toBeNull();
      await store().wellness.save([wellness('r-1'), wellness('r-2', { inactiveMs: 3_600_000 })], 41);
      await store().wellness.save([wellness('r-1', { inactiveMs: 60_000, countedUntil: T0 + MIN })], null);
      expect(await store().wellness.eventCursor()).toBe(41);
      await store().wellness.remove(['r-2']);
      expect(await store().wellness.list()).toEqual([wellness('r-1', { inactiveMs: 60_000, countedUntil: T0 + MIN })]);
    });

    it('finds each resident’s newest sign of life after the cursor, among the wanted event types only', async () => {
      expect(await store().wellness.lastEventId()).toBe(0);
      const { ids } = await store().events.recordBatch(
        [
          event(1, { deviceId: 'btn-1', type: 'sos', receivedAt: T0 }),
          event(2, { deviceId: 'fall-1', type: 'motion', receivedAt: T0 + MIN }),
          event(3, { deviceId: 'btn-3', type: 'heartbeat', receivedAt: T0 + 2 * MIN }),
          event(4, { deviceId: 'btn-1', type: 'motion', receivedAt: T0 + 3 * MIN }),
        ],
        0,
      );
      const [first] = ids as number[];
      const last = Math.max(...(ids as number[]));
      expect(await store().wellness.lastEventId()).toBe(last);
      const { signs, lastEventId } = await store().wellness.signsAfter(first as number, ['motion', 'sos']);
      expect(lastEventId).toBe(last);
      expect(signs).toEqual([{ residentId: 'r-1', type: 'motion', receivedAt: T0 + 3 * MIN }]);
      expect((await store().wellness.signsAfter(last, ['motion'])).signs).toEqual([]);
    });
  });

  describe('bridge levels', () => {
    it('keeps the last level per device and field', async () => {
      await store().bridgeLevels.saveLevel({ deviceId: 'btn-1', field: 'occupancy', value: 'true' }, T0);
      await store().bridgeLevels.saveLevel({ deviceId: 'btn-1', field: 'occupancy', value: 'false' }, T0 + 1);
      await store().bridgeLevels.saveLevel({ deviceId: 'btn-1', field: 'sos', value: 'false' }, T0 + 1);
      const levels = await store().bridgeLevels.listLevels();
      expect([...levels].sort((a, b) => a.field.localeCompare(b.field))).toEqual([
        { deviceId: 'btn-1', field: 'occupancy', value: 'false' },
        { deviceId: 'btn-1', field: 'sos', value: 'false' },
      ]);
    });
  });

  describe('session starts', () => {
    it('returns the previous start of a device and keeps the newest, per device', async () => {
      const starts = store().sessionStarts;
      expect(await starts.swapStart('btn-1', T0)).toBeNull();
      expect(await starts.swapStart('btn-1', T0 + MIN)).toBe(T0);
      expect(await starts.swapStart('fall-1', T0 + 2 * MIN)).toBeNull();
      // A start reported late (another node's, older) does not replace the newer one.
      expect(await starts.swapStart('btn-1', T0 + 30_000)).toBe(T0 + MIN);
      expect(await starts.swapStart('btn-1', T0 + 3 * MIN)).toBe(T0 + MIN);
    });
  });

  describe('test windows', () => {
    it('finds the window in force for a device or its building, counting an ended window for presses inside it', async () => {
      await store().testPresses.insertWindow(testWindow('tw-dev'));
      const building = { kind: 'building' as const, communityId: 'andali', building: '3号楼' };
      await store().testPresses.insertWindow(testWindow('tw-bld', { scope: building, startedAt: T0 + 40 * MIN, endsAt: T0 + 70 * MIN }));
      expect((await store().testPresses.windowAt('btn-1', 'andali', '3号楼', T0 + MIN))?.id).toBe('tw-dev');
      expect((await store().testPresses.windowAt('fall-1', 'andali', '3号楼', T0 + 45 * MIN))?.id).toBe('tw-bld');
      expect(await store().testPresses.windowAt('fall-1', 'andali', '5号楼', T0 + 45 * MIN)).toBeNull();
      expect(await store().testPresses.windowAt('btn-1', 'andali', null, T0 + 31 * MIN)).toBeNull();

      expect(await store().testPresses.endWindow('tw-dev', T0 + 10 * MIN, 'u-1', 'ended_by_hand')).toMatchObject({
        endedAt: T0 + 10 * MIN,
        endReason: 'ended_by_hand',
      });
      expect(await store().testPresses.endWindow('tw-dev', T0 + 11 * MIN, 'u-1', 'ended_by_hand')).toBeNull();
      // A press replayed after a crash still belongs to the window it was made in; one after the end does not.
      expect((await store().testPresses.windowAt('btn-1', 'andali', null, T0 + 5 * MIN))?.id).toBe('tw-dev');
      expect(await store().testPresses.windowAt('btn-1', 'andali', null, T0 + 15 * MIN)).toBeNull();
      expect((await store().testPresses.listRunning()).map((w) => w.id)).toEqual(['tw-bld']);
    });
  });
}
