// LiveFeed over a real SQLite store: bursts coalesce into few updates, the bus never waits, scoping and relays work.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Incident } from '../../gateway/core/types.js';
import type { Caller } from '../../gateway/access/caller.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import type { LiveClient } from '../../gateway/live/feed.js';
import { LiveFeed, staffInScope, type LiveEvents } from '../../gateway/live/feed.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { makeIncident, makePage } from '../helpers/http-fixture.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** A connected tab, as the feed sees it: records what it was sent. */
class RecordingClient implements LiveClient {
  readonly received: { event: string; data: unknown }[] = [];
  closed = false;
  constructor(readonly caller: Caller) {}
  send(event: string, data: unknown): boolean {
    if (this.closed) return false;
    this.received.push({ event, data });
    return true;
  }
  ping(): boolean {
    return !this.closed;
  }
  close(): void {
    this.closed = true;
  }
}

const T0 = Date.UTC(2026, 10, 26, 2, 0, 0);
const officer: Caller = { kind: 'session', name: 'officer', role: 'duty_officer' };

describe('LiveFeed', () => {
  let dir: { path: string; remove: () => void };
  let store: SqliteStore;
  let bus: EventBus<LiveEvents>;
  let feed: LiveFeed;
  let builds = 0;
  /** Incident reads made by the feed: a listener that did the work itself would read while the bus is emitting. */
  let reads = 0;
  /** Registry reads made by the feed to place a device's status change in its community. */
  let registryReads = 0;

  beforeEach(() => {
    dir = tempDir();
    store = openSqliteStore(join(dir.path, 'gateway.db'));
    bus = new EventBus<LiveEvents>(silentLogger());
    builds = 0;
    reads = 0;
    registryReads = 0;
    feed = new LiveFeed({
      bus,
      incidents: {
        get: (id: string) => {
          reads++;
          return store.incidents.get(id);
        },
      },
      registry: {
        getDevice: (id: string) => {
          registryReads++;
          return store.registry.getDevice(id);
        },
        getResident: (id: string) => {
          registryReads++;
          return store.registry.getResident(id);
        },
      },
      log: silentLogger(),
      views: {
        // The part of IncidentViews the feed needs: the incident with its pages, read from the store.
        liveView: async (incident: Incident): Promise<IncidentView> => {
          builds++;
          const pages = await store.sms.listForIncident(incident.id);
          return {
            ...incident,
            resident: incident.residentId,
            residentName: null,
            address: null,
            pages: pages.map((m) => ({
              id: m.id,
              to: m.to,
              role: m.role ?? '',
              name: null,
              step: m.step,
              purpose: m.purpose,
              status: m.status,
              createdAt: m.createdAt,
              sentAt: m.sentAt,
              updatedAt: m.updatedAt,
              errorCode: m.errorCode,
              attempts: m.attempts,
              retrying: false,
            })),
          };
        },
      },
    });
    feed.start();
  });

  afterEach(async () => {
    feed.stop();
    await store.close();
    dir.remove();
  });

  it('turns a burst of 200 delivery receipts into a few updates carrying the latest state, without holding the bus', async () => {
    const incident = makeIncident({ id: 'inc-1', openedAt: T0, state: 'open' });
    await store.incidents.create(incident);
    const page = makePage({ id: 'sms-1', incidentId: 'inc-1', createdAt: T0 });
    await store.sms.insert(page);
    const client = new RecordingClient(officer);
    feed.subscribe(client);

    for (let i = 0; i < 200; i++) bus.emit('smsStatusChanged', { ...page, status: i === 199 ? 'delivered' : 'sent' });
    // The listeners only enqueued: no read and no view build happened while the bus was emitting.
    expect(reads).toBe(0);
    expect(builds).toBe(0);
    await store.sms.update('sms-1', { status: 'delivered', at: T0 + 5 });

    const views = () => client.received.filter((e) => e.event === 'incident').map((e) => e.data as IncidentView);
    await waitFor('an incident update with the delivered page', () => views().at(-1)?.pages[0]?.status === 'delivered');
    expect(builds).toBeLessThanOrEqual(3);
    expect(views().length).toBeLessThanOrEqual(3);
  });

  it('sends incident events only to staff of that community, and relays further events by name', async () => {
    await store.incidents.create(makeIncident({ id: 'inc-2', openedAt: T0, state: 'open', communityId: 'xinhua' }));
    const andaliWorker = new RecordingClient({ kind: 'session', name: 'w', role: 'worker', community: 'andali', workerId: 'w-01' });
    const xinhuaWorker = new RecordingClient({ kind: 'session', name: 'q', role: 'worker', community: 'xinhua', workerId: 'w-09' });
    const volunteer = new RecordingClient({ kind: 'session', name: 'v', role: 'volunteer', volunteerId: 'v-01' });
    const admin = new RecordingClient({ kind: 'api_token', name: 'API', role: 'admin' });
    for (const c of [andaliWorker, xinhuaWorker, volunteer, admin]) feed.subscribe(c);
    const incident = await store.incidents.get('inc-2');
    if (!incident) throw new Error('no incident');
    bus.emit('incidentChanged', incident, {
      id: 1,
      incidentId: 'inc-2',
      at: T0,
      action: 'opened',
      actor: 'x',
      channel: 'device',
      detail: null,
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(xinhuaWorker.received.map((e) => e.event)).toEqual(['incident']);
    expect(admin.received.map((e) => e.event)).toEqual(['incident']);
    expect(andaliWorker.received).toEqual([]);
    expect(volunteer.received).toEqual([]);

    feed.relay('outageChanged', 'outage-test', (outage) => ({ data: { id: outage.id }, community: outage.place.communityId }));
    bus.emit(
      'outageChanged',
      {
        id: 'out-1',
        place: { kind: 'community', key: 'community:andali', communityId: 'andali', building: null },
        devices: [],
        openedAt: T0,
        closedAt: null,
        summary: null,
        page: null,
        updatedAt: T0,
      },
      'opened',
    );
    expect(andaliWorker.received.map((e) => e.event)).toEqual(['outage', 'outage-test']);
    expect(xinhuaWorker.received.map((e) => e.event)).toEqual(['incident']);
  });

  it('reads nothing to place device status changes while no dashboard watches (a reconnect storm), and places them once one does', async () => {
    for (let i = 0; i < 100; i++) bus.emit('deviceStatusChanged', { deviceId: `dev-${i}`, state: 'online', at: T0 + i });
    await new Promise((r) => setTimeout(r, 20));
    expect(registryReads).toBe(0);

    const admin = new RecordingClient({ kind: 'api_token', name: 'API', role: 'admin' });
    feed.subscribe(admin);
    bus.emit('deviceStatusChanged', { deviceId: 'dev-x', state: 'offline', at: T0 });
    await waitFor('the status change shown', () => admin.received.length === 1);
    expect(admin.received[0]).toEqual({ event: 'device', data: { deviceId: 'dev-x', state: 'offline', at: T0 } });
    expect(registryReads).toBeGreaterThan(0);
  });

  it('drops a client whose send fails, and closes every client on stop', () => {
    const gone = new RecordingClient(officer);
    const stays = new RecordingClient(officer);
    feed.subscribe(gone);
    feed.subscribe(stays);
    gone.closed = true;
    feed.publish('device', { data: { deviceId: 'd' }, community: null });
    expect(feed.clientCount()).toBe(1);
    feed.stop();
    expect(stays.closed).toBe(true);
    const late = new RecordingClient(officer);
    feed.subscribe(late);
    expect(late.closed).toBe(true);
  });

  it('scopes by role: a worker without a community sees nothing rather than everything', () => {
    const msg = { data: null, community: 'andali' };
    expect(staffInScope({ kind: 'session', name: 'w', role: 'worker' }, msg)).toBe(false);
    expect(staffInScope({ kind: 'session', name: 'o', role: 'duty_officer' }, msg)).toBe(true);
    expect(staffInScope({ kind: 'session', name: 'o', role: 'duty_officer', community: 'xinhua' }, msg)).toBe(false);
    expect(staffInScope({ kind: 'session', name: 'v', role: 'volunteer' }, { data: null, community: null })).toBe(false);
  });
});
