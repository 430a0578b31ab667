// Memory of idle connected devices: the gateway against a bare aedes holding the same connections, each broker alone in its own process, the devices in another.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundLoad } from './lib/background-load.js';
import { BrokerHost, sqliteGatewayEnv } from './lib/broker-host.js';
import type { DeviceCredentials } from './lib/clients.js';
import type { HostMode, MemorySample } from './lib/host-protocol.js';
import { waitUntil } from './lib/net.js';
import { assertSeedUsed, seedRegistry } from './lib/seed-registry.js';
import { sharedSecretRegistry } from './lib/shared-registry.js';
import { spread, type Spread } from './lib/stats.js';
import { sleep } from './lib/clients.js';

export interface ConnectionsOptions {
  devices: number;
  runs: number;
  /** Devices connected and dropped once before the baseline, so JIT code and pools are already in it. */
  warmupDevices: number;
  log: (line: string) => void;
}

export interface ConnectionsRound {
  run: number;
  connectMs: number;
  /** Bytes per device above the same process's baseline (no device connected). */
  rssPerDevice: number;
  heapPerDevice: number;
  externalPerDevice: number;
  rssMb: number;
}

export interface ModeResult {
  mode: HostMode;
  baseline: MemorySample;
  rounds: ConnectionsRound[];
  rssKbPerDevice: Spread;
  heapKbPerDevice: Spread;
}

export interface ConnectionsResult {
  devices: number;
  /** RSS of the gateway process with every device connected (median of rounds). */
  rss_mb: number;
  /** RSS per device of the gateway above bare aedes (medians of rounds); the target is <= 15. */
  kb_per_device: number;
  heap_kb_per_device: number;
  target: { limitKb: number; pass: boolean };
  gateway: ModeResult;
  aedes: ModeResult;
  open_files_limit: number;
  notes: string[];
}

export const CONNECTIONS_TARGET_KB = 15;
const OPEN_FILES = 20_000;
const SECRET = 'bench-shared-secret-0123456789';
const SETTLE_MS = 2000;

export async function runConnectionsBenchmark(opts: ConnectionsOptions): Promise<ConnectionsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-conn-'));
  try {
    // Sensors 0..warmup-1 warm up; the next `devices` are measured.
    const reg = sharedSecretRegistry({ residents: 100, sensors: opts.warmupDevices + opts.devices, secret: SECRET });
    const seeded = await seedRegistry(dir, join(dir, 'data'), reg.doc);
    opts.log(
      `connections: registry of ${reg.sensors.length} devices seeded in ${Math.round(seeded.ms)} ms (one shared secret, hashed once)`,
    );
    const warm = reg.sensors.slice(0, opts.warmupDevices);
    const measured = reg.sensors.slice(opts.warmupDevices);
    const env = sqliteGatewayEnv(join(dir, 'data'), seeded.path);
    const aedes = await measureMode('aedes', {}, warm, measured, opts);
    const gateway = await measureMode('gateway', env, warm, measured, opts);
    const kb = gateway.rssKbPerDevice.median - aedes.rssKbPerDevice.median;
    return {
      devices: opts.devices,
      rss_mb: spread(gateway.rounds.map((r) => r.rssMb)).median,
      kb_per_device: kb,
      heap_kb_per_device: gateway.heapKbPerDevice.median - aedes.heapKbPerDevice.median,
      target: { limitKb: CONNECTIONS_TARGET_KB, pass: kb <= CONNECTIONS_TARGET_KB },
      gateway,
      aedes,
      open_files_limit: OPEN_FILES,
      notes: [
        `each broker runs alone in a child process started with --expose-gc and 'ulimit -n ${OPEN_FILES}'; the devices (mqtt.js, keepalive 60 s) run in another child with the same limit`,
        'memory is read after three full GCs, with every device connected and idle for 2 s, minus the same process before any measured device connected',
        "every bench device shares one secret, hashed once with the gateway's scrypt and written into the store before start (the gateway skips the import of an unchanged registry)",
        "the first round pays one scrypt per device at CONNECT; later rounds reconnect through the gateway's verified-secret cache, whose entries stay in every round's figure",
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureMode(
  mode: HostMode,
  env: Record<string, string>,
  warm: DeviceCredentials[],
  measured: DeviceCredentials[],
  opts: ConnectionsOptions,
): Promise<ModeResult> {
  const host = new BrokerHost({ openFiles: OPEN_FILES, replyTimeoutMs: 600_000 });
  try {
    const started = await host.start(mode, env);
    if (mode === 'gateway') assertSeedUsed({ imported: started.registryImported === true }, 'connections');
    const url = `mqtt://127.0.0.1:${started.mqttPort}`;
    if (warm.length > 0) {
      await connectAndDrop(url, warm, host);
    }
    const baseline = await host.memory();
    const rounds: ConnectionsRound[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const load = new BackgroundLoad({ url, devices: measured, concurrency: 64, openFiles: OPEN_FILES, replyTimeoutMs: 600_000 });
      try {
        const { ms } = await load.start();
        await waitUntil(
          async () => (await host.connected()) >= measured.length,
          60_000,
          `${measured.length} devices connected to ${mode}`,
          200,
        );
        await sleep(SETTLE_MS);
        const m = await host.memory();
        const n = measured.length;
        const round: ConnectionsRound = {
          run,
          connectMs: ms,
          rssPerDevice: (m.rss - baseline.rss) / n,
          heapPerDevice: (m.heapUsed - baseline.heapUsed) / n,
          externalPerDevice: (m.external - baseline.external) / n,
          rssMb: m.rss / 2 ** 20,
        };
        rounds.push(round);
        opts.log(
          `connections ${mode} run ${run}: ${n} devices connected in ${ms} ms; RSS ${round.rssMb.toFixed(0)} MiB, ` +
            `${(round.rssPerDevice / 1024).toFixed(2)} kB RSS / ${(round.heapPerDevice / 1024).toFixed(2)} kB heap per device above baseline`,
        );
      } finally {
        await load.stop();
      }
      await waitUntil(async () => (await host.connected()) === 0, 30_000, `${mode} to see every device gone`, 200);
    }
    return {
      mode,
      baseline,
      rounds,
      rssKbPerDevice: spread(rounds.map((r) => r.rssPerDevice / 1024)),
      heapKbPerDevice: spread(rounds.map((r) => r.heapPerDevice / 1024)),
    };
  } finally {
    await host.stop();
  }
}

async function connectAndDrop(url: string, devices: DeviceCredentials[], host: BrokerHost): Promise<void> {
  const load = new BackgroundLoad({ url, devices, concurrency: 64, openFiles: OPEN_FILES });
  try {
    await load.start();
  } finally {
    await load.stop();
  }
  await waitUntil(async () => (await host.connected()) === 0, 30_000, 'warm-up devices gone', 100);
}
