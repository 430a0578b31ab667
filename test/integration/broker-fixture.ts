// Test fixture for the MQTT edge: a real SQLite store in a temp dir, the ingest, the broker on port 0, and mqtt.js devices.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { join } from 'node:path';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { DeviceKind, Rejection, SecurityEvent, Signal } from '../../gateway/core/types.js';
import { DeviceBroker } from '../../gateway/broker/broker.js';
import type { AuthLimits } from '../../gateway/broker/auth.js';
import { Ingest } from '../../gateway/ingest/ingest.js';
import type { DeviceStatusChanged, IngestEvents, TelemetryReceived } from '../../gateway/ingest/events.js';
import type { GroupCommitOptions } from '../../gateway/ingest/group-commit.js';
import { hashSecret } from '../../gateway/registry/secrets.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

export interface TestDevice {
  id: string;
  kind: DeviceKind;
  secret: string;
}

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

export interface EdgeOptions {
  groupCommit?: GroupCommitOptions;
  authLimits?: AuthLimits;
  maxFrameBytes?: number;
  devices?: TestDevice[];
}

/** Everything the bus emitted, for assertions. */
export interface Seen {
  signals: Signal[];
  rejections: Rejection[];
  telemetry: TelemetryReceived[];
  status: DeviceStatusChanged[];
  security: SecurityEvent[];
}

export interface Edge {
  dbFile: string;
  store: SqliteStore;
  clock: ManualClock;
  bus: EventBus<IngestEvents>;
  ingest: Ingest;
  broker: DeviceBroker;
  port: number;
  seen: Seen;
  /** Connects a device with its own credentials unless told otherwise. */
  connect(id: string, opts?: Partial<IClientOptions>): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startEdge(opts: EdgeOptions = {}): Promise<Edge> {
  const dir = tempDir('care-edge-');
  const dbFile = join(dir.path, 'gateway.db');
  const store = openSqliteStore(dbFile);
  const devices = opts.devices ?? DEVICES;
  await store.registry.upsert({
    communities: [],
    residents: [],
    workers: [],
    volunteers: [],
    visits: [],
    devices: await Promise.all(
      devices.map(async (d) => ({ id: d.id, kind: d.kind, resident: `r-${d.id}`, secretHash: await hashSecret(d.secret) })),
    ),
  });
  const log = silentLogger();
  const clock = new ManualClock();
  const bus = new EventBus<IngestEvents>(log);
  const seen: Seen = { signals: [], rejections: [], telemetry: [], status: [], security: [] };
  const owner = {};
  bus.on(owner, 'signalReceived', (s) => void seen.signals.push(s));
  bus.on(owner, 'signalRejected', (r) => void seen.rejections.push(r));
  bus.on(owner, 'telemetryReceived', (t) => void seen.telemetry.push(t));
  bus.on(owner, 'deviceStatusChanged', (s) => void seen.status.push(s));
  bus.on(owner, 'securityEvent', (e) => void seen.security.push(e));

  const ingest = new Ingest({ store, bus, clock, log, groupCommit: opts.groupCommit });
  const broker = new DeviceBroker({ store, ingest, bus, clock, log, authLimits: opts.authLimits, maxFrameBytes: opts.maxFrameBytes });
  await ingest.start();
  const { port } = await broker.start({ port: 0, host: '127.0.0.1' });
  const clients: MqttClient[] = [];

  return {
    dbFile,
    store,
    clock,
    bus,
    ingest,
    broker,
    port,
    seen,
    async connect(id, extra = {}) {
      const d = DEVICES.find((x) => x.id === id);
      const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: id,
        username: id,
        password: d?.secret ?? 'nope',
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
      await broker.stop();
      await ingest.stop().catch(() => undefined);
      await store.close();
      dir.remove();
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

export function eventPayload(body: Record<string, unknown>): string {
  return JSON.stringify(body);
}
