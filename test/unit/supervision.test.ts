// Supervision's pure parts: digest texts, the storm rule, places and grid-worker choice, digest slots, and the task table's one-open rule.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Resident, Worker } from '../../gateway/core/types.js';
import { smsLength } from '../../gateway/paging/messages.js';
import { demoText } from '../../gateway/notifiers/catalogue.js';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { CareDigest } from '../../gateway/supervision/digest.js';
import { StormWindow } from '../../gateway/supervision/device-index.js';
import { DIGEST_MAX_LENGTH, digestItemText, digestText, outageClosedText } from '../../gateway/supervision/messages.js';
import { buildingOf, buildingPlace, careWorker } from '../../gateway/supervision/places.js';
import { DEFAULT_SUPERVISION, type CareTask } from '../../gateway/supervision/types.js';

const resident = (over: Partial<Resident> = {}): Resident => ({
  id: 'r-1',
  name: '张桂兰',
  community: 'andali',
  address: '安达里3号楼2门401',
  family: [],
  location: { lat: 39.21, lon: 117.13 },
  ...over,
});
const worker = (id: string, lat: number, over: Partial<Worker> = {}): Worker => ({
  id,
  name: id,
  phone: '+8613900000001',
  community: 'andali',
  location: { lat, lon: 117.13 },
  shifts: [{ days: ['mon'], from: '08:00', to: '20:00' }],
  ...over,
});

describe('digest text', () => {
  it('names each kind shortly', () => {
    expect(digestItemText({ kind: 'device_offline', residentName: '张桂兰', deviceKind: 'fall_sensor', battery: null })).toBe(
      '张桂兰跌倒感应器离线',
    );
    expect(digestItemText({ kind: 'low_battery', residentName: '张桂兰', deviceKind: 'pull_cord', battery: 7 })).toBe('张桂兰拉绳电量低7%');
    expect(digestItemText({ kind: 'never_reported', residentName: '张桂兰', deviceKind: 'door_sensor', battery: null })).toBe(
      '张桂兰门磁装后未上线',
    );
    expect(digestItemText({ kind: 'wellness_check', residentName: '张桂兰', deviceKind: null, battery: null })).toBe('张桂兰需上门探望');
  });

  it('stays within two segments however many tasks and however long the names', () => {
    const long = {
      kind: 'device_offline' as const,
      residentName: '欧阳长孙慕容司马端木',
      deviceKind: 'presence_sensor' as const,
      battery: null,
    };
    const text = demoText(
      digestText(
        '欧阳长孙慕容',
        57,
        Array.from({ length: 57 }, () => long),
      ),
    );
    expect(smsLength(text)).toBeLessThanOrEqual(DIGEST_MAX_LENGTH);
    expect(text).toContain('您有57项待办');
    expect(demoText(digestText('李明', 1, [long]))).toBe('【照护待办】李明，您有1项待办：欧阳长孙慕容司马端木在位感应器离线。详见工作台。');
  });

  it('closes an outage in one line', () => {
    expect(demoText(outageClosedText('安达里3号楼', 30, 30, 12))).toBe('【设备恢复】安达里3号楼已恢复30台共30台，停线12分钟。');
  });
});

describe('storm rule', () => {
  const w = new StormWindow(DEFAULT_SUPERVISION);
  it('needs at least 5 devices and half of the place', () => {
    expect(w.isStorm(4, 4)).toBe(false);
    expect(w.isStorm(5, 5)).toBe(true);
    expect(w.isStorm(5, 11)).toBe(false);
    expect(w.isStorm(15, 30)).toBe(true);
    expect(w.isStorm(5, 0)).toBe(false);
  });

  it('counts drops within 120 s of each other, before or after', () => {
    const win = new StormWindow(DEFAULT_SUPERVISION);
    const place = buildingPlace(resident());
    win.drop(place, 'a', 1_000_000);
    win.drop(place, 'b', 1_100_000);
    win.drop(place, 'c', 1_130_000);
    expect(win.recent(place, 1_000_000).sort()).toEqual(['a', 'b']);
    expect(win.recent(place, 1_100_000).sort()).toEqual(['a', 'b', 'c']);
    win.forget(place, 'b');
    expect(win.recent(place, 1_100_000).sort()).toEqual(['a', 'c']);
  });
});

describe('places and grid worker', () => {
  it('takes the building from the registry or from the address', () => {
    expect(buildingOf(resident())).toBe('安达里3号楼');
    expect(buildingOf(resident({ building: '3号楼东' }))).toBe('3号楼东');
    expect(buildingPlace(resident()).key).toBe('building:andali:安达里3号楼');
  });

  it('assigns the nearest worker of the community who is on the roster', () => {
    const workers = [
      worker('w-far', 39.3),
      worker('w-near', 39.211),
      worker('w-none', 39.21, { shifts: [] }),
      worker('w-other', 39.21, { community: 'baiquanli' }),
    ];
    expect(careWorker(resident(), workers)?.id).toBe('w-near');
    expect(careWorker(resident(), [worker('w-none', 39.21, { shifts: [] })])?.id).toBe('w-none');
    expect(careWorker(resident({ community: 'nowhere' }), workers)).toBeNull();
  });
});

describe('digest slots', () => {
  it('finds the latest slot at or before now in the local zone, across midnight', () => {
    const store = openSqliteStore(':memory:');
    const clock = new ManualClock();
    const digest = new CareDigest({
      store,
      clock,
      log: silentLogger(),
      timeZone: 'Asia/Shanghai',
      sms: { enqueue: () => Promise.reject(new Error('no SMS here')) },
      triggers: 'manual',
    });
    // 2026-11-26 07:00 in Shanghai is 2026-11-25 23:00 UTC: the latest slot is the 25th's 17:30.
    const slot = digest.latestSlot(Date.UTC(2026, 10, 25, 23, 0));
    expect(slot).toMatchObject({ day: { year: 2026, month: 11, day: 25 }, time: '17:30', at: Date.UTC(2026, 10, 25, 9, 30) });
    expect(digest.latestSlot(Date.UTC(2026, 10, 26, 0, 30))?.time).toBe('08:30');
    void store.close();
  });
});

describe('care task table', () => {
  it('keeps one open task per kind, resident and device (none for a wellness check), and closes once', async () => {
    const store = openSqliteStore(':memory:');
    const task = (id: string, over: Partial<CareTask> = {}): CareTask => ({
      id,
      kind: 'wellness_check',
      state: 'open',
      residentId: 'r-1',
      deviceId: null,
      communityId: 'andali',
      workerId: 'w-1',
      detail: null,
      openedAt: 1,
      closedAt: null,
      closedBy: null,
      closeReason: null,
      closeNote: null,
      updatedAt: 1,
      ...over,
    });
    expect(await store.supervision.insertTask(task('t1'))).toBe(true);
    expect(await store.supervision.insertTask(task('t2'))).toBe(false);
    expect(await store.supervision.insertTask(task('t3', { kind: 'low_battery', deviceId: 'd-1' }))).toBe(true);
    expect(await store.supervision.insertTask(task('t4', { kind: 'low_battery', deviceId: 'd-2' }))).toBe(true);
    expect(await store.supervision.closeTask('t1', { at: 5, by: 'me', reason: 'closed by hand', note: 'ok' })).toMatchObject({
      state: 'closed',
      closedAt: 5,
      closedBy: 'me',
    });
    expect(await store.supervision.closeTask('t1', { at: 6, by: 'me', reason: 'again', note: null })).toBeNull();
    expect(await store.supervision.insertTask(task('t5'))).toBe(true);
    expect((await store.supervision.listOpenTasks()).map((t) => t.id).sort()).toEqual(['t3', 't4', 't5']);
    await store.close();
  });
});

describe('registry careDigest', () => {
  it('accepts local times and refuses others, naming the path', async () => {
    const { validateRegistry } = await import('../../gateway/registry/load.js');
    expect(validateRegistry({ careDigest: { times: ['8:30', '17:30'] } }).careDigest?.times).toEqual(['08:30', '17:30']);
    expect(() => validateRegistry({ careDigest: { times: ['25:00'] } })).toThrow(/careDigest\.times\[0\]/);
    expect(() => validateRegistry({ careDigest: { times: [] } })).toThrow(/careDigest\.times/);
  });
});
