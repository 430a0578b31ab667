// Idle devices across cluster nodes: how many this machine holds, and kB per device per node (RSS and heap after full GCs) beside one SQLite node in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { gatewayAddresses } from '../test/helpers/e2e-process.js';
import { BrokerHost } from './lib/broker-host.js';
import { ClusterParts, OPEN_FILES } from './lib/cluster-parts.js';
import { DeviceFleet, loopbackSources } from './lib/fleet.js';
import type { FleetDevice } from './lib/fleet-protocol.js';
import type { MemorySample } from './lib/host-protocol.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';
import { waitUntil } from './lib/net.js';
import { sleep } from './lib/clients.js';
import { benchRegistryDoc } from './lib/registry.js';
import { assertSeedUsed, seedRegistry } from './lib/seed-registry.js';

export interface ClusterIdleOptions {
  /** Devices asked for across the nodes (the target is 100,000). */
  devices: number;
  nodes: number;
  log: (line: string) => void;
}

export interface NodeMemory {
  node: string;
  devices: number;
  rss_mb: number;
  rss_kb_per_device: number;
  heap_kb_per_device: number;
}

export interface ClusterIdleResult {
  requested: number;
  /** Devices connected and idle across the nodes at the end. */
  devices: number;
  nodes: number;
  /** Why fewer than requested, with the numbers; null when all connected. */
  stopped_short: string | null;
  connect_s: number;
  connects_per_s: number;
  per_node: NodeMemory[];
  /** Medians over the nodes. */
  rss_kb_per_device: number;
  heap_kb_per_device: number;
  /** Redis used_memory per device (presence and aedes' session state of every device). */
  redis_kb_per_device: number;
  /** One gateway on SQLite holding as many devices as one cluster node, in the same run. */
  single_node: NodeMemory;
  target: { devices: number; pass: boolean };
  settings: { openFiles: number; fleetProcesses: number; sourceAddresses: number };
  notes: string[];
}

export const CLUSTER_IDLE_TARGET = 100_000;
const SECRET = 'bench-shared-secret-0123456789';
/** Descriptors a node needs besides its devices: PostgreSQL pool, Redis, listeners, SQLite and log files. */
const NODE_RESERVE_FDS = 400;
const DEVICES_PER_FLEET_PROCESS = 9000;
const WARMUP = 200;
const SETTLE_MS = 2000;

export async function runClusterIdleBenchmark(opts: ClusterIdleOptions): Promise<ClusterIdleResult> {
  // One socket per device and node, in a process that may not open more than OPEN_FILES descriptors.
  const perNodeCap = OPEN_FILES - NODE_RESERVE_FDS;
  const perNode = Math.min(Math.ceil(opts.devices / opts.nodes), perNodeCap);
  const total = Math.min(opts.devices, perNode * opts.nodes);
  const stoppedShort =
    total < opts.devices
      ? `RLIMIT_NOFILE: this machine's hard limit is ${OPEN_FILES} descriptors per process and the bench cannot raise it (no CAP_SYS_RESOURCE), so one node holds at most ${perNodeCap} devices (${NODE_RESERVE_FDS} kept for its other files): ${opts.nodes} nodes hold ${perNodeCap * opts.nodes} of the ${opts.devices} asked for`
      : null;
  if (stoppedShort) opts.log(`cluster-idle: ${stoppedShort}`);
  const reg = benchRegistryDoc({ residents: 100, sensors: WARMUP + total, secretOf: () => SECRET });
  const all: FleetDevice[] = reg.sensors.map((d) => ({ id: d.id, secret: d.secret }));
  const warm = all.slice(0, WARMUP);
  const measured = all.slice(WARMUP);
  const sources = loopbackSources(Math.max(4, Math.ceil(total / 10_000)));

  const single = await singleNode(reg.doc, warm, measured.slice(0, perNode), sources, opts);

  const parts = new ClusterParts();
  const hosts: BrokerHost[] = [];
  let fleet: DeviceFleet | null = null;
  let redis: Redis | null = null;
  try {
    await parts.start({ nodes: 0, doc: reg.doc, env: {}, log: opts.log });
    const ports: number[] = [];
    for (let i = 1; i <= opts.nodes; i++) {
      const host = new BrokerHost({ openFiles: OPEN_FILES, replyTimeoutMs: 900_000 });
      hosts.push(host);
      const started = await host.start('gateway', parts.nodeEnv(`node${i}`, await gatewayAddresses()));
      assertSeedUsed({ imported: started.registryImported === true }, 'cluster-idle');
      ports.push(started.mqttPort);
    }
    const urls = ports.map((p) => `mqtt://127.0.0.1:${p}`);
    await warmUp(urls, warm, sources, hosts);
    const baselines = await Promise.all(hosts.map((h) => h.memory()));
    redis = new Redis(parts.redis?.url ?? '', { maxRetriesPerRequest: 1 });
    const redisBefore = await usedMemory(redis);
    // Device i goes to node i % nodes, straight to its port (no balancer: HAProxy would need two descriptors per device).
    fleet = idleFleet(measured, urls, sources);
    const started = performance.now();
    const connected = await fleet.connect();
    await waitUntil(
      async () => (await Promise.all(hosts.map((h) => h.connected()))).reduce((a, b) => a + b, 0) >= total,
      600_000,
      `${total} devices on the nodes`,
      500,
    );
    const connectS = (performance.now() - started) / 1000;
    opts.log(
      `cluster-idle: ${connected.count} devices connected to ${opts.nodes} nodes in ${connectS.toFixed(1)} s (${fleet.processes} device processes)`,
    );
    await sleep(SETTLE_MS);
    const counts = await Promise.all(hosts.map((h) => h.connected()));
    const after = await Promise.all(hosts.map((h) => h.memory()));
    const perNodeMemory = after.map((m, i) => nodeMemory(`node${i + 1}`, counts[i] ?? 0, baselines[i] ?? m, m));
    for (const n of perNodeMemory)
      opts.log(
        `cluster-idle: ${n.node}: ${n.devices} devices, RSS ${n.rss_mb.toFixed(0)} MiB, ${n.rss_kb_per_device.toFixed(2)} kB RSS / ${n.heap_kb_per_device.toFixed(2)} kB heap per device`,
      );
    const redisKb = (await usedMemory(redis)) - redisBefore;
    const devices = counts.reduce((a, b) => a + b, 0);
    return {
      requested: opts.devices,
      devices,
      nodes: opts.nodes,
      stopped_short: stoppedShort,
      connect_s: connectS,
      connects_per_s: total / connectS,
      per_node: perNodeMemory,
      rss_kb_per_device: median(perNodeMemory.map((n) => n.rss_kb_per_device)),
      heap_kb_per_device: median(perNodeMemory.map((n) => n.heap_kb_per_device)),
      redis_kb_per_device: redisKb / 1024 / Math.max(1, devices),
      single_node: single,
      target: { devices: CLUSTER_IDLE_TARGET, pass: devices >= CLUSTER_IDLE_TARGET },
      settings: { openFiles: OPEN_FILES, fleetProcesses: fleet.processes, sourceAddresses: sources.length },
      notes: [
        `each node is the real gateway (PostgreSQL, Redis, GATEWAY_NODE_ID) alone in a child process started with --expose-gc and 'ulimit -n ${OPEN_FILES}' (bench/lib/broker-host.ts); memory is read after three full GCs, before any measured device and after all of them idled ${SETTLE_MS / 1000} s`,
        `devices: mqtt.js (keepalive 60 s, no will, no subscription, as the connections benchmark) in ${fleet.processes} child process(es), straight to each node's own port from ${sources.length} loopback source addresses, so no address:port pair runs out of the ${portRange()} ephemeral ports`,
        'every device shares one secret, hashed once and written into PostgreSQL before start; the first CONNECT of each device still runs one scrypt on its node',
      ],
    };
  } finally {
    redis?.disconnect();
    await fleet?.stop();
    for (const h of hosts) await h.stop().catch(() => undefined);
    await parts.stop();
  }
}

/** One gateway on SQLite with the same devices one cluster node holds. */
async function singleNode(
  doc: ReturnType<typeof benchRegistryDoc>['doc'],
  warm: FleetDevice[],
  devices: FleetDevice[],
  sources: string[],
  opts: ClusterIdleOptions,
): Promise<NodeMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-idle-'));
  const host = new BrokerHost({ openFiles: OPEN_FILES, replyTimeoutMs: 900_000 });
  let fleet: DeviceFleet | null = null;
  try {
    const seeded = await seedRegistry(dir, join(dir, 'data'), doc);
    const started = await host.start('gateway', {
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      REGISTRY_FILE: seeded.path,
      TZ: 'Asia/Shanghai',
      LOG_LEVEL: 'silent',
      ...DEVICE_LIMITS_OFF,
    });
    assertSeedUsed({ imported: started.registryImported === true }, 'cluster-idle single node');
    const url = `mqtt://127.0.0.1:${started.mqttPort}`;
    await warmUp([url], warm, sources, [host]);
    const baseline = await host.memory();
    fleet = idleFleet(devices, [url], sources);
    const t0 = performance.now();
    await fleet.connect();
    await waitUntil(async () => (await host.connected()) >= devices.length, 600_000, `${devices.length} devices on the single node`, 500);
    const connectS = (performance.now() - t0) / 1000;
    await sleep(SETTLE_MS);
    const m = nodeMemory('single (SQLite)', await host.connected(), baseline, await host.memory());
    opts.log(
      `cluster-idle: single node: ${m.devices} devices connected in ${connectS.toFixed(1)} s, ${m.rss_kb_per_device.toFixed(2)} kB RSS / ${m.heap_kb_per_device.toFixed(2)} kB heap per device`,
    );
    return m;
  } finally {
    await fleet?.stop();
    await host.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function idleFleet(devices: FleetDevice[], urls: string[], sources: string[]): DeviceFleet {
  return new DeviceFleet(devices, {
    urls,
    localAddresses: sources,
    reconnectPeriodMs: 0,
    keepaliveS: 60,
    presence: false,
    perProcess: DEVICES_PER_FLEET_PROCESS,
    openFiles: OPEN_FILES,
    concurrency: 64,
  });
}

/** Devices that connect and leave before the baseline, so JIT code and pools are already in it. */
async function warmUp(urls: string[], warm: FleetDevice[], sources: string[], hosts: BrokerHost[]): Promise<void> {
  const fleet = idleFleet(warm, urls, sources);
  try {
    await fleet.connect();
  } finally {
    await fleet.stop();
  }
  await waitUntil(
    async () => (await Promise.all(hosts.map((h) => h.connected()))).every((n) => n === 0),
    60_000,
    'warm-up devices gone',
    200,
  );
}

function nodeMemory(node: string, devices: number, before: MemorySample, after: MemorySample): NodeMemory {
  const n = Math.max(1, devices);
  return {
    node,
    devices,
    rss_mb: after.rss / 2 ** 20,
    rss_kb_per_device: (after.rss - before.rss) / n / 1024,
    heap_kb_per_device: (after.heapUsed - before.heapUsed) / n / 1024,
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function portRange(): string {
  return '32768–60999 (28,232)';
}
