// QoS 1 event throughput: PUBLISH -> PUBACK (durably recorded) through the whole gateway, against a bare aedes with the same clients and messages, in one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { Gateway } from '../gateway/app.js';
import { loadConfig } from '../gateway/config/load.js';
import { silentLogger } from '../gateway/core/logger.js';
import { BackgroundLoad } from './lib/background-load.js';
import { sqliteGatewayEnv } from './lib/broker-host.js';
import type { DeviceCredentials } from './lib/clients.js';
import type { Qos1Result } from './lib/load-protocol.js';
import { waitUntil } from './lib/net.js';
import { assertSeedUsed, seedRegistry } from './lib/seed-registry.js';
import { sharedSecretRegistry } from './lib/shared-registry.js';
import { spread, type Spread } from './lib/stats.js';

export interface IngestOptions {
  devices: number;
  /** QoS 1 events each device keeps outstanding. */
  inFlightPerDevice: number;
  runs: number;
  runMs: number;
  warmupMs: number;
  log: (line: string) => void;
}

export interface IngestRound {
  run: number;
  /** PUBACKs per second inside the window. */
  ackedPerSec: number;
  /** For the gateway: the same events divided by the window plus the time until rules had acted on all of them. */
  processedPerSec: number;
  drainMs: number;
  errors: number;
  loadCpuPercent: number;
  cpuPercent: number;
}

export interface IngestSide {
  rounds: IngestRound[];
  msgsPerSec: Spread;
}

export interface IngestResult {
  ingest_qos1_msgs_per_s: number;
  raw_aedes_qos1_msgs_per_s: number;
  /** Gateway / bare aedes (medians); the target is >= 0.5. */
  ingest_ratio: number;
  target: { limit: number; pass: boolean };
  gateway: IngestSide & { batches: { count: number; meanSize: number; max: number } };
  aedes: IngestSide;
  setup: { devices: number; inFlightPerDevice: number; runMs: number; warmupMs: number; mix: string };
}

export const INGEST_TARGET_RATIO = 0.5;
const SECRET = 'bench-shared-secret-0123456789';

export async function runIngestBenchmark(opts: IngestOptions): Promise<IngestResult> {
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-ingest-'));
  try {
    const reg = sharedSecretRegistry({ residents: 100, sensors: opts.devices, secret: SECRET });
    const dataDir = join(dir, 'data');
    const seeded = await seedRegistry(dir, dataDir, reg.doc);
    const gateway = await measureGateway(dataDir, seeded.path, reg.sensors, opts);
    const aedes = await measureAedes(reg.sensors, opts);
    const ratio = gateway.msgsPerSec.median / aedes.msgsPerSec.median;
    return {
      ingest_qos1_msgs_per_s: gateway.msgsPerSec.median,
      raw_aedes_qos1_msgs_per_s: aedes.msgsPerSec.median,
      ingest_ratio: ratio,
      target: { limit: INGEST_TARGET_RATIO, pass: ratio >= INGEST_TARGET_RATIO },
      gateway,
      aedes,
      setup: {
        devices: opts.devices,
        inFlightPerDevice: opts.inFlightPerDevice,
        runMs: opts.runMs,
        warmupMs: opts.warmupMs,
        mix: 'QoS 1 events on care/v1/<id>/event: 4 of 5 {"type":"motion"}, 1 of 5 {"type":"heartbeat","battery":80}, each with a new seq',
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureGateway(
  dataDir: string,
  registryFile: string,
  devices: DeviceCredentials[],
  opts: IngestOptions,
): Promise<IngestResult['gateway']> {
  const config = loadConfig(sqliteGatewayEnv(dataDir, registryFile));
  const gateway = Gateway.create({ config, log: silentLogger() });
  const started = await gateway.start();
  const load = new BackgroundLoad({ url: `mqtt://127.0.0.1:${started.mqttPort}`, devices, concurrency: 64, replyTimeoutMs: 600_000 });
  try {
    assertSeedUsed(started.registry, 'ingest');
    const { ms } = await load.start();
    opts.log(`ingest: ${devices.length} devices connected to the gateway in ${ms} ms`);
    // Everything acknowledged must also have been acted on before the next window starts.
    const drained = async (): Promise<number> => {
      const t0 = performance.now();
      await waitUntil(
        () => gateway.processor.backlog().queued === 0 && gateway.ingest.stats().queued === 0,
        120_000,
        'the signal backlog to drain',
        5,
      );
      return performance.now() - t0;
    };
    await load.qos1(opts.warmupMs, opts.inFlightPerDevice);
    await drained();
    const batches0 = gateway.ingest.stats().batchSizes;
    const rounds: IngestRound[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const cpu0 = process.cpuUsage();
      const r = await load.qos1(opts.runMs, opts.inFlightPerDevice);
      const drainMs = await drained();
      const round = toRound(run, r, drainMs, process.cpuUsage(cpu0));
      rounds.push(round);
      opts.log(
        `ingest gateway run ${run}: ${Math.round(round.ackedPerSec)} PUBACK/s, ${Math.round(round.processedPerSec)}/s including ${Math.round(drainMs)} ms to act on the rest; ` +
          `${round.errors} errors; CPU ${Math.round(round.cpuPercent)} % gateway, ${Math.round(round.loadCpuPercent)} % clients`,
      );
    }
    const b = gateway.ingest.stats().batchSizes;
    const count = b.count - batches0.count;
    return {
      rounds,
      // The headline counts an event only once rules have acted on it: the whole pipeline, not just the PUBACK.
      msgsPerSec: spread(rounds.map((r) => r.processedPerSec)),
      batches: { count, meanSize: count > 0 ? (b.sum - batches0.sum) / count : 0, max: b.max },
    };
  } finally {
    await load.stop().catch(() => undefined);
    await gateway.stop();
  }
}

async function measureAedes(devices: DeviceCredentials[], opts: IngestOptions): Promise<IngestSide> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const load = new BackgroundLoad({
    url: `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    devices,
    concurrency: 64,
  });
  try {
    const { ms } = await load.start();
    opts.log(`ingest: ${devices.length} devices connected to bare aedes in ${ms} ms`);
    await load.qos1(opts.warmupMs, opts.inFlightPerDevice);
    const rounds: IngestRound[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const cpu0 = process.cpuUsage();
      const round = toRound(run, await load.qos1(opts.runMs, opts.inFlightPerDevice), 0, process.cpuUsage(cpu0));
      rounds.push(round);
      opts.log(
        `ingest raw aedes run ${run}: ${Math.round(round.ackedPerSec)} PUBACK/s; ${round.errors} errors; CPU ${Math.round(round.cpuPercent)} % broker, ${Math.round(round.loadCpuPercent)} % clients`,
      );
    }
    return { rounds, msgsPerSec: spread(rounds.map((r) => r.ackedPerSec)) };
  } finally {
    await load.stop().catch(() => undefined);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  }
}

function toRound(run: number, r: Qos1Result, drainMs: number, cpu: NodeJS.CpuUsage): IngestRound {
  const windowS = r.seconds;
  return {
    run,
    ackedPerSec: r.acked / windowS,
    processedPerSec: r.acked / (windowS + drainMs / 1000),
    drainMs,
    errors: r.errors,
    loadCpuPercent: (r.cpuMicros / 1e6 / windowS) * 100,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / (windowS + drainMs / 1000)) * 100,
  };
}
