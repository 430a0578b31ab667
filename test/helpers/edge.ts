// Device-edge helpers over the test gateway: the edge registry's devices, what the bus saw, and mqtt.js device connections.
import { readFileSync } from 'node:fs';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { parse as parseYaml } from 'yaml';
import type { Env } from '../../gateway/config/load.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { DeviceKind, Rejection, SecurityEvent, Signal } from '../../gateway/core/types.js';
import type { DeviceStatusChanged, TelemetryReceived } from '../../gateway/ingest/events.js';
import { databaseFile } from '../../gateway/storage/sqlite/store.js';
import type { EdgeTuning } from '../../gateway/wiring/devices.js';
import { startTestGateway, TEST_REGISTRY, type TestGateway } from './gateway.js';

export interface TestDevice {
  id: string;
  kind: DeviceKind;
  secret: string;
}

/** The test registry's three devices and a motion sensor (whose events are recorded, none of them pages). */
export const DEVICES: TestDevice[] = [
  { id: 'btn-001', kind: 'sos_button', secret: 's3cret-btn-001' },
  { id: 'btn-002', kind: 'sos_button', secret: 's3cret-btn-002' },
  { id: 'fall-001', kind: 'fall_sensor', secret: 's3cret-fall-001' },
  { id: 'pir-001', kind: 'motion_sensor', secret: 's3cret-pir-001' },
];

export function device(id: string): TestDevice {
  const d = DEVICES.find((x) => x.id === id);
  if (!d) throw new Error(`no test device ${id}`);
  return d;
}

/** Per-device message limits far above any test's traffic, for tests of something else than the limiter. */
export const UNLIMITED_DEVICES: Env = {
  DEVICE_BURST: '1000000',
  DEVICE_DAILY_MESSAGES: '1000000000',
  DEVICE_DAILY_MB: '1000000',
  DEVICE_FLOOD_DISCONNECT: '1000000',
};

/** test/fixtures/registry.yaml with pir-001 added (in r-002's home). */
export function edgeRegistry(): Record<string, unknown> {
  const doc = parseYaml(readFileSync(TEST_REGISTRY, 'utf8')) as { devices: unknown[] } & Record<string, unknown>;
  return {
    ...doc,
    devices: [...doc.devices, { id: 'pir-001', kind: 'motion_sensor', resident: 'r-002', secret: device('pir-001').secret }],
  };
}

/** Everything the gateway's bus emitted on the device side, for assertions. */
export interface Seen {
  signals: Signal[];
  rejections: Rejection[];
  telemetry: TelemetryReceived[];
  status: DeviceStatusChanged[];
  security: SecurityEvent[];
}

export function watchEdge(tg: TestGateway): Seen {
  const seen: Seen = { signals: [], rejections: [], telemetry: [], status: [], security: [] };
  const { bus } = tg.gateway;
  bus.on(seen, 'signalReceived', (s) => void seen.signals.push(s));
  bus.on(seen, 'signalRejected', (r) => void seen.rejections.push(r));
  bus.on(seen, 'telemetryReceived', (t) => void seen.telemetry.push(t));
  bus.on(seen, 'deviceStatusChanged', (s) => void seen.status.push(s));
  bus.on(seen, 'securityEvent', (e) => void seen.security.push(e));
  return seen;
}

/** The test gateway with the edge registry on a ManualClock, and the edge's parts by name. */
export interface Edge {
  tg: TestGateway;
  dbFile: string;
  store: TestGateway['gateway']['store'];
  clock: ManualClock;
  bus: TestGateway['gateway']['bus'];
  ingest: TestGateway['gateway']['ingest'];
  broker: TestGateway['gateway']['broker'];
  port: number;
  seen: Seen;
  /** Connects a device with its own credentials unless told otherwise (ended on close). */
  connect(id: string, opts?: Partial<IClientOptions>): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startEdge(opts: { edge?: EdgeTuning; env?: Env } = {}): Promise<Edge> {
  const clock = new ManualClock();
  const tg = await startTestGateway({ clock, registry: edgeRegistry(), ...opts });
  const { gateway } = tg;
  const port = Number(new URL(tg.mqttUrl).port);
  const clients: MqttClient[] = [];
  return {
    tg,
    dbFile: databaseFile(tg.dataDir),
    store: gateway.store,
    clock,
    bus: gateway.bus,
    ingest: gateway.ingest,
    broker: gateway.broker,
    port,
    seen: watchEdge(tg),
    async connect(id, extra = {}) {
      const client = await connectAsync(tg.mqttUrl, {
        clientId: id,
        username: id,
        password: DEVICES.find((x) => x.id === id)?.secret ?? 'nope',
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.end(true);
      await tg.stop();
    },
  };
}

/** Resolves when the client's connection is closed (by either side). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected || !client.connected) {
      resolve();
      return;
    }
    client.once('close', () => resolve());
  });
}

/** Connect attempt expected to be refused: resolves with the CONNACK return code. */
export async function refusedCode(port: number, opts: IClientOptions): Promise<number | undefined> {
  try {
    const c = await connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.end(true);
    return 0;
  } catch (err) {
    return err instanceof Error && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
  }
}
