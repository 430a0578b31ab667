// Failover: SIGKILL the cluster node that holds N devices (behind HAProxy on the shipped config) and time until every device is back on the survivors and a new alarm pages.
import { Redis } from 'ioredis';
import { willSetKey } from '../gateway/broker/will-store.js';
import { busiest, connectionsTo, FailoverTimeline, type TimelineSummary } from './lib/failover-timeline.js';
import { findNodePids } from './lib/node-cpu.js';
import { metricsTexts, scrapeNodes, snapshotDelta, type MetricsSnapshot } from './lib/node-metrics.js';
import { addCounts, countsSince, readCounterByLabel } from './lib/prometheus.js';
import { httpGet } from '../test/helpers/e2e-process.js';
import { benchRegistryDoc, residentIndexIn, residentName } from './lib/registry.js';
import { ClusterParts, nodeDevices, OPEN_FILES, type NodeHandle } from './lib/cluster-parts.js';
import { DeviceFleet, loopbackSources } from './lib/fleet.js';
import { fromMonotonic, toMonotonic } from './lib/monotonic.js';
import { waitUntil } from './lib/net.js';
import { sleep } from './lib/clients.js';
import { summarize, type LatencySummary } from './lib/stats.js';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  connectCosts,
  logEveryStatement,
  logOffset,
  redisCommandCalls,
  statementsBetween,
  type ConnectCosts,
} from './lib/connect-costs.js';

export interface FailoverOptions {
  devices: number;
  /** mqtt.js reconnectPeriod of every device (its default, 1000 ms). */
  reconnectPeriodMs: number;
  /** CLUSTER_HEARTBEAT_MS of the nodes (the default, 10 s: a node silent for three is dead and its wills are replayed). */
  heartbeatMs: number;
  /** HAProxy's health-check interval (the shipped `inter 2s`, `fall 2`). */
  checkInterval: string;
  /**
   * BENCH_CPU_PROFILE=<dir>: the survivors run under `node --cpu-prof` (one .cpuprofile each in <dir>/<node>, written at
   * their stop; window.json gives the SIGKILL..last-reconnect window for `bench/profile-top.ts --window`), and
   * PostgreSQL logs every statement so the statements per CONNECT can be counted. Both slow the nodes: profile runs are
   * for where the time goes, not for the figure.
   */
  profileDir: string | null;
  log: (line: string) => void;
}

export interface FailoverResult {
  devices: number;
  /** SIGKILL -> the last of the killed node's devices has a CONNACK from a survivor. */
  reconnect_all_s: number;
  /** SIGKILL -> each device's CONNACK from a survivor, seconds. */
  reconnect_s: LatencySummary;
  /** SIGKILL -> HAProxy's runtime API shows the dead node out of rotation (null: still UP when every device was back). */
  balancer_marked_down_s: number | null;
  /** SIGKILL -> the SMS request of an SOS sent right after the last reconnect reaches the SMS simulator. */
  alarm_after_failover_s: number;
  /** That SOS alone: PUBLISH -> SMS request. */
  alarm_publish_to_sms_ms: number;
  /** SOS sent every `continuous.everyMs` from the SIGKILL on, by buttons of the killed node: each must page. */
  continuous: { sent: number; paged: number; everyMs: number; first_paged_after_kill_s: number | null; publish_to_sms_ms: LatencySummary };
  /** SIGKILL -> no will of the dead node left in Redis (a survivor replayed them all). */
  wills_replayed_s: number | null;
  /** Devices of the killed node the survivors show offline after the replay and every reconnect: must be 0. */
  wrongly_offline: number;
  /** Devices per survivor (their /healthz) at the end. */
  survivors: Record<string, number | null>;
  /** Profile runs only: PostgreSQL statements per survivor and Redis commands, per device reconnected, in the window. */
  connect_costs: ConnectCosts | null;
  /** Where the reconnects waited: HAProxy's connections to the survivors, their accepted sockets, CPU and run-queue waits, every 0.5 s. */
  timeline: TimelineSummary | null;
  /**
   * The survivors' shared secret cache over the window, look-ups by outcome (device_secret_cache_lookups_total): a hit
   * is one HMAC; anything else costs the device a scrypt.
   */
  secret_lookups: Record<string, number>;
  /** Each survivor's garbage collection over the window (its nodejs_gc_duration_seconds), seconds and collections by kind. */
  survivors_gc: Record<string, Record<string, { s: number; n: number }>>;
  failed_attempts: number;
  /** Those attempts by the error mqtt.js gave ('closed': none, the connection just ended). */
  failures: Record<string, number>;
  balancers: number;
  target: { limitS: number; pass: boolean };
  settings: { reconnectPeriodMs: number; heartbeatMs: number; checkInterval: string; fleetProcesses: number; sourceAddresses: number };
  setup: { seedMs: number; connectMs: number };
  notes: string[];
}

export const FAILOVER_TARGET_S = 10;
const SECRET = 'bench-shared-secret-0123456789';
/** Descriptors one HAProxy may use here: two per balanced connection, below the hard limit with room for its listeners and checks. */
const HAPROXY_MAXCONN = Math.floor((OPEN_FILES - 200) / 2);
const DEVICES_PER_FLEET_PROCESS = 5000;
const BUTTONS = 200;
const CONTINUOUS_EVERY_MS = 250;

export async function runFailoverBenchmark(opts: FailoverOptions): Promise<FailoverResult> {
  const parts = new ClusterParts();
  let fleet: DeviceFleet | null = null;
  let redis: Redis | null = null;
  try {
    const buttons = Math.min(BUTTONS, opts.devices);
    const reg = benchRegistryDoc({ residents: buttons, sensors: opts.devices - buttons, secretOf: () => SECRET });
    await parts.start({
      nodes: 3,
      doc: reg.doc,
      env: { CLUSTER_HEARTBEAT_MS: String(opts.heartbeatMs), MQTT_PROXY_PROTOCOL: 'on', MQTT_PROXY_FROM: '127.0.0.1' },
      nodeFlags: (name) => (opts.profileDir && name !== 'node1' ? cpuProfileFlags(opts.profileDir, name) : []),
      log: opts.log,
    });
    const [doomed, ...survivors] = parts.nodes as [NodeHandle, NodeHandle, NodeHandle];
    // HAProxy needs two descriptors per device: one process holds fewer than 10,000 devices on this machine.
    const balancers = Math.ceil(opts.devices / (HAPROXY_MAXCONN - 100));
    await parts.startBalancers(balancers, { checkInterval: opts.checkInterval, maxconn: HAPROXY_MAXCONN });
    // Only the node to be killed is in rotation while the devices connect: every device lands on it.
    for (const h of parts.balancers) for (const n of [2, 3] as const) await h.setMaintenance(n, true);

    const devices = [...reg.buttons, ...reg.sensors].map((d) => ({ id: d.id, secret: d.secret }));
    const sources = loopbackSources(Math.ceil(opts.devices / 50));
    fleet = new DeviceFleet(devices, {
      urls: parts.balancers.map((h) => h.mqttUrl),
      localAddresses: sources,
      reconnectPeriodMs: opts.reconnectPeriodMs,
      keepaliveS: 60,
      presence: true,
      perProcess: DEVICES_PER_FLEET_PROCESS,
      openFiles: OPEN_FILES,
      concurrency: 64,
    });
    const connected = await fleet.connect();
    opts.log(
      `failover: ${connected.count} devices connected to ${doomed.name} through ${balancers} HAProxy in ${connected.ms} ms (${fleet.processes} device processes)`,
    );
    await waitUntil(async () => (await nodeDevices(doomed)) === opts.devices, 120_000, `${doomed.name} holding every device`, 250);
    for (const h of parts.balancers) for (const n of [2, 3] as const) await h.setMaintenance(n, false);
    await waitUntil(
      async () =>
        (await Promise.all(parts.balancers.flatMap((h) => [h.status('gateway_mqtt', 2), h.status('gateway_mqtt', 3)]))).every(
          (s) => s === 'UP',
        ),
      60_000,
      'the survivors back in rotation',
      200,
    );
    redis = new Redis(parts.redis?.url ?? '', { maxRetriesPerRequest: 1 });
    const deadWills = async (): Promise<number> => await redis!.scard(willSetKey(doomed.name));
    const willsBefore = await deadWills();
    await sleep(1000);

    // Every SMS names its resident: the first arrival per resident is its alarm's page.
    const arrivals = new Map<number, number>();
    parts.sms?.on('message', (m: { body: string; receivedHr: number }) => {
      const i = residentIndexIn(m.body);
      if (i !== null && !arrivals.has(i)) arrivals.set(i, m.receivedHr);
    });

    const pgLog = parts.postgres ? join(parts.postgres.dir, 'server.log') : null;
    if (opts.profileDir && parts.databaseUrl) await logEveryStatement(parts.databaseUrl);
    const redisBefore = await redisCommandCalls(redis);
    const pgFrom = opts.profileDir && pgLog ? logOffset(pgLog) : 0;
    await fleet.mark();
    const survivorPids = new Map<string, number>();
    for (const n of survivors) {
      // npm and sh above the node process carry its environment too: the node is the one holding its sockets.
      const pid = busiest([...findNodePids([n.addresses.httpPort]).keys()]);
      if (pid !== null) survivorPids.set(n.name, pid);
    }
    const survivorNames = survivors.map((n) => n.name);
    const gcBefore = await gcOf(survivors);
    const secretsBefore = await secretLookupsOf(survivors);
    const killedAt = performance.now();
    const survivorOf = new Map([...survivorPids].map(([name, pid]) => [pid, name]));
    const timeline = new FailoverTimeline({
      pids: survivorPids,
      startHr: killedAt,
      roleOf: (pid, cmdline) => survivorOf.get(pid) ?? hostRole(pid, cmdline),
      balancer: async () => {
        let total = 0;
        for (const b of parts.balancers) total += connectionsTo(await b.command('show stat'), survivorNames);
        return total;
      },
    });
    timeline.start();
    parts.kill(doomed);
    opts.log(`failover: SIGKILL ${doomed.name} (${willsBefore} wills of it in Redis)`);

    // Buttons 1.. of the killed node send one SOS each, every CONTINUOUS_EVERY_MS, until every device is back.
    const sent = new Map<number, number>();
    let next = 1;
    let allBack = false;
    const fl = fleet;
    const continuous = (async () => {
      while (!allBack && next < buttons) {
        const i = next++;
        sent.set(i, performance.now());
        void fl
          .publish(
            `btn-${String(i).padStart(5, '0')}`,
            `care/v1/btn-${String(i).padStart(5, '0')}/event`,
            JSON.stringify({ type: 'sos', seq: 1 }),
          )
          .catch(() => undefined);
        await sleep(CONTINUOUS_EVERY_MS);
      }
    })();

    // When HAProxy took the dead node out of rotation (its check interval times `fall 2`).
    let downS: number | null = null;
    const balancer = parts.balancers[0];
    let last = await fleet.status();
    await waitUntil(
      async () => {
        if (downS === null && balancer && !(await balancer.status('gateway_mqtt', 1)).startsWith('UP'))
          downS = (performance.now() - killedAt) / 1000;
        last = await fleet!.status();
        return last.reconnected >= opts.devices && last.connected >= opts.devices;
      },
      300_000,
      `every device reconnected after the SIGKILL`,
      100,
    );
    allBack = true;
    last = await fleet.status({ times: true });
    const waited = timeline.stop(opts.devices);
    const gcS = gcSpent(gcBefore, await gcOf(survivors));
    const secretLookups = countsSince(secretsBefore, await secretLookupsOf(survivors));
    const windowEnd = performance.now();
    const redisAfter = await redisCommandCalls(redis);
    const pgTo = opts.profileDir && pgLog ? logOffset(pgLog) : 0;
    opts.log(`failover: attempts closed before CONNACK, by reason: ${JSON.stringify(last.failures)}`);
    await continuous;
    const reconnectAllS = (fromMonotonic(last.lastReconnectAt) - killedAt) / 1000;
    let costs: ConnectCosts | null = null;
    if (opts.profileDir && pgLog) {
      costs = connectCosts(last.reconnected, statementsBetween(pgLog, pgFrom, pgTo), redisBefore, redisAfter);
      // V8 stamps its samples with the machine's monotonic clock in microseconds.
      const window = { fromUs: Math.round(toMonotonic(killedAt) * 1000), toUs: Math.round(toMonotonic(windowEnd) * 1000) };
      writeFileSync(join(opts.profileDir, 'window.json'), JSON.stringify(window));
      writeFileSync(join(opts.profileDir, 'connect-costs.json'), JSON.stringify(costs, null, 2));
      opts.log(
        `failover: per reconnect, PostgreSQL statements ${Object.entries(costs.postgres)
          .map(([n, c]) => `${n} ${c.perConnect}`)
          .join(', ')}; Redis commands ${costs.redis.perConnect} (${JSON.stringify(costs.redis.byCommand)}), ` +
          `Redis CPU ${costs.redis.serverCpuS} s (µs by command ${JSON.stringify(costs.redis.usecByCommand)})`,
      );
    }
    const reconnectS = summarize(last.reconnectAts.map((t) => (fromMonotonic(t) - killedAt) / 1000));
    opts.log(
      `failover: every device back in ${reconnectAllS.toFixed(2)} s (p50 ${reconnectS.p50.toFixed(2)} s, p90 ${reconnectS.p90.toFixed(2)} s; ` +
        `${last.failedAttempts} failed attempts on the way); HAProxy marked ${doomed.name} down ${downS === null ? 'after the last reconnect' : `${(downS as number).toFixed(2)} s`} after the SIGKILL`,
    );
    const at = (v: number | null): string => (v === null ? 'not within the window' : `${v.toFixed(1)} s`);
    opts.log(
      `failover: HAProxy held 90 % of the devices' connections to the survivors at ${at(waited.balancer90S)}, the survivors had accepted ` +
        `90 % at ${at(waited.accepted90S)}; survivors' CPU ${JSON.stringify(waited.cpuS)} s, their main threads waited for a core ${JSON.stringify(waited.runQueueS)} s`,
    );
    opts.log(`failover: survivors' garbage collection over the window, s by kind (collections): ${JSON.stringify(gcS)}`);
    opts.log(
      `failover: survivors' shared secret cache look-ups by outcome (anything but a hit costs a scrypt): ${JSON.stringify(secretLookups)}`,
    );
    const hostTotal = Object.values(waited.hostCpuS).reduce((a, b) => a + b, 0);
    opts.log(
      `failover: the host's CPU over those ${reconnectAllS.toFixed(1)} s: ${hostTotal.toFixed(1)} s in all (2 cores), by process ${JSON.stringify(waited.hostCpuS)}`,
    );

    // A new alarm right after the last reconnect, from the first button.
    const probe = await fleet.publish('btn-00000', 'care/v1/btn-00000/event', JSON.stringify({ type: 'sos', seq: 1 }));
    await waitUntil(() => arrivals.has(0), 60_000, `the page of ${residentName(0)}`, 20);
    const probeAt = arrivals.get(0) ?? 0;
    const alarmS = (probeAt - killedAt) / 1000;
    const probeMs = probeAt - fromMonotonic(probe.sentAt);
    opts.log(
      `failover: SOS after the last reconnect paged ${alarmS.toFixed(2)} s after the SIGKILL (${probeMs.toFixed(0)} ms PUBLISH -> SMS)`,
    );

    await waitUntil(() => [...sent.keys()].every((i) => arrivals.has(i)), 60_000, 'every continuous SOS paged', 100).catch(() => undefined);
    const pagedLatencies = [...sent].flatMap(([i, at]) => (arrivals.has(i) ? [(arrivals.get(i) ?? 0) - at] : []));
    const firstPaged = [...sent.keys()].flatMap((i) => (arrivals.has(i) ? [arrivals.get(i) ?? 0] : []));

    let willsS: number | null = null;
    try {
      await waitUntil(async () => (await deadWills()) === 0, opts.heartbeatMs * 4 + 60_000, 'the dead node’s wills replayed', 100);
      willsS = (performance.now() - killedAt) / 1000;
    } catch {
      willsS = null;
    }
    // Health is written and read back between nodes on their flush: give it a few seconds after the replay.
    await sleep(3000);
    const offline = new Set<string>();
    const survivorCounts: Record<string, number | null> = {};
    for (const node of survivors) {
      const res = await httpGet<{ id: string }[]>(node.addresses.publicUrl, '/api/devices?state=offline');
      if (res.status !== 200) throw new Error(`${node.name} /api/devices answered ${res.status}`);
      for (const d of res.body) offline.add(d.id);
      survivorCounts[node.name] = await nodeDevices(node);
    }
    const wrongIds = devices.filter((d) => offline.has(d.id)).map((d) => d.id);
    const wrongly = wrongIds.length;
    if (wrongly > 0) {
      opts.log(`failover: shown offline although connected: ${wrongIds.slice(0, 20).join(', ')}${wrongly > 20 ? ' …' : ''}`);
      // Where each node and Redis see the first few: enough to tell a race of the will replay from a lost status.
      for (const id of wrongIds.slice(0, 3)) {
        const views = await Promise.all(
          survivors.map(async (n) => {
            const v = await httpGet<{ state: string; lastSeen: string | null; lastStatusAt: string | null }>(
              n.addresses.publicUrl,
              `/api/devices/${id}`,
            );
            return `${n.name}: ${v.body.state} (last seen ${v.body.lastSeen}, status at ${v.body.lastStatusAt})`;
          }),
        );
        opts.log(`failover:   ${id}: ${views.join('; ')}; presence ${(await redis.hget('care:presence', id)) ?? 'none'}`);
      }
      const logs = process.env.BENCH_CLUSTER_LOGS;
      if (logs) parts.saveLogs(logs);
    }
    opts.log(
      `failover: wills replayed ${willsS === null ? 'NOT within the wait' : `${willsS.toFixed(1)} s after the SIGKILL`}; ${wrongly} devices shown offline wrongly`,
    );
    return {
      devices: opts.devices,
      reconnect_all_s: reconnectAllS,
      reconnect_s: reconnectS,
      balancer_marked_down_s: downS,
      alarm_after_failover_s: alarmS,
      alarm_publish_to_sms_ms: probeMs,
      continuous: {
        sent: sent.size,
        paged: pagedLatencies.length,
        everyMs: CONTINUOUS_EVERY_MS,
        first_paged_after_kill_s: firstPaged.length ? (Math.min(...firstPaged) - killedAt) / 1000 : null,
        publish_to_sms_ms: summarize(pagedLatencies),
      },
      wills_replayed_s: willsS,
      wrongly_offline: wrongly,
      survivors: survivorCounts,
      connect_costs: costs,
      timeline: waited,
      survivors_gc: gcS,
      secret_lookups: secretLookups,
      failed_attempts: last.failedAttempts,
      failures: last.failures,
      balancers,
      target: { limitS: FAILOVER_TARGET_S, pass: alarmS <= FAILOVER_TARGET_S && wrongly === 0 },
      settings: {
        reconnectPeriodMs: opts.reconnectPeriodMs,
        heartbeatMs: opts.heartbeatMs,
        checkInterval: opts.checkInterval,
        fleetProcesses: fleet.processes,
        sourceAddresses: sources.length,
      },
      setup: { seedMs: parts.seedMs, connectMs: connected.ms },
      notes: [
        `three gateway nodes (npm start, PostgreSQL, Redis, one LINK_SECRET_FILE), ${balancers} HAProxy process(es) on deploy/haproxy/haproxy.cfg (check inter ${opts.checkInterval}, fastinter 500ms, fall 2): one HAProxy holds at most ${HAPROXY_MAXCONN} devices under this machine's hard limit of ${OPEN_FILES} descriptors`,
        `devices connected through HAProxy while node2 and node3 were in maintenance, so all were on node1; then both put back and UP before the SIGKILL`,
        `devices: mqtt.js in ${fleet.processes} child process(es), reconnectPeriod ${opts.reconnectPeriodMs} ms, a retained offline will and a retained online status after every CONNACK; a lost connection waits one period before each attempt`,
        `HAProxy keeps sending new connections to the dead node (leastconn: it has none) until two failed checks mark it DOWN; those attempts fail and each costs the device another reconnect period`,
      ],
    };
  } finally {
    redis?.disconnect();
    await fleet?.stop();
    await parts.stop();
  }
}

const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;

/** Each node's GC histograms (prom-client's nodejs_gc_duration_seconds, by kind). */
async function gcOf(nodes: readonly NodeHandle[]): Promise<Map<string, MetricsSnapshot>> {
  const queries = GC_KINDS.map((kind) => ({ key: kind, name: 'nodejs_gc_duration_seconds', labels: { kind } }));
  return new Map(await Promise.all(nodes.map(async (n) => [n.name, await scrapeNodes([n.addresses.publicUrl], queries)] as const)));
}

/** The nodes' shared secret cache look-ups by outcome, added up. */
async function secretLookupsOf(nodes: readonly NodeHandle[]): Promise<Record<string, number>> {
  const texts = await metricsTexts(nodes.map((n) => n.addresses.publicUrl));
  return addCounts(texts.map((t) => readCounterByLabel(t, 'device_secret_cache_lookups_total', 'outcome')));
}

/** Per node, the GC seconds and collections by kind between two readings. */
function gcSpent(before: Map<string, MetricsSnapshot>, after: Map<string, MetricsSnapshot>): FailoverResult['survivors_gc'] {
  const out: FailoverResult['survivors_gc'] = {};
  for (const [name, a] of after) {
    const delta = snapshotDelta(before.get(name) ?? {}, a);
    out[name] = Object.fromEntries(
      Object.entries(delta).map(([kind, d]) => [kind, { s: Math.round(((d.meanMs * d.count) / 1000 || 0) * 100) / 100, n: d.count }]),
    );
  }
  return out;
}

/** What a process on the host is to this benchmark, from its command line (the survivors are named by pid). */
function hostRole(pid: number, cmdline: string): string {
  if (pid === process.pid) return 'bench';
  if (cmdline.includes('fleet-child')) return 'fleet';
  if (cmdline.includes('sms-server-child')) return 'sms';
  if (cmdline.includes('haproxy')) return 'haproxy';
  if (cmdline.includes('redis-server')) return 'redis';
  if (cmdline.startsWith('postgres') || cmdline.includes('/bin/postgres ')) return 'postgres';
  return 'other';
}

/** Node flags of a profiled survivor: its profile is written to <dir>/<node> when it stops. */
function cpuProfileFlags(dir: string, node: string): string[] {
  const at = join(dir, node);
  mkdirSync(at, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${at}`];
}
