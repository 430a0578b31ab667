// Benchmark entry point (`npm run bench`): runs the latency benchmarks, prints a table and writes bench/results/latest.json.
// Flags: --quick (one short run each), --only <alarm|bridge|raw-aedes|influx|ingest|connections|storm>[,...], --runs <n>, --alarms <n>, --gap-ms <n>, --back-to-back,
// --idle-devices <n>, --storm-alarms <n>, --failover-devices <n>, --cluster-idle-devices <n>, --cluster-idle-nodes <n> (default: what the descriptor limit needs), --sms-providers <twilio|aliyun|tencent>[,...] (the alarm benchmark once per provider; default all three),
// --deployments <sqlite|postgres|cluster>[,...] (what cluster-alarm and cluster-ingest compare; default all three).
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runAlarmBenchmark, type AlarmBenchResult } from './alarm-latency.js';
import { BENCH_SMS_PROVIDERS, type BenchSmsProvider } from './lib/sms-servers.js';
import { runRawAedesBenchmark, type RawAedesResult } from './raw-aedes.js';
import { benchInfluxWriter, type InfluxWriterBenchResult } from './influx-writer.js';
import { runIngestBenchmark, type IngestOptions, type IngestResult } from './ingest.js';
import { runConnectionsBenchmark, type ConnectionsOptions, type ConnectionsResult } from './connections.js';
import { runStormBenchmark, type StormOptions, type StormResult } from './storm.js';
import { runBridgeBenchmark, type BridgeBenchResult } from './bridge-latency.js';
import { runClusterAlarmBenchmark, type ClusterAlarmResult } from './cluster-alarm.js';
import { runClusterIngestBenchmark, type ClusterIngestResult } from './cluster-ingest.js';
import { DEPLOYMENTS, type DeploymentKind } from './lib/deployments.js';
import { clusterAlarmJson, printClusterAlarmReport, printClusterIngestReport } from './lib/report-cluster.js';
import { printCapacityReport } from './lib/report-capacity.js';
import { CLUSTER_IDLE_TARGET, runClusterIdleBenchmark, type ClusterIdleOptions, type ClusterIdleResult } from './cluster-idle.js';
import { FAILOVER_TARGET_S, runFailoverBenchmark, type FailoverOptions, type FailoverResult } from './cluster-failover.js';
import { describeMachine, loadAverage, machineLine, otherHostCpuPercent, type MachineInfo } from './lib/machine.js';
import type { PacingOptions } from './lib/rounds.js';
import { benchReport, printReport, stageReport, targetCheck } from './lib/report.js';

const BENCHMARKS = [
  'alarm',
  'bridge',
  'raw-aedes',
  'influx',
  'ingest',
  'connections',
  'storm',
  'cluster-alarm',
  'cluster-ingest',
  'cluster-failover',
  'cluster-idle',
] as const;
type BenchName = (typeof BENCHMARKS)[number];

interface Settings {
  mode: 'full' | 'quick';
  only: BenchName[];
  /** The alarm benchmark runs once per provider, in this order, under the same pacing and load. */
  smsProviders: BenchSmsProvider[];
  /** What the cluster benchmarks compare: one node on SQLite, one on PostgreSQL, three nodes behind HAProxy. */
  deployments: DeploymentKind[];
  runs: number;
  pacing: PacingOptions;
  /** false with --back-to-back: alarms do not wait for the previous ones' SMS and callbacks. */
  drainBetweenAlarms: boolean;
  loadDevices: number;
  loadRate: number;
  settleMs: number;
  ingest: Omit<IngestOptions, 'log'>;
  connections: Omit<ConnectionsOptions, 'log'>;
  storm: Omit<StormOptions, 'log'>;
  clusterFailover: Omit<FailoverOptions, 'log'>;
  clusterIdle: Omit<ClusterIdleOptions, 'log'>;
}

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const onlyArg = value('--only');
  // The cluster benchmarks start several nodes and take many minutes each: they run only when named.
  const only = onlyArg ? onlyArg.split(',').map((s) => s.trim()) : BENCHMARKS.filter((b) => !b.startsWith('cluster-'));
  for (const name of only) {
    if (!(BENCHMARKS as readonly string[]).includes(name))
      throw new Error(`--only: unknown benchmark "${name}" (known: ${BENCHMARKS.join(', ')})`);
  }
  const providersArg = value('--sms-providers');
  const smsProviders = providersArg ? providersArg.split(',').map((s) => s.trim()) : [...BENCH_SMS_PROVIDERS];
  for (const name of smsProviders) {
    if (!(BENCH_SMS_PROVIDERS as readonly string[]).includes(name))
      throw new Error(`--sms-providers: unknown provider "${name}" (known: ${BENCH_SMS_PROVIDERS.join(', ')})`);
  }
  const deploymentsArg = value('--deployments');
  const deployments = deploymentsArg ? deploymentsArg.split(',').map((s) => s.trim()) : [...DEPLOYMENTS];
  for (const name of deployments) {
    if (!(DEPLOYMENTS as readonly string[]).includes(name))
      throw new Error(`--deployments: unknown deployment "${name}" (known: ${DEPLOYMENTS.join(', ')})`);
  }
  const int = (flag: string, fallback: number, min = 1): number => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer of at least ${min}, got "${raw}"`);
    return n;
  };
  return {
    mode: quick ? 'quick' : 'full',
    only: BENCHMARKS.filter((b) => only.includes(b)),
    smsProviders: BENCH_SMS_PROVIDERS.filter((p) => smsProviders.includes(p)),
    deployments: DEPLOYMENTS.filter((d) => deployments.includes(d)),
    runs: int('--runs', quick ? 1 : 3),
    pacing: { count: int('--alarms', quick ? 200 : 1000), warmup: quick ? 20 : 50, gapMs: int('--gap-ms', 5, 0), timeoutMs: 5000 },
    drainBetweenAlarms: !argv.includes('--back-to-back'),
    loadDevices: 1000,
    loadRate: 2000,
    settleMs: quick ? 1000 : 2000,
    // Throughput: every device keeps one QoS 1 event in flight; windows of 3 s (quick) or 8 s.
    ingest: {
      devices: quick ? 500 : 1000,
      inFlightPerDevice: 1,
      runs: int('--runs', quick ? 1 : 3),
      runMs: quick ? 3000 : 8000,
      warmupMs: quick ? 1000 : 2000,
    },
    // --quick connects fewer devices: the gateway's first CONNECT of each runs scrypt (about 5 ms each on 2 cores).
    connections: {
      devices: int('--idle-devices', quick ? 2000 : 10_000),
      runs: int('--runs', quick ? 1 : 3),
      warmupDevices: quick ? 200 : 500,
    },
    // The same rate (500 SOS/s) in --quick, for a fifth of the time.
    storm: ((n: number) => ({ alarms: n, seconds: Math.max(1, n / 500) }))(int('--storm-alarms', quick ? 1000 : 5000)),
    // The shipped HAProxy check interval and the nodes' default heartbeat; --quick fails over fewer devices and replays wills sooner.
    clusterFailover: {
      devices: int('--failover-devices', quick ? 2000 : 10_000),
      reconnectPeriodMs: 1000,
      heartbeatMs: quick ? 2000 : 10_000,
      checkInterval: '2s',
      profileDir: process.env.BENCH_CPU_PROFILE ?? null,
    },
    clusterIdle: {
      devices: int('--cluster-idle-devices', quick ? 6000 : 100_000),
      // Default: as many nodes as the devices need at one node's share of the descriptor limit (6 for 100,000 here).
      nodes: value('--cluster-idle-nodes') === undefined ? null : int('--cluster-idle-nodes', 1),
    },
  };
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const machine: MachineInfo = describeMachine();
  const startedAt = new Date();
  const t0 = performance.now();
  const log = (line: string): void => console.log(`  ${line}`);
  console.log(`care-gateway benchmarks (${settings.mode}): ${settings.only.join(', ')}`);
  const loadAtStart = loadAverage();
  const busyAtStart = await otherHostCpuPercent(1000);
  console.log(`machine: ${machineLine(machine)}`);
  console.log(`host before start: load average ${loadAtStart}, other processes using ${Math.round(busyAtStart)} % CPU (100 = one core)`);
  const pacingText =
    `sequential: each sample starts ${settings.pacing.gapMs} ms after the previous one completed` +
    `${settings.only.includes('alarm') ? (settings.drainBetweenAlarms ? ' and, for alarms, its SMS and their callbacks were done' : ' (alarms back to back: --back-to-back)') : ''} ` +
    `(${settings.pacing.warmup} warm-up + ${settings.pacing.count} measured per round, ${settings.runs} run(s) of idle then loaded)`;
  const loadText = `${settings.loadRate} msg/s QoS 0 telemetry from ${settings.loadDevices} connected devices (separate process), started ${settings.settleMs} ms before measuring`;
  if (settings.only.includes('alarm') || settings.only.includes('raw-aedes')) {
    console.log(`pacing: ${pacingText}`);
    console.log(`load: ${loadText}`);
  }

  const common = {
    runs: settings.runs,
    pacing: settings.pacing,
    loadDevices: settings.loadDevices,
    loadRate: settings.loadRate,
    settleMs: settings.settleMs,
    log,
  };
  let alarm: AlarmBenchResult | null = null;
  let raw: RawAedesResult | null = null;
  // The same measuring loop through each SMS provider, one fresh gateway each: Twilio's figure is alarm_latency_ms as before.
  const byProvider: Partial<Record<BenchSmsProvider, AlarmBenchResult>> = {};
  if (settings.only.includes('alarm')) {
    for (const provider of settings.smsProviders) {
      log(`alarm: --- SMS_PROVIDER=${provider} ---`);
      byProvider[provider] = await runAlarmBenchmark({ ...common, provider, drainBetweenAlarms: settings.drainBetweenAlarms });
    }
    alarm = byProvider.twilio ?? null;
  }
  // Direct, zigbee2mqtt and ChirpStack (over mosquitto) alarms taking turns in one gateway, so each bridge's cost is read beside the direct figure.
  let bridge: BridgeBenchResult | null = null;
  if (settings.only.includes('bridge')) {
    bridge = await runBridgeBenchmark({
      alarms: settings.mode === 'quick' ? 100 : 500,
      warmup: settings.pacing.warmup,
      gapMs: settings.pacing.gapMs,
      timeoutMs: settings.pacing.timeoutMs,
      log,
    });
  }
  if (settings.only.includes('raw-aedes')) raw = await runRawAedesBenchmark(common);
  let influx: InfluxWriterBenchResult | null = null;
  if (settings.only.includes('influx')) {
    // The gateway's default batch (500), for a real influxd 1.x on loopback.
    influx = await benchInfluxWriter({ durationMs: settings.mode === 'quick' ? 3000 : 10_000, batchSize: 500 });
  }

  let ingest: IngestResult | null = null;
  let connections: ConnectionsResult | null = null;
  let storm: StormResult | null = null;
  if (settings.only.includes('ingest')) ingest = await runIngestBenchmark({ ...settings.ingest, log });
  if (settings.only.includes('connections')) connections = await runConnectionsBenchmark({ ...settings.connections, log });
  if (settings.only.includes('storm')) storm = await runStormBenchmark({ ...settings.storm, log });
  let clusterFailover: FailoverResult | null = null;
  if (settings.only.includes('cluster-failover')) clusterFailover = await runFailoverBenchmark({ ...settings.clusterFailover, log });
  let clusterIdle: ClusterIdleResult | null = null;
  if (settings.only.includes('cluster-idle')) clusterIdle = await runClusterIdleBenchmark({ ...settings.clusterIdle, log });

  // The same alarm loop against one node on SQLite, one on PostgreSQL and three behind HAProxy, each node an `npm start` process.
  let clusterAlarm: ClusterAlarmResult[] = [];
  if (settings.only.includes('cluster-alarm'))
    clusterAlarm = await runClusterAlarmBenchmark({ ...common, providers: settings.smsProviders, deployments: settings.deployments });
  // The ingest benchmark's clients and messages against the same three deployments.
  let clusterIngest: ClusterIngestResult | null = null;
  if (settings.only.includes('cluster-ingest'))
    clusterIngest = await runClusterIngestBenchmark({ ...settings.ingest, deployments: settings.deployments, log });

  const alarmReport = alarm ? benchReport(alarm.rounds) : null;
  const providerReports = BENCH_SMS_PROVIDERS.flatMap((provider) => {
    const r = provider === 'twilio' ? undefined : byProvider[provider];
    return r ? [{ provider, report: benchReport(r.rounds) }] : [];
  });
  const rawReport = raw ? benchReport(raw.rounds) : null;
  const target = targetCheck(alarmReport);

  const result = {
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
    mode: settings.mode,
    only: settings.only,
    machine,
    // The host may run other work: how busy it was just before the start (per round figures are in each run).
    hostAtStart: { loadAverage: loadAtStart, otherCpuPercent: busyAtStart },
    settings: { ...settings, pacing: { ...settings.pacing, description: pacingText }, load: loadText },
    alarm_latency_ms:
      alarm && alarmReport
        ? { ...alarmReport, stages: stageReport(alarm), setup: alarm.setup, gateway_histogram: alarm.gatewayHistogram }
        : null,
    // Device PUBLISH -> the provider's SendSms request at its simulator, per provider, same run and load (twilio repeats alarm_latency_ms).
    alarm_latency_by_provider_ms: Object.fromEntries(
      Object.entries(byProvider).map(([provider, r]) => {
        const report = benchReport(r.rounds);
        return [
          provider,
          {
            idle: report.idle.summary,
            load: report.load.summary,
            target: targetCheck(report),
            memory: report.memory,
            stages: stageReport(r),
            gateway_histogram: r.gatewayHistogram,
          },
        ];
      }),
    ),
    bridge_alarm_latency_ms: bridge,
    raw_aedes_rtt_ms: rawReport,
    influx_writer: influx,
    ingest_qos1_msgs_per_s: ingest?.ingest_qos1_msgs_per_s ?? null,
    raw_aedes_qos1_msgs_per_s: ingest?.raw_aedes_qos1_msgs_per_s ?? null,
    ingest_ratio: ingest?.ingest_ratio ?? null,
    ingest,
    connections,
    storm,
    cluster_failover: clusterFailover,
    cluster_idle: clusterIdle,
    cluster_alarm_latency_ms: clusterAlarm.length > 0 ? clusterAlarmJson(clusterAlarm) : null,
    cluster_ingest_qos1: clusterIngest,
    target,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}latest.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  if (alarmReport || rawReport || providerReports.length > 0)
    printReport({ runs: settings.runs, alarm, alarmReport, providerReports, rawReport, target });
  printCapacityReport({ ingest, connections, storm });
  if (clusterFailover) printFailover(clusterFailover);
  if (clusterIdle) printClusterIdle(clusterIdle);
  printClusterAlarmReport(clusterAlarm, settings.runs);
  printClusterIngestReport(clusterIngest);
  if (influx) {
    console.log(
      `InfluxDB writer (influxd 1.x, batch ${influx.batch_size}): ${Math.round(influx.points_per_s)} points/s; ` +
        `buffer bound ${influx.buffer_bound_points} points = ${influx.buffer_bound_mb.toFixed(1)} MiB`,
    );
  }
  console.log(`Written: ${file} (${result.durationSeconds} s)`);
}

function printFailover(r: FailoverResult): void {
  console.log(
    `\nCluster failover (${r.devices} devices on the killed node, ${r.balancers} HAProxy, reconnectPeriod ${r.settings.reconnectPeriodMs} ms, check inter ${r.settings.checkInterval})`,
  );
  console.log(`  SIGKILL -> every device reconnected: ${r.reconnect_all_s.toFixed(2)} s (${r.failed_attempts} failed attempts)`);
  console.log(
    `  SIGKILL -> SOS sent after the last reconnect paged: ${r.alarm_after_failover_s.toFixed(2)} s (${r.alarm_publish_to_sms_ms.toFixed(0)} ms PUBLISH -> SMS)`,
  );
  const c = r.continuous;
  console.log(
    `  continuous SOS every ${c.everyMs} ms from the SIGKILL: ${c.paged}/${c.sent} paged, first page ${c.first_paged_after_kill_s?.toFixed(2) ?? '-'} s after the kill, PUBLISH -> SMS p50 ${c.publish_to_sms_ms.p50.toFixed(0)} / max ${c.publish_to_sms_ms.max.toFixed(0)} ms`,
  );
  console.log(
    `  wills replayed: ${r.wills_replayed_s === null ? 'not within the wait' : `${r.wills_replayed_s.toFixed(1)} s`}; devices wrongly offline: ${r.wrongly_offline}`,
  );
  console.log(
    `  target: SIGKILL -> reconnected and paged <= ${FAILOVER_TARGET_S} s, 0 wrongly offline: ${r.target.pass ? 'PASS' : 'MISS'}`,
  );
}

function printClusterIdle(r: ClusterIdleResult): void {
  console.log(`\nCluster idle devices (${r.nodes} nodes, ${r.requested} asked for)`);
  console.log(
    `  connected: ${r.devices} in ${r.connect_s.toFixed(1)} s (${Math.round(r.connects_per_s)}/s)${r.stopped_short ? `; stopped short: ${r.stopped_short}` : ''}`,
  );
  const f = r.first_connect;
  console.log(
    `  first connects: ${f.held_first_attempt} held at the first attempt, ${f.held_after_retries} after retries (${f.retry.tries} at most, from ${f.retry.delayMs / 1000} s, doubling), ${f.gave_up} never held; refused by the nodes: ${JSON.stringify(f.refusals_by_reason)}`,
  );
  for (const n of [...r.per_node, r.single_node])
    console.log(
      `  ${n.node.padEnd(16)} ${String(n.devices).padStart(6)} devices  RSS ${n.rss_mb.toFixed(0).padStart(5)} MiB  ${n.rss_kb_per_device.toFixed(2)} kB RSS / ${n.heap_kb_per_device.toFixed(2)} kB heap per device`,
    );
  console.log(`  Redis: ${r.redis_kb_per_device.toFixed(2)} kB per device`);
  const l = r.limits;
  console.log(
    `  limits: ${r.settings.nodeCapacity} devices per node (MQTT cap at ${r.settings.openFiles} descriptors), node descriptors ${l.node_fds.join(' / ')}; PostgreSQL ${l.postgres.connections}/${l.postgres.max_connections} connections (${l.postgres.sessions_during_connect ?? '?'} opened during the connect); Redis ${l.redis.clients}/${l.redis.maxclients} clients, ${l.redis.used_memory_mb.toFixed(0)} MiB; conntrack ${l.kernel.conntrack ?? '-'}/${l.kernel.conntrack_max ?? '-'}; somaxconn ${l.kernel.somaxconn ?? '-'}`,
  );
  console.log(`  target: ${CLUSTER_IDLE_TARGET} idle devices across the nodes: ${r.target.pass ? 'PASS' : 'MISS'}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
