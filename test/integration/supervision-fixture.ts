// Supervision tests' rig: real SQLite in a temp dir, the real ingest and aedes broker on port 0, a real SMS dispatcher, Supervision, and the HTTP app.
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { FastifyInstance } from 'fastify';
import { DeviceBroker } from '../../gateway/broker/broker.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { buildApp } from '../../gateway/http/app.js';
import type { Caller } from '../../gateway/access/caller.js';
import { Ingest } from '../../gateway/ingest/ingest.js';
import type { IngestEvents } from '../../gateway/ingest/events.js';
import type { IncidentEvents } from '../../gateway/incidents/service.js';
import { createMetrics } from '../../gateway/metrics/metrics.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { OutboxProvider } from '../../gateway/notifiers/outbox.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import type { SupervisionEvents } from '../../gateway/supervision/events.js';
import { Supervision, type SupervisionDeps } from '../../gateway/supervision/service.js';
import { RecordingInbound, StoreIncidentActions, StoreSmsStatus } from '../helpers/http-fixture.js';
import { shanghai, shanghaiDay, shanghaiLast, wallTime } from '../helpers/calendar.js';
import { tempDir } from '../helpers/tmp.js';

export const TZ = 'Asia/Shanghai';
export const API_TOKEN = 'supervision-test-token-0123456789';
/** Wall time in Asia/Shanghai (UTC+8) as an instant. */
export const local = shanghai;
/** Midnight starting the latest Thursday before today in Asia/Shanghai: recent, so it never meets a server's now() as a stale date. */
const THURSDAY = shanghaiLast(4, 0);
/** Wall time on that Thursday (or `days` after it): the digest and registry rigs run on it. */
export function thursday(h: number, mi = 0, days = 0): number {
  return wallTime(THURSDAY, h, mi, days);
}

export const W01 = '+8613900000001';
export const W02 = '+8613900000002';
export const WB1 = '+8613900000011';
export const STATION = '+8618200000001';

const pad = (n: number) => String(n).padStart(2, '0');
/** 30 residents in 安达里3号楼 (one button each), 5 in 安达里5号楼, 2 in 拜泉里. */
export const B3 = Array.from({ length: 30 }, (_, i) => `btn-3-${pad(i + 1)}`);
export const B5 = Array.from({ length: 5 }, (_, i) => `btn-5-${pad(i + 1)}`);
export const BQ = ['btn-q-01', 'btn-q-02'];
export const secretOf = (id: string) => `s3cret-${id}`;

export function registryDoc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const allDay = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }];
  const resident = (id: string, community: string, address: string, lat: number) => ({
    id: `r-${id}`,
    name: `居民${id.slice(-4)}`,
    community,
    address,
    location: { lat, lon: 117.13 },
    family: [],
  });
  return {
    escalation: { ackTimeoutSeconds: 180, fallCancelSeconds: 30, offlineAfterSeconds: 900 },
    communities: [
      { id: 'andali', name: '安达里社区', dutyContacts: [{ name: '安达里值班室', phone: STATION }] },
      { id: 'baiquanli', name: '拜泉里社区' },
    ],
    residents: [
      ...B3.map((d, i) => resident(d, 'andali', `安达里3号楼${(i % 3) + 1}门${100 + i}`, 39.21)),
      ...B5.map((d, i) => resident(d, 'andali', `安达里5号楼1门${200 + i}`, 39.23)),
      ...BQ.map((d, i) => resident(d, 'baiquanli', `拜泉里2号楼1门${300 + i}`, 39.3)),
    ],
    workers: [
      // w-01 lives by 3号楼, w-02 by 5号楼; w-00 is nearer to everything but has no shifts (not on the roster).
      { id: 'w-00', name: '周勇', phone: '+8613900000000', community: 'andali', location: { lat: 39.22, lon: 117.13 }, shifts: [] },
      { id: 'w-01', name: '李明', phone: W01, community: 'andali', location: { lat: 39.211, lon: 117.13 }, shifts: allDay },
      { id: 'w-02', name: '赵强', phone: W02, community: 'andali', location: { lat: 39.231, lon: 117.13 }, shifts: allDay },
      { id: 'w-b1', name: '孙红', phone: WB1, community: 'baiquanli', location: { lat: 39.3, lon: 117.13 }, shifts: allDay },
    ],
    devices: [...B3, ...B5, ...BQ].map((id) => ({ id, kind: 'sos_button', resident: `r-${id}`, secret: secretOf(id) })),
    ...extra,
  };
}

// IncidentEvents too, so a telemetry writer can share the rig's bus as it shares the gateway's.
type Bus = EventBus<IngestEvents & NotifierEvents & SupervisionEvents & IncidentEvents>;

export interface SupervisionRig {
  clock: ManualClock;
  store: SqliteStore;
  bus: Bus;
  ingest: Ingest;
  broker: DeviceBroker;
  supervision: Supervision;
  app: FastifyInstance;
  mqttUrl: string;
  /** Connects a device (with its status will), publishes `online` (retained) and waits until the gateway has it. */
  online(id: string): Promise<MqttClient>;
  /** Cuts the device's TCP connection without DISCONNECT, so the broker publishes its will. */
  drop(client: MqttClient): void;
  publish(client: MqttClient, channel: 'event' | 'telemetry' | 'status', body: string, retain?: boolean): Promise<void>;
  /** Advances the manual clock in steps (timers fire in order) and waits for supervision work after each. */
  advance(ms: number, stepMs?: number): Promise<void>;
  settle(): Promise<void>;
  smsTo(phone: string, purpose?: OutboundSms['purpose']): Promise<OutboundSms[]>;
  /** Stops everything but the database file, then starts a new supervision over it (a restart). */
  restart(): Promise<Supervision>;
  close(): Promise<void>;
}

export async function startSupervisionRig(
  opts: { clock?: ManualClock; supervision?: Partial<SupervisionDeps>; registry?: Record<string, unknown> } = {},
): Promise<SupervisionRig> {
  const dir = tempDir('care-gw-supervision-');
  const file = join(dir.path, 'gateway.db');
  // Yesterday, not a pinned date: the telemetry test sends this clock's instants to a real influxd, and they must be
  // recent but not in its future (a test moves the clock on by minutes or hours).
  const clock = opts.clock ?? new ManualClock(shanghaiDay(-1, 10, 0));
  const log = silentLogger();
  let store = openSqliteStore(file);
  await importRegistryDocument({ store, log }, opts.registry ?? registryDoc());
  const bus: Bus = new EventBus(log);
  const clients: MqttClient[] = [];

  const build = () => {
    const ingest = new Ingest({ store, bus, clock, log, healthFlushMs: 50 });
    const broker = new DeviceBroker({ store, ingest, bus, clock, log });
    const dispatcher = new SmsDispatcher({
      store,
      provider: new OutboxProvider({ log }),
      clock,
      log,
      bus,
      publicUrl: 'http://127.0.0.1:1',
    });
    const supervision = new Supervision({
      store,
      bus,
      clock,
      log,
      timeZone: TZ,
      sms: dispatcher,
      health: ingest,
      digestTriggers: 'manual',
      ...opts.supervision,
    });
    return { ingest, broker, dispatcher, supervision };
  };
  const buildHttp = (parts: ReturnType<typeof build>) =>
    buildApp({
      log,
      publicUrl: 'http://127.0.0.1:1',
      apiToken: API_TOKEN,
      twilioAuthToken: null,
      incidents: new StoreIncidentActions(store),
      inbound: new RecordingInbound(store),
      smsStatus: new StoreSmsStatus(store),
      devices: {
        listDevices: () => store.registry.listDevices(),
        getDevice: (id) => store.registry.getDevice(id),
        health: (id) => parts.ingest.healthOf(id),
        getResident: (id) => store.registry.getResident(id),
      },
      health: async () => ({ alarmsOk: true, components: {}, unassignedIncidents: 0 }),
      metrics: createMetrics().registry,
      smsLog: (limit) => store.sms.list(limit),
      supervision: parts.supervision,
      // A worker's dashboard session, stood in for by a header: `x-test-worker: <worker id>@<community>`.
      authStrategies: [
        // A volunteer's session: `x-test-volunteer: <volunteer id>`.
        async (request): Promise<Caller | null> => {
          const v = request.headers['x-test-volunteer'];
          return typeof v === 'string' ? { kind: 'session', name: `volunteer ${v}`, role: 'volunteer', volunteerId: v } : null;
        },
        async (request): Promise<Caller | null> => {
          const h = request.headers['x-test-worker'];
          if (typeof h !== 'string') return null;
          const [workerId, community] = h.split('@');
          return { kind: 'session', name: `worker ${workerId}`, role: 'worker', workerId, community };
        },
      ],
    });

  let parts = build();
  let mqttPort = 0;
  const startParts = async () => {
    await parts.ingest.start();
    await parts.dispatcher.start();
    await parts.supervision.start();
    mqttPort = (await parts.broker.start({ port: 0, host: '127.0.0.1' })).port;
  };
  await startParts();
  let app = await buildHttp(parts);

  const stopParts = async () => {
    for (const c of clients.splice(0)) c.end(true);
    await app.close();
    await parts.broker.stop();
    await parts.supervision.stop();
    await parts.ingest.stop();
    await parts.dispatcher.stop();
  };

  const settle = async () => {
    // Wills and messages reach the ingest asynchronously; then supervision queues its own work.
    await new Promise((r) => setTimeout(r, 30));
    await parts.supervision.idle();
  };

  const rig: SupervisionRig = {
    clock,
    get store() {
      return store;
    },
    bus,
    get ingest() {
      return parts.ingest;
    },
    get broker() {
      return parts.broker;
    },
    get supervision() {
      return parts.supervision;
    },
    get app() {
      return app;
    },
    get mqttUrl() {
      return `mqtt://127.0.0.1:${mqttPort}`;
    },
    async online(id) {
      const client = await mqtt.connectAsync(rig.mqttUrl, {
        clientId: id,
        username: id,
        password: secretOf(id),
        protocolVersion: 4,
        reconnectPeriod: 0,
        will: { topic: `care/v1/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      clients.push(client);
      await rig.publish(client, 'status', 'online', true);
      return client;
    },
    drop(client) {
      client.stream.destroy();
    },
    async publish(client, channel, body, retain = false) {
      await client.publishAsync(`care/v1/${client.options.clientId}/${channel}`, body, { qos: 1, retain });
    },
    async advance(ms, stepMs = 10_000) {
      for (let done = 0; done < ms; done += stepMs) {
        clock.advance(Math.min(stepMs, ms - done));
        await parts.supervision.idle();
      }
      await settle();
    },
    settle,
    async smsTo(phone, purpose) {
      return (await store.sms.list(1000))
        .filter((m) => m.to === phone && (!purpose || m.purpose === purpose))
        .sort((a, b) => a.createdAt - b.createdAt);
    },
    async restart() {
      await stopParts();
      await store.close();
      store = openSqliteStore(file);
      parts = build();
      await startParts();
      app = await buildHttp(parts);
      return parts.supervision;
    },
    async close() {
      await stopParts();
      await store.close();
      dir.remove();
    },
  };
  return rig;
}
