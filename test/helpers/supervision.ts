// Supervision helpers over the test gateway: a neighbourhood of 37 buttons, devices that come and go over MQTT, and a ManualClock to drive.
import mqtt, { type MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { shanghaiDay, shanghaiLast, wallTime } from './calendar.js';
import { startTestGateway, type TestGateway } from './gateway.js';

/** Midnight starting the latest Thursday before today in Asia/Shanghai: recent, so it never meets a server's now() as a stale date. */
const THURSDAY = shanghaiLast(4, 0);
/** Wall time on that Thursday (or `days` after it): the digest and registry tests run on it. */
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

type Gateway = TestGateway['gateway'];

/** The test gateway over a supervision registry, its jobs run by hand, and helpers to drive devices and the clock. */
export interface SupervisionGateway {
  /** The running test gateway (a new one after restart()). */
  tg: TestGateway;
  gateway: Gateway;
  clock: ManualClock;
  store: Gateway['store'];
  bus: Gateway['bus'];
  ingest: Gateway['ingest'];
  supervision: Gateway['supervision'];
  /** The gateway's own HTTP app (requests by inject). */
  app: NonNullable<Gateway['httpApp']>;
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
  /** A process restart over the same data dir and clock; returns the new gateway's supervision. */
  restart(): Promise<Gateway['supervision']>;
  close(): Promise<void>;
}

export async function startSupervisionGateway(
  opts: { clock?: ManualClock; registry?: Record<string, unknown>; jobs?: 'cron' | 'manual' } = {},
): Promise<SupervisionGateway> {
  // Yesterday, not a pinned date: the telemetry test sends this clock's instants to a real influxd, and they must be
  // recent but not in its future (a test moves the clock on by minutes or hours).
  const clock = opts.clock ?? new ManualClock(shanghaiDay(-1, 10, 0));
  // Pages go to the local outbox; health is flushed often, so a restart finds what the devices last said.
  let tg = await startTestGateway({
    clock,
    registry: opts.registry ?? registryDoc(),
    twilio: false,
    jobs: opts.jobs ?? 'manual',
    edge: { healthFlushMs: 50 },
  });
  const clients: MqttClient[] = [];
  const endClients = () => {
    for (const c of clients.splice(0)) c.end(true);
  };
  const settle = async () => {
    // Wills and messages reach the ingest asynchronously; then supervision queues its own work.
    await new Promise((r) => setTimeout(r, 30));
    await tg.gateway.supervision.idle();
  };
  const rig: SupervisionGateway = {
    get tg() {
      return tg;
    },
    get gateway() {
      return tg.gateway;
    },
    clock,
    get store() {
      return tg.gateway.store;
    },
    get bus() {
      return tg.gateway.bus;
    },
    get ingest() {
      return tg.gateway.ingest;
    },
    get supervision() {
      return tg.gateway.supervision;
    },
    get app() {
      const app = tg.gateway.httpApp;
      if (!app) throw new Error('the test gateway has no HTTP app');
      return app;
    },
    get mqttUrl() {
      return tg.mqttUrl;
    },
    async online(id) {
      const client = await mqtt.connectAsync(tg.mqttUrl, {
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
        await tg.gateway.supervision.idle();
      }
      await settle();
    },
    settle,
    async smsTo(phone, purpose) {
      return (await tg.gateway.store.sms.list(1000))
        .filter((m) => m.to === phone && (!purpose || m.purpose === purpose))
        .sort((a, b) => a.createdAt - b.createdAt);
    },
    async restart() {
      endClients();
      tg = await tg.restart();
      return tg.gateway.supervision;
    },
    async close() {
      endClients();
      await tg.stop();
    },
  };
  return rig;
}
