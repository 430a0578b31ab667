// Two gateway nodes on one PostgreSQL: the live feed crosses nodes, scheduled slots and supervision sweeps run once, health keeps the newest.
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { DeviceHealth } from '../../gateway/core/types.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { DIGEST_JOB } from '../../gateway/supervision/digest.js';
import { API_TOKEN, connectDevice, connectOnlineDevice, type TestGateway, type TestGatewayOptions } from '../helpers/gateway.js';
import { postgresNodes } from '../helpers/cluster-nodes.js';
import { queryRows } from '../helpers/postgres.js';
import { SseReader } from '../helpers/sse.js';
import { B3, BQ, registryDoc, secretOf, thursday, W01 } from '../helpers/supervision.js';
import { waitFor } from '../helpers/wait.js';

const MINUTE = 60_000;

describe('two gateway nodes on one PostgreSQL', () => {
  const cluster = postgresNodes();
  const { clients, readers } = cluster;

  /** Node A and node B on one schema: they share every row, as nodes behind one load balancer do. */
  async function twoNodes(opts: TestGatewayOptions = {}, url?: string): Promise<[TestGateway<Gateway>, TestGateway<Gateway>]> {
    const databaseUrl = url ?? (await cluster.postgres.freshUrl());
    const a = await cluster.start(databaseUrl, 'node-a', opts);
    const b = await cluster.start(databaseUrl, 'node-b', opts);
    return [a, b];
  }

  const stream = async (g: TestGateway<Gateway>): Promise<SseReader> => {
    const reader = await SseReader.open(`${g.httpUrl}/api/stream`, { authorization: `Bearer ${API_TOKEN}` });
    readers.push(reader);
    await waitFor('the stream subscribed', () => g.gateway.live.clientCount() >= 1);
    return reader;
  };

  it('shows an SOS and a device status recorded through node A on a dashboard stream opened on node B, each once', async () => {
    const [a, b] = await twoNodes();
    const onB = await stream(b);
    const onA = await stream(a);

    const button = await connectDevice(a.mqttUrl, 'btn-001', 's3cret-btn-001');
    clients.push(button);
    await button.publishAsync('care/v1/btn-001/status', 'online', { qos: 1 });
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });

    // Node B read the incident from the database and built the same view its own API would show.
    const seen = await onB.waitFor<IncidentView>('incident', (v) => v.resident === 'r-001' && v.state === 'open');
    expect(seen.residentName).toBe('张桂兰');
    const own = await b.gateway.httpApp?.inject({ url: `/api/incidents/${seen.id}`, headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(own?.json<{ id: string }>().id).toBe(seen.id);
    await onB.waitFor<{ deviceId: string; state: string }>('device', (d) => d.deviceId === 'btn-001' && d.state === 'online');
    await onA.waitFor<{ deviceId: string; state: string }>('device', (d) => d.deviceId === 'btn-001' && d.state === 'online');

    // Node A's own notices come back to it on the channel; it must not show them a second time.
    await new Promise((r) => setTimeout(r, 300));
    const onlineOn = (r: SseReader) => r.data<{ deviceId: string; state: string }>('device').filter((d) => d.deviceId === 'btn-001');
    expect(onlineOn(onA)).toHaveLength(1);
    expect(onlineOn(onB)).toHaveLength(1);
  });

  it('sends a care digest slot run on both nodes at once from one node, to each worker once', async () => {
    const clock = new ManualClock(thursday(7, 0));
    const url = await cluster.postgres.freshUrl();
    const [a, b] = await twoNodes({ clock, registry: registryDoc(), jobs: 'manual', twilio: false }, url);
    await a.gateway.supervision.tasks.open(
      { kind: 'low_battery', residentId: 'r-btn-q-01', deviceId: 'btn-q-01', detail: { battery: 9 } },
      clock.now(),
    );
    await a.gateway.supervision.tasks.open(
      { kind: 'low_battery', residentId: 'r-btn-3-01', deviceId: 'btn-3-01', detail: { battery: 8 } },
      clock.now(),
    );
    clock.set(thursday(8, 31));

    const sent = await Promise.all([a.gateway.supervision.digest.runDue(), b.gateway.supervision.digest.runDue()]);
    // One node ran the slot (two workers have tasks); the other found it taken or done and sent nothing.
    expect([...sent].sort()).toEqual([0, 2]);
    const digests = await queryRows<{ person_id: string }>(
      url,
      "SELECT person_id FROM sms_messages WHERE purpose = 'digest' ORDER BY person_id",
    );
    expect(digests.map((d) => d.person_id)).toEqual(['w-01', 'w-b1']);
    const slot = await (a.gateway.store as PostgresStore).jobSlots.get(DIGEST_JOB, thursday(8, 30));
    expect(slot?.node).toBe(sent[0] === 2 ? 'node-a' : 'node-b');

    // A later trigger of the same slot (a restart's catch-up, the other node's retry) sends nothing more.
    expect(await b.gateway.supervision.digest.runDue()).toBe(0);
    expect(await a.gateway.supervision.digest.runDue()).toBe(0);
  });

  it('sweeps silent devices on one node per round: one outage paged for a building, one task per lone device, none for those the outage holds', async () => {
    const T0 = thursday(10, 0);
    const url = await cluster.postgres.freshUrl();
    // Last heard before both nodes started: all of 3号楼 (a storm) and the two buttons of 拜泉里 (too few for one).
    const seed = await openPostgresStore(url);
    await seed.prepare();
    const heard = (deviceId: string): DeviceHealth => ({
      deviceId,
      state: 'online',
      lastSeen: T0 - MINUTE,
      battery: 90,
      rssi: null,
      lastStatusAt: T0 - MINUTE,
      remoteAddress: null,
      lastRejection: null,
      rejectedCount: 0,
    });
    await seed.health.save([...B3, ...BQ].map(heard));
    await seed.close();

    const clock = new ManualClock(T0);
    const [a, b] = await twoNodes({ clock, registry: registryDoc(), jobs: 'manual', twilio: false }, url);
    const idle = () => Promise.all([a.gateway.supervision.idle(), b.gateway.supervision.idle()]);
    // Both nodes' sweep timers fire on the shared clock; each round also the two sweep at once by hand.
    for (let m = 0; m < 20; m++) {
      clock.advance(MINUTE);
      await Promise.all([a.gateway.supervision.supervisor.sweep(), b.gateway.supervision.supervisor.sweep()]);
      await idle();
    }

    const outages = await a.gateway.store.supervision.listOutages({ state: 'open' });
    expect(outages.map((o) => [o.place.kind, o.place.building, o.devices.length])).toEqual([['building', '安达里3号楼', 30]]);
    const pages = await queryRows<{ to_phone: string }>(url, "SELECT to_phone FROM sms_messages WHERE purpose = 'outage'");
    expect(pages).toEqual([{ to_phone: W01 }]);
    const tasks = await a.gateway.store.supervision.listOpenTasks();
    const offline = tasks.filter((t) => t.kind === 'device_offline').map((t) => t.deviceId);
    expect(offline.sort()).toEqual([...BQ].sort());
    // Both nodes know the outage and hold its devices: a 3号楼 button coming back on either closes nothing twice.
    await b.gateway.supervision.outages.resync();
    expect(b.gateway.supervision.outages.isAbsorbed(B3[0] ?? '')).toBe(true);
  });

  it('does not let a node mark offline a device that moved to the other node, and keeps its newest health whichever flushes last', async () => {
    const clock = new ManualClock(thursday(10, 0));
    const [a, b] = await twoNodes({ clock, registry: registryDoc(), jobs: 'manual', twilio: false, edge: { healthFlushMs: 60 * MINUTE } });
    const id = BQ[0] ?? '';
    const onA = await connectDevice(a.mqttUrl, id, secretOf(id));
    await onA.publishAsync(`care/v1/${id}/status`, 'online', { qos: 1 });
    await onA.endAsync();

    clock.advance(10 * MINUTE);
    // The device now speaks to node B; node B writes first, node A last (its older view, unless B's notice came first).
    const onB = await connectDevice(b.mqttUrl, id, secretOf(id));
    clients.push(onB);
    await onB.publishAsync(`care/v1/${id}/status`, 'online', { qos: 1 });
    const heardOnB = clock.now();
    await b.gateway.ingest.flush();
    await a.gateway.ingest.flush();
    expect((await a.gateway.store.health.get(id))?.lastSeen).toBe(heardOnB);

    // Sixteen minutes after node A last heard it, six after node B did: whichever node sweeps, it is not silent.
    clock.advance(6 * MINUTE);
    await Promise.all([a.gateway.supervision.supervisor.sweep(), b.gateway.supervision.supervisor.sweep()]);
    await Promise.all([a.gateway.supervision.idle(), b.gateway.supervision.idle()]);
    expect(b.gateway.ingest.healthOf(id)?.state).toBe('online');
    expect(a.gateway.ingest.healthOf(id)).toMatchObject({ state: 'online', lastSeen: heardOnB });
    expect(await a.gateway.store.health.get(id)).toMatchObject({ state: 'online', lastSeen: heardOnB });
    expect((await a.gateway.store.supervision.listOpenTasks()).filter((t) => t.deviceId === id)).toEqual([]);
  });

  it('takes the other node’s status notice: a will after a short session here no longer shows the device offline once it is online there', async () => {
    const clock = new ManualClock(thursday(10, 0));
    // No flush and no sweep during the test: only the live-feed notice can carry node A's news to node B.
    const [a, b] = await twoNodes({ clock, registry: registryDoc(), jobs: 'manual', twilio: false, edge: { healthFlushMs: 60 * MINUTE } });
    const id = BQ[1] ?? '';
    const shortOnB = await connectOnlineDevice(b.mqttUrl, id, secretOf(id));
    await waitFor('node B has the device online', () => b.gateway.ingest.healthOf(id)?.state === 'online');
    // The connection dies without a DISCONNECT (a node failover, a 4G gap): node B publishes its will.
    shortOnB.stream.destroy();
    await waitFor('node B marks it offline from its will', () => b.gateway.ingest.healthOf(id)?.state === 'offline');
    await shortOnB.endAsync(true);

    clock.advance(MINUTE);
    clients.push(await connectOnlineDevice(a.mqttUrl, id, secretOf(id)));
    await waitFor('node A has it online', () => a.gateway.ingest.healthOf(id)?.state === 'online');
    await waitFor('node B says online too', () => b.gateway.ingest.healthOf(id)?.state === 'online');
    expect(b.gateway.ingest.healthOf(id)?.lastSeen).toBe(clock.now());
    const listed = await fetch(`${b.httpUrl}/api/devices`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(((await listed.json()) as { id: string; state: string }[]).find((d) => d.id === id)?.state).toBe('online');
  });
  it('hears the device repeat its online on the other node: a node that decided offline meanwhile does not keep showing it offline', async () => {
    const clock = new ManualClock(thursday(10, 0));
    const [a, b] = await twoNodes({ clock, registry: registryDoc(), jobs: 'manual', twilio: false, edge: { healthFlushMs: 60 * MINUTE } });
    const id = BQ[1] ?? '';
    const first = await connectOnlineDevice(a.mqttUrl, id, secretOf(id));
    await waitFor('node B hears it online on node A', () => b.gateway.ingest.healthOf(id)?.state === 'online');
    // Node B decides on its own that the device is gone (in a failover: a will of the dead node it replayed while the
    // device was still on its way back). Node A's online is its own, so it keeps it.
    b.gateway.ingest.markState(id, 'offline', clock.now());
    clock.advance(MINUTE);
    // The device comes back to node A and says online again: nothing changes on node A.
    await first.endAsync();
    clients.push(await connectOnlineDevice(a.mqttUrl, id, secretOf(id)));
    await waitFor('node A heard it again', () => a.gateway.ingest.healthOf(id)?.lastSeen === clock.now());
    expect(a.gateway.ingest.healthOf(id)?.state).toBe('online');
    await waitFor('node B says online again', () => b.gateway.ingest.healthOf(id)?.state === 'online', { timeoutMs: 5_000 });
  });
});
