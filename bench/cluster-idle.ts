// Idle devices across cluster nodes: how many this machine holds, and kB per device per node (RSS and heap after full GCs) beside one SQLite node in the same run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connectionCaps } from '../gateway/config/connection-budget.js';
import { gatewayAddresses } from '../test/helpers/e2e-process.js';
import { queryRows } from '../test/helpers/postgres.js';
import { BrokerHost, sqliteGatewayEnv } from './lib/broker-host.js';
import { ClusterParts, OPEN_FILES } from './lib/cluster-parts.js';
import { DeviceFleet, loopbackSources } from './lib/fleet.js';
import type { FleetDevice, FleetStatus } from './lib/fleet-protocol.js';
import { addCounts } from './lib/prometheus.js';
import { HOST_LOG_FILE, type MemorySample } from './lib/host-protocol.js';
import { waitUntil } from './lib/net.js';
import { sleep } from './lib/clients.js';
import { benchRegistryDoc } from './lib/registry.js';
import { assertSeedUsed, seedRegistry } from './lib/seed-registry.js';

export interface ClusterIdleOptions {
  /** Devices asked for across the nodes (the target is 100,000). */
  devices: number;
  /** Nodes to run; null: as many as the devices need at one node's share of the descriptor limit (nodeCapacity()). */
  nodes: number | null;
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
  /**
   * The devices' first connects: held at the first attempt, held after one or more retries (as firmware retries a
   * refusal, RETRY), and never held after every retry; with the nodes' refusals by reason (mqtt_connects_refused_total
   * summed over the nodes) and the devices' own failed attempts by error.
   */
  first_connect: {
    held_first_attempt: number;
    held_after_retries: number;
    gave_up: number;
    refusals_by_reason: Record<string, number>;
    failed_attempts_by_error: Record<string, number>;
    retry: { tries: number; delayMs: number };
    /** Each node's event-loop lag from its start to the end of the connect (max, p99, seconds), beside the 2 s claim bound. */
    event_loop_lag_s: { max: (number | null)[]; p99: (number | null)[] };
  };
  per_node: NodeMemory[];
  /** Medians over the nodes. */
  rss_kb_per_device: number;
  heap_kb_per_device: number;
  /** Redis used_memory per device (presence and aedes' session state of every device). */
  redis_kb_per_device: number;
  /** One gateway on SQLite holding as many devices as one cluster node, in the same run. */
  single_node: NodeMemory;
  target: { devices: number; pass: boolean };
  settings: {
    openFiles: number;
    /** Devices one node holds: the gateway's own MQTT connection cap at this descriptor limit. */
    nodeCapacity: number;
    fleetProcesses: number;
    sourceAddresses: number;
  };
  /** What the shared parts and the kernel had to allow, read with every device connected. */
  limits: {
    /** Connections PostgreSQL accepted while the devices connected (pg_stat_database.sessions): pool churn costs one fork each. */
    postgres: { connections: number; max_connections: number; sessions_during_connect: number | null };
    redis: { clients: number; maxclients: number; used_memory_mb: number };
    kernel: { somaxconn: number | null; conntrack: number | null; conntrack_max: number | null; ephemeral_ports: number | null };
    node_fds: (number | null)[];
  };
  notes: string[];
}

export const CLUSTER_IDLE_TARGET = 100_000;
const SECRET = 'bench-shared-secret-0123456789';
const DEVICES_PER_FLEET_PROCESS = 9000;
const WARMUP = 200;
const SETTLE_MS = 2000;
/** How the devices retry a failed first connect: 5 s, then 10 s, then 20 s, as firmware backs off; then they give up (counted). */
export const RETRY = { tries: 3, delayMs: 5000 };

/**
 * Devices one node holds at `openFiles` descriptors: the gateway's own MQTT cap (gateway/config/connection-budget.ts,
 * 18,848 at 20,000), which refuses the next device at accept. Sizing the nodes past it stalled the session-11 baseline.
 */
export function nodeCapacity(openFiles: number): number {
  return connectionCaps({ http: null, mqtt: null }, openFiles).mqtt;
}

/** Nodes `devices` need when each holds nodeCapacity() (6 for 100,000 at 20,000 descriptors). */
export function nodesFor(devices: number, openFiles: number): number {
  return Math.max(1, Math.ceil(devices / nodeCapacity(openFiles)));
}

export async function runClusterIdleBenchmark(opts: ClusterIdleOptions): Promise<ClusterIdleResult> {
  // One socket per device and node, in a process that may not open more than OPEN_FILES descriptors.
  const capacity = nodeCapacity(OPEN_FILES);
  const nodes = opts.nodes ?? nodesFor(opts.devices, OPEN_FILES);
  const perNode = Math.min(Math.ceil(opts.devices / nodes), capacity);
  const total = Math.min(opts.devices, perNode * nodes);
  let stoppedShort =
    total < opts.devices
      ? `RLIMIT_NOFILE: this machine's hard limit is ${OPEN_FILES} descriptors per process and the bench cannot raise it (no CAP_SYS_RESOURCE), so one node holds at most ${capacity} devices (the gateway's MQTT cap at that limit): ${nodes} nodes hold ${capacity * nodes} of the ${opts.devices} asked for`
      : null;
  opts.log(
    `cluster-idle: ${nodes} nodes${opts.nodes === null ? ` (${opts.devices} devices / ${capacity} per node, the gateway's MQTT cap at ${OPEN_FILES} descriptors)` : ''}, ${perNode} devices each`,
  );
  if (stoppedShort) opts.log(`cluster-idle: ${stoppedShort}`);
  const reg = benchRegistryDoc({ residents: 100, sensors: WARMUP + total, secretOf: () => SECRET });
  const all: FleetDevice[] = reg.sensors.map((d) => ({ id: d.id, secret: d.secret }));
  const warm = all.slice(0, WARMUP);
  const measured = all.slice(WARMUP);
  const sources = loopbackSources(Math.max(4, Math.ceil(total / 10_000)));

  let result: Omit<ClusterIdleResult, 'single_node'>;
  // The cluster first: its figures are logged before the baseline's, and all its processes are gone before the baseline starts.
  const parts = new ClusterParts();
  // The nodes log at warn, each to a file of its own that outlives the run: a refused device leaves its reason there.
  const logDir = mkdtempSync(join(tmpdir(), 'care-bench-idle-logs-'));
  const hosts: BrokerHost[] = [];
  let fleet: DeviceFleet | null = null;
  let redis: Redis | null = null;
  try {
    await parts.start({ nodes: 0, doc: reg.doc, env: {}, log: opts.log });
    const ports: number[] = [];
    for (let i = 1; i <= nodes; i++) {
      const host = new BrokerHost({ openFiles: OPEN_FILES, replyTimeoutMs: 900_000 });
      hosts.push(host);
      const env = {
        ...parts.nodeEnv(`node${i}`, await gatewayAddresses()),
        LOG_LEVEL: 'warn',
        [HOST_LOG_FILE]: join(logDir, `node${i}.log`),
      };
      const started = await host.start('gateway', env);
      assertSeedUsed({ imported: started.registryImported === true }, 'cluster-idle');
      ports.push(started.mqttPort);
    }
    const urls = ports.map((p) => `mqtt://127.0.0.1:${p}`);
    await warmUp(urls, warm, sources, hosts);
    const baselines = await Promise.all(hosts.map((h) => h.memory()));
    redis = new Redis(parts.redis?.url ?? '', { maxRetriesPerRequest: 1 });
    const redisBefore = await usedMemory(redis);
    const sessionsBefore = await postgresSessions(parts);
    // Device i goes to node i % nodes, straight to its port (no balancer: HAProxy would need two descriptors per device).
    fleet = idleFleet(measured, urls, sources);
    const run = await connectAll(fleet, hosts, total, opts.log);
    if (run.shortBy) stoppedShort = [stoppedShort, run.shortBy].filter(Boolean).join('; ');
    const connectS = run.seconds;
    const sessionsAfter = await postgresSessions(parts);
    const sessions = sessionsBefore === null || sessionsAfter === null ? null : sessionsAfter - sessionsBefore;
    opts.log(`cluster-idle: devices connected to ${nodes} nodes in ${connectS.toFixed(1)} s (${fleet.processes} device processes)`);
    const firstConnect = await firstConnectOf(run.status, hosts);
    opts.log(
      `cluster-idle: first connects: ${firstConnect.held_first_attempt} held at the first attempt, ${firstConnect.held_after_retries} after retries, ${firstConnect.gave_up} never held after ${RETRY.tries} retries; the nodes refused ${JSON.stringify(firstConnect.refusals_by_reason)} (mqtt_connects_refused_total by reason), the devices saw ${JSON.stringify(firstConnect.failed_attempts_by_error)}; PostgreSQL accepted ${sessions ?? '?'} connections meanwhile; event-loop lag per node max ${lagText(firstConnect.event_loop_lag_s.max)} s, p99 ${lagText(firstConnect.event_loop_lag_s.p99)} s`,
    );
    await sleep(SETTLE_MS);
    const states = await Promise.all(hosts.map((h) => h.clients()));
    const counts = states.map((c) => c.connected);
    const limits = await sharedLimits(parts, redis, states, sessions);
    opts.log(`cluster-idle: limits with every device connected: ${JSON.stringify(limits)}`);
    const after = await Promise.all(hosts.map((h) => h.memory()));
    const perNodeMemory = after.map((m, i) => nodeMemory(`node${i + 1}`, counts[i] ?? 0, baselines[i] ?? m, m));
    for (const n of perNodeMemory)
      opts.log(
        `cluster-idle: ${n.node}: ${n.devices} devices, RSS ${n.rss_mb.toFixed(0)} MiB, ${n.rss_kb_per_device.toFixed(2)} kB RSS / ${n.heap_kb_per_device.toFixed(2)} kB heap per device`,
      );
    const redisKb = (await usedMemory(redis)) - redisBefore;
    const devices = counts.reduce((a, b) => a + b, 0);
    opts.log(
      `cluster-idle: Redis used_memory grew ${(redisKb / 2 ** 20).toFixed(1)} MiB, ${(redisKb / 1024 / Math.max(1, devices)).toFixed(2)} kB per device`,
    );
    result = {
      requested: opts.devices,
      devices,
      nodes,
      stopped_short: stoppedShort,
      connect_s: connectS,
      connects_per_s: devices / connectS,
      first_connect: firstConnect,
      per_node: perNodeMemory,
      rss_kb_per_device: median(perNodeMemory.map((n) => n.rss_kb_per_device)),
      heap_kb_per_device: median(perNodeMemory.map((n) => n.heap_kb_per_device)),
      redis_kb_per_device: redisKb / 1024 / Math.max(1, devices),
      target: { devices: CLUSTER_IDLE_TARGET, pass: devices >= CLUSTER_IDLE_TARGET },
      settings: { openFiles: OPEN_FILES, nodeCapacity: capacity, fleetProcesses: fleet.processes, sourceAddresses: sources.length },
      limits,
      notes: [
        `${nodes} nodes because one process may hold ${OPEN_FILES} descriptors here (hard RLIMIT_NOFILE, not raisable without CAP_SYS_RESOURCE) and the gateway then caps MQTT at ${capacity} connections (the rest is its HTTP cap and reserve), so ${opts.devices} devices need ${nodesFor(opts.devices, OPEN_FILES)} nodes`,
        `each node is the real gateway (PostgreSQL, Redis, GATEWAY_NODE_ID) alone in a child process started with --expose-gc and 'ulimit -n ${OPEN_FILES}' (bench/lib/broker-host.ts); memory is read after three full GCs, before any measured device and after all of them idled ${SETTLE_MS / 1000} s`,
        `devices: mqtt.js (keepalive 60 s, no will, no subscription, as the connections benchmark) in ${fleet.processes} child process(es), straight to each node's own port from ${sources.length} loopback source addresses, so no address:port pair runs out of the ${portRange()} ephemeral ports`,
        'every device shares one secret, hashed once and written into PostgreSQL before start; the first CONNECT of each device still runs one scrypt on its node',
        `a device whose first connect fails (a CONNACK refusal, a reset) tries again after ${RETRY.delayMs / 1000} s, doubling, ${RETRY.tries} times at most, as firmware does; 'held at the first attempt' counts the devices that needed none`,
        'the nodes log at warn, each to its own file (path in the log), so a refusal leaves its reason there too',
      ],
    };
  } finally {
    redis?.disconnect();
    await fleet?.stop();
    for (const h of hosts) await h.stop().catch(() => undefined);
    await parts.stop();
    opts.log(`cluster-idle: node logs (warn and up) in ${logDir}: ${JSON.stringify(logSummary(logDir, hosts.length))}`);
  }
  const single = await singleNode(reg.doc, warm, measured.slice(0, perNode), sources, opts);
  return { ...result, single_node: single };
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
    const started = await host.start('gateway', sqliteGatewayEnv(join(dir, 'data'), seeded.path));
    assertSeedUsed({ imported: started.registryImported === true }, 'cluster-idle single node');
    const url = `mqtt://127.0.0.1:${started.mqttPort}`;
    await warmUp([url], warm, sources, [host]);
    const baseline = await host.memory();
    fleet = idleFleet(devices, [url], sources);
    const run = await connectAll(fleet, [host], devices.length, opts.log);
    // The baseline is only a baseline when it holds what one cluster node holds: a refusal here is an error, not a figure.
    if (run.shortBy) throw new Error(`cluster-idle single node: ${run.shortBy}`);
    const connectS = run.seconds;
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

/**
 * Connects the fleet and waits for the nodes to count every device that got its CONNACK. Each device connects, or is
 * refused at every try (RETRY) and gives up: a node at its cap ends this with the refusals explained (by mqtt.js'
 * error, the nodes' own refusal counters and descriptors), never a wait until a time-out.
 */
async function connectAll(
  fleet: DeviceFleet,
  hosts: BrokerHost[],
  total: number,
  log: (line: string) => void,
): Promise<{ seconds: number; shortBy: string | null; status: FleetStatus }> {
  const started = performance.now();
  const progress = setInterval(() => {
    void Promise.all(hosts.map((h) => h.connected())).then(
      (c) => log(`cluster-idle: ${c.reduce((a, b) => a + b, 0)} of ${total} connected (${c.join(' / ')})`),
      () => undefined,
    );
  }, 30_000);
  try {
    await fleet.connect();
    const status = await fleet.status();
    await waitUntil(
      async () => (await Promise.all(hosts.map((h) => h.connected()))).reduce((a, b) => a + b, 0) >= status.connected,
      60_000,
      `${status.connected} devices on the nodes`,
      500,
    );
    const seconds = (performance.now() - started) / 1000;
    const refused = status.devices - status.connected;
    if (refused === 0) return { seconds, shortBy: null, status };
    const states = await Promise.all(hosts.map((h) => h.clients()));
    // A device that got its CONNACK and was closed later is "lost"; one closed before it is a failed attempt, by error.
    const shortBy = `${refused} of ${status.devices} devices not held: ${status.failedAttempts} refused before CONNACK (${JSON.stringify(status.failures)}), ${status.lost} closed after it; the nodes refused ${states
      .map((c) => c.refused)
      .join(' / ')} at their MQTT cap, holding ${states.map((c) => c.connected).join(' / ')} devices and ${states
      .map((c) => c.openFds ?? '?')
      .join(' / ')} descriptors`;
    log(`cluster-idle: ${shortBy}`);
    return { seconds, shortBy, status };
  } finally {
    clearInterval(progress);
  }
}

/** The devices' first connects as the fleet counted them, beside the nodes' own refusal counts by reason. */
async function firstConnectOf(status: FleetStatus, hosts: BrokerHost[]): Promise<ClusterIdleResult['first_connect']> {
  // One read per node: its event-loop lag figures start afresh at each read of /metrics.
  const scraped = await Promise.all(hosts.map((h) => h.scrape()));
  return {
    held_first_attempt: status.heldFirstAttempt,
    held_after_retries: status.heldAfterRetry,
    gave_up: status.gaveUp,
    refusals_by_reason: addCounts(scraped.map((m) => m?.refusals ?? {})),
    failed_attempts_by_error: status.failures,
    retry: RETRY,
    event_loop_lag_s: { max: scraped.map((m) => m?.loopLagMaxS ?? null), p99: scraped.map((m) => m?.loopLagP99S ?? null) },
  };
}

function lagText(xs: (number | null)[]): string {
  return xs.map((x) => (x === null ? '?' : x.toFixed(3))).join(' / ');
}

/** Connections the database server accepted since it started (PostgreSQL 14+), or null when it cannot say. */
async function postgresSessions(parts: ClusterParts): Promise<number | null> {
  const rows = await queryRows<{ sessions: string | null }>(
    parts.databaseUrl,
    'SELECT sum(sessions)::text AS sessions FROM pg_stat_database',
  ).catch(() => []);
  const n = Number(rows[0]?.sessions ?? Number.NaN);
  return Number.isFinite(n) ? n : null;
}

/** PostgreSQL and Redis connections against their limits, and the kernel's, with every device connected. */
async function sharedLimits(
  parts: ClusterParts,
  redis: Redis,
  states: { openFds: number | null }[],
  sessions: number | null,
): Promise<ClusterIdleResult['limits']> {
  const [pg] = await queryRows<{ connections: string; max_connections: string }>(
    parts.databaseUrl,
    "SELECT count(*)::text AS connections, current_setting('max_connections') AS max_connections FROM pg_stat_activity",
  );
  const clients = await redis.info('clients');
  const maxclients = (await redis.config('GET', 'maxclients')) as string[];
  const ports = readSys('net/ipv4/ip_local_port_range', (t) => {
    const [lo, hi] = t.split(/\s+/).map(Number);
    return (hi ?? 0) - (lo ?? 0) + 1;
  });
  return {
    postgres: {
      connections: Number(pg?.connections ?? 0),
      max_connections: Number(pg?.max_connections ?? 0),
      sessions_during_connect: sessions,
    },
    redis: {
      clients: Number(/connected_clients:(\d+)/.exec(clients)?.[1] ?? 0),
      maxclients: Number(maxclients[1] ?? 0),
      used_memory_mb: (await usedMemory(redis)) / 2 ** 20,
    },
    kernel: {
      somaxconn: readSys('net/core/somaxconn', Number),
      conntrack: readSys('net/netfilter/nf_conntrack_count', Number),
      conntrack_max: readSys('net/netfilter/nf_conntrack_max', Number),
      ephemeral_ports: ports,
    },
    node_fds: states.map((s) => s.openFds),
  };
}

/** Each node's log lines counted by message (and error, for a refusal's cause), so the report says what went wrong where. */
export function logSummary(dir: string, nodes: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (let i = 1; i <= nodes; i++) {
    const counts: Record<string, number> = {};
    let text = '';
    try {
      text = readFileSync(join(dir, `node${i}.log`), 'utf8');
    } catch {
      // A node that logged nothing has no file yet.
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let key = line.slice(0, 120);
      try {
        const entry = JSON.parse(line) as { msg?: unknown; err?: unknown };
        const err =
          typeof entry.err === 'string'
            ? entry.err
            : typeof entry.err === 'object' && entry.err
              ? String(Reflect.get(entry.err, 'message'))
              : '';
        key = `${String(entry.msg)}${err ? `: ${err.replace(/\d+/g, 'N').slice(0, 80)}` : ''}`;
      } catch {
        // Not JSON: counted by its start.
      }
      counts[key] = (counts[key] ?? 0) + 1;
    }
    out[`node${i}`] = counts;
  }
  return out;
}

function readSys(path: string, parse: (text: string) => number): number | null {
  try {
    return parse(readFileSync(`/proc/sys/${path}`, 'utf8').trim());
  } catch {
    return null;
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
    retry: RETRY,
    // 9,000 devices of one child at 3-4 CONNECTs a second (a sixth of a loaded cluster's rate) take 40 minutes: the
    // session-12 full run hit the default 15. A refusal no longer holds a child, so this only bounds a slow cluster.
    connectTimeoutMs: 3 * 3600_000,
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
