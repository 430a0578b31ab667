// Benchmark of the telemetry writer against a real influxd 1.x: sustained points/s written, and the memory a full buffer holds while InfluxDB is down.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { systemClock } from '../gateway/core/clock.js';
import { EventBus } from '../gateway/core/events.js';
import { silentLogger } from '../gateway/core/logger.js';
import type { Device, Resident } from '../gateway/core/types.js';
import type { RegistrySnapshot } from '../gateway/storage/ports.js';
import { openSqliteStore, type SqliteStore } from '../gateway/storage/sqlite/store.js';
import { TelemetryWriter, type TelemetryEvents } from '../gateway/telemetry/writer.js';
import { InfluxdServer } from './lib/influxd.js';

export interface InfluxWriterBenchResult {
  /** Points per second written to InfluxDB through the writer, sustained over the measuring window. */
  points_per_s: number;
  batch_size: number;
  /** The buffer's bound (maxBuffer), in points. */
  buffer_bound_points: number;
  /** Heap taken by a full buffer of realistic points, in MiB. */
  buffer_bound_mb: number;
  /** Event-loop delay while writing at that rate (the alarm path shares the loop): p99 and max, in ms. */
  event_loop_p99_ms: number;
  event_loop_max_ms: number;
}

export interface InfluxWriterBenchOptions {
  /** Measuring window (default 10 s). */
  durationMs?: number;
  batchSize?: number;
  maxBuffer?: number;
  devices?: number;
}

const DEVICES_PER_RESIDENT = 2;
const PRODUCE_SLICE = 500;

export async function benchInfluxWriter(opts: InfluxWriterBenchOptions = {}): Promise<InfluxWriterBenchResult> {
  const durationMs = opts.durationMs ?? 10_000;
  const batchSize = opts.batchSize ?? 5000;
  const maxBuffer = opts.maxBuffer ?? 50_000;
  const deviceCount = opts.devices ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-influx-'));
  const influxd = new InfluxdServer();
  let store: SqliteStore | null = null;
  try {
    store = openSqliteStore(join(dir, 'gateway.db'));
    const devices = await store.registry.upsert(snapshot(deviceCount)).then(() => store?.registry.listDevices() ?? []);
    await influxd.start();
    const rate = await measureThroughput({ store, devices, url: influxd.url, durationMs, batchSize, maxBuffer });
    // The memory figure is taken with InfluxDB away, as it is when the buffer really fills.
    await influxd.stop();
    const bufferMb = await measureFullBuffer({ store, devices, url: influxd.url, batchSize, maxBuffer });
    return {
      points_per_s: Math.round(rate.pointsPerS),
      batch_size: batchSize,
      buffer_bound_points: maxBuffer,
      buffer_bound_mb: round1(bufferMb),
      event_loop_p99_ms: round1(rate.loopP99Ms),
      event_loop_max_ms: round1(rate.loopMaxMs),
    };
  } finally {
    await influxd.dispose();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Phase {
  store: SqliteStore;
  devices: Device[];
  url: string;
  batchSize: number;
  maxBuffer: number;
}

function newWriter(phase: Phase, bus: EventBus<TelemetryEvents>, database: string, onWritten?: (n: number) => void): TelemetryWriter {
  return new TelemetryWriter({
    config: { url: phase.url, database, token: null, org: null, bucket: null },
    store: phase.store,
    bus,
    log: silentLogger(),
    clock: systemClock,
    batchSize: phase.batchSize,
    maxBuffer: phase.maxBuffer,
    stopTimeoutMs: 2000,
    ...(onWritten ? { onWritten } : {}),
  });
}

/** A mix of what devices send: every other point a device event, the rest battery/rssi telemetry. */
function emitOne(bus: EventBus<TelemetryEvents>, devices: Device[], n: number, at: number): void {
  const d = devices[n % devices.length];
  if (!d) return;
  if (n % 2 === 0) {
    bus.emit('signalReceived', {
      eventId: n,
      deviceId: d.id,
      deviceKind: d.kind,
      residentId: d.resident,
      type: 'heartbeat',
      seq: n,
      receivedAt: at,
      payload: { type: 'heartbeat', seq: n, battery: 50 + (n % 50) },
    });
  } else {
    const payload = { battery: 50 + (n % 50), rssi: -40 - (n % 60) };
    bus.emit('telemetryReceived', { deviceId: d.id, ...payload, at, payload });
  }
}

/**
 * Keeps the buffer topped up to a few batches (never dropping) for `durationMs`, producing on the same
 * event loop as the writer, as the gateway does; counts what the writer reports written.
 */
async function measureThroughput(
  phase: Phase & { durationMs: number },
): Promise<{ pointsPerS: number; loopP99Ms: number; loopMaxMs: number }> {
  const bus = new EventBus<TelemetryEvents>(silentLogger());
  let written = 0;
  const writer = newWriter(phase, bus, 'bench', (n) => {
    written += n;
  });
  await writer.start();
  const target = Math.min(phase.maxBuffer, phase.batchSize * 3);
  let n = 0;
  // Small slices, so the producer's own work does not dominate the event-loop delay measured below.
  const produce = (): void => {
    const room = Math.min(PRODUCE_SLICE, target - writer.health().buffered);
    const at = Date.now();
    for (let i = 0; i < room; i++) emitOne(bus, phase.devices, n++, at);
  };
  const runFor = async (ms: number): Promise<void> => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      produce();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  // Warm-up: the first batches pay for shard creation and JIT.
  await runFor(1000);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const startWritten = written;
  const started = performance.now();
  await runFor(phase.durationMs);
  loop.disable();
  const elapsedS = (performance.now() - started) / 1000;
  const count = written - startWritten;
  await writer.stop();
  if (writer.droppedTotal() > 0) throw new Error(`benchmark producer overran the buffer: ${writer.droppedTotal()} dropped`);
  return { pointsPerS: count / elapsedS, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 };
}

/** Heap difference between an empty writer and one whose buffer holds maxBuffer points. */
async function measureFullBuffer(phase: Phase): Promise<number> {
  const gc = exposeGc();
  const bus = new EventBus<TelemetryEvents>(silentLogger());
  const writer = newWriter(phase, bus, 'bench_buffer');
  await writer.start();
  gc();
  const before = process.memoryUsage().heapUsed;
  const at = Date.now();
  for (let n = 0; n < phase.maxBuffer; n++) emitOne(bus, phase.devices, n, at + n);
  await writer.flush();
  gc();
  const after = process.memoryUsage().heapUsed;
  const buffered = writer.health().buffered;
  await writer.stop();
  if (buffered !== phase.maxBuffer) throw new Error(`expected a full buffer of ${phase.maxBuffer} points, got ${buffered}`);
  return (after - before) / (1024 * 1024);
}

/** global.gc without starting node with --expose-gc, so heap differences are not noise from garbage. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => void Reflect.apply(gc, undefined, []) : () => undefined;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function snapshot(deviceCount: number): RegistrySnapshot {
  const residents: Resident[] = [];
  const devices: Device[] = [];
  for (let i = 0; i < Math.ceil(deviceCount / DEVICES_PER_RESIDENT); i++) {
    const building = 1 + (i % 24);
    residents.push({
      id: `r-${String(i).padStart(5, '0')}`,
      name: `老人${String(i).padStart(5, '0')}`,
      community: 'andali',
      address: `安达里${building}号楼${1 + (i % 4)}门${101 + (i % 6)}`,
      building: `安达里${building}号楼`,
      family: [],
    });
  }
  for (let i = 0; i < deviceCount; i++) {
    const resident = residents[Math.floor(i / DEVICES_PER_RESIDENT)];
    if (!resident) break;
    devices.push({
      id: `dev-${String(i).padStart(5, '0')}`,
      kind: i % 2 === 0 ? 'sos_button' : 'motion_sensor',
      resident: resident.id,
      secretHash: 'scrypt$16384$8$1$YmVuY2g=$YmVuY2g=',
    });
  }
  return {
    communities: [{ id: 'andali', name: '安达里社区', dutyContacts: [] }],
    residents,
    workers: [],
    devices,
    volunteers: [],
    visits: [],
  };
}
