// Alarm latency on a three-node cluster (PostgreSQL + Redis, HAProxy in front, each node an `npm start` process) beside one node on SQLite and one on PostgreSQL, in the same run: button PUBLISH -> first SMS request at the provider's simulator, idle and under telemetry load.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_TOKEN, resolveAllOpen, smsServerSpec } from './alarm-latency.js';
import { BackgroundLoad } from './lib/background-load.js';
import { ButtonHost } from './lib/button-host.js';
import { DEPLOYMENT_TEXT, nodesIdle, startDeployment, type Deployment, type DeploymentKind } from './lib/deployments.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';
import { findNodePids, processCpuMicros } from './lib/node-cpu.js';
import { scrapeNodes, snapshotDelta, type HistogramDelta, type HistogramQuery, type MetricsSnapshot } from './lib/node-metrics.js';
import { runRounds, withTimeout, type ConditionRun, type PacingOptions, type Sample } from './lib/rounds.js';
import { SmsServerProcess } from './lib/sms-server-process.js';
import { gatewaySmsEnv, type BenchSmsProvider } from './lib/sms-servers.js';
import { FirstSmsTracker } from './lib/sms-tracker.js';
import { sharedSecretRegistry } from './lib/shared-registry.js';
import {
  BENCH_SLOW_ALARM_MS,
  describeRoundSlowAlarms,
  outputMarks,
  postgresEventsBetween,
  roundSlowAlarms,
  slowAlarmsSince,
  type OutputMarks,
  type RoundSlowAlarms,
} from './lib/slow-alarms.js';
import { countsSince } from './lib/prometheus.js';
import { summarize, type LatencySummary } from './lib/stats.js';

/** The issue's target for the cluster: alarm p99 under 2,000 msg/s of telemetry, median of the runs. */
export const CLUSTER_TARGET_P99_MS = 15;

export interface ClusterAlarmOptions {
  runs: number;
  pacing: PacingOptions;
  providers: BenchSmsProvider[];
  deployments: DeploymentKind[];
  loadDevices: number;
  loadRate: number;
  settleMs: number;
  log: (line: string) => void;
}

/** Per round, what the benchmark measured besides the alarm latency itself. */
export interface ClusterAlarmRound {
  run: number;
  condition: ConditionRun['condition'];
  /** Button PUBLISH -> its PUBACK: the alarm recorded (PostgreSQL or SQLite) and, in the cluster, routed through Redis. */
  puback: LatencySummary;
  /** From the nodes' /metrics over the round (all nodes added): see GATEWAY_HISTOGRAMS. */
  gateway: Record<string, HistogramDelta>;
  /** CPU of the gateway node processes over the round (100 = one core), and the host's 1-minute load average after it. */
  nodesCpuPercent: number;
  loadAverage: number;
  /** Cluster: the alarm latency by the node that held the button (Redis presence). */
  byNode: Record<string, LatencySummary>;
  /** Alarms whose follow-up SMS had not all arrived within DRAIN_TIMEOUT_MS (the next alarm went anyway). */
  drainTimeouts: number;
  /** Cluster: Redis commands executed over the round (all nodes), by command, the busiest first; null without Redis. */
  redisCommands: Record<string, number> | null;
  /** The measured alarms the nodes logged as slow (over BENCH_SLOW_ALARM_MS), with their stages, and PostgreSQL's log meanwhile. */
  slowAlarms: RoundSlowAlarms;
}

export interface ClusterAlarmResult {
  provider: BenchSmsProvider;
  deployment: DeploymentKind;
  rounds: ConditionRun[];
  extra: ClusterAlarmRound[];
  setup: {
    residents: number;
    loadDevices: number;
    seedMs: number;
    startMs: number;
    buttonsConnectMs: number;
    loadConnectMs: number;
    /** Cluster: buttons and telemetry devices per node, as HAProxy's leastconn spread them. */
    devicesPerNode: Record<string, number>;
  };
}

/** Read from every node's /metrics before and after each round. */
export const GATEWAY_HISTOGRAMS: readonly (HistogramQuery & { covers: string })[] = [
  {
    key: 'hook_to_first_sms',
    name: 'alarm_to_first_sms_seconds',
    covers: "the alarm at the node's broker hook -> its incident's first SMS send starting (the node's own clock)",
  },
  {
    key: 'commit_full',
    name: 'store_commit_duration_seconds',
    labels: { durability: 'full' },
    covers:
      'every durable COMMIT (the recorded events before their PUBACK, incidents): PostgreSQL round trip with WAL flush, or SQLite on the loop',
  },
  {
    key: 'commit_normal',
    name: 'store_commit_duration_seconds',
    labels: { durability: 'normal' },
    covers: 'COMMITs that do not wait for the flush (SMS states, receipts)',
  },
  { key: 'sms_send', name: 'sms_send_duration_seconds', covers: "one SMS request to the provider's simulator, start to answer" },
];

// The first page, the resident's link SMS and one family alert (bench/storm.ts counts the same).
const SMS_PER_ALARM = 3;
const DRAIN_TIMEOUT_MS = 3000;
const CONNECT_CONCURRENCY = 32;
const SECRET = 'bench-cluster-secret-0123456789';

export async function runClusterAlarmBenchmark(opts: ClusterAlarmOptions): Promise<ClusterAlarmResult[]> {
  const out: ClusterAlarmResult[] = [];
  for (const provider of opts.providers) {
    for (const deployment of opts.deployments) {
      opts.log(`cluster-alarm: --- ${provider}, ${DEPLOYMENT_TEXT[deployment]} ---`);
      out.push(await measure(provider, deployment, opts));
    }
  }
  return out;
}

async function measure(provider: BenchSmsProvider, kind: DeploymentKind, opts: ClusterAlarmOptions): Promise<ClusterAlarmResult> {
  const residents = opts.pacing.warmup + opts.pacing.count;
  const cleanup: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), `care-bench-${kind}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const reg = sharedSecretRegistry({ residents, sensors: opts.loadDevices, secret: SECRET });
    const simulator: { process: SmsServerProcess | null } = { process: null };
    const deployment: Deployment = await startDeployment({
      kind,
      dir,
      doc: reg.doc,
      connections: reg.buttons.length + reg.sensors.length + 200,
      log: opts.log,
      // The simulator needs the address its receipts go to (the node, or HAProxy), and the nodes need the simulator's.
      env: async (publicUrl) => {
        const spec = smsServerSpec(provider, publicUrl);
        const started = new SmsServerProcess(spec);
        cleanup.push(() => started.stop());
        await started.start();
        simulator.process = started;
        // Every alarm slower than the threshold is logged by its node with its stages (docs/operations.md).
        return { ...gatewaySmsEnv(spec, started.url), API_TOKEN, ...DEVICE_LIMITS_OFF, ALARM_SLOW_LOG_MS: String(BENCH_SLOW_ALARM_MS) };
      },
    });
    cleanup.push(() => deployment.stop());
    const smsSim = simulator.process;
    if (!smsSim) throw new Error('the SMS simulator did not start');
    // PostgreSQL 15 logs its checkpoints already; its autovacuum runs too, so that a slow alarm can be set beside them.
    await deployment.postgres?.sql('ALTER SYSTEM SET log_autovacuum_min_duration = 0');
    await deployment.postgres?.sql('ALTER SYSTEM SET log_checkpoints = on');
    await deployment.postgres?.sql('SELECT pg_reload_conf()');
    const postgresLog = deployment.postgres ? join(deployment.postgres.dir, 'server.log') : null;
    opts.log(
      `cluster-alarm: ${kind} up in ${Math.round(deployment.startMs)} ms (registry seeded in ${Math.round(deployment.seedMs)} ms); ${provider} simulator in a child process`,
    );

    const buttons = new ButtonHost({
      url: deployment.mqttUrl,
      devices: reg.buttons,
      subscribeCommands: true,
      concurrency: CONNECT_CONCURRENCY,
    });
    cleanup.push(() => buttons.stop());
    const { ms: buttonsConnectMs } = await buttons.start();
    const load = new BackgroundLoad({ url: deployment.mqttUrl, devices: reg.sensors, concurrency: CONNECT_CONCURRENCY });
    cleanup.push(() => load.stop());
    const { ms: loadConnectMs } = await load.start();
    const presence = await deployment.presence();
    const devicesPerNode: Record<string, number> = {};
    for (const node of presence.values()) devicesPerNode[node] = (devicesPerNode[node] ?? 0) + 1;
    opts.log(
      `cluster-alarm: ${reg.buttons.length} buttons in ${buttonsConnectMs} ms, ${reg.sensors.length} telemetry devices in ${loadConnectMs} ms` +
        (presence.size > 0 ? `; devices per node ${JSON.stringify(devicesPerNode)}` : ''),
    );
    const nodePids = findNodePids(deployment.nodeUrls.map((u) => Number(new URL(u).port)));
    if (nodePids.size === 0) opts.log('cluster-alarm: gateway node processes not found in /proc: node CPU not reported');

    const tracker = new FirstSmsTracker({ sim: smsSim });
    tracker.start();
    cleanup.push(() => tracker.stop());
    const state = { expectedSms: (await smsSim.counts()).messages, drainTimeouts: 0 };
    const seqs = new Map<string, number>();
    let acks: { i: number; ms: number; latencyMs: number }[] = [];
    const sample = async (i: number): Promise<Sample> => {
      const deviceId = reg.buttons[i]?.id;
      if (!deviceId) throw new Error(`no button ${i}`);
      // Each round's alarms come from the same buttons: a new seq each time, so none is taken for a resend.
      const seq = (seqs.get(deviceId) ?? 0) + 1;
      seqs.set(deviceId, seq);
      const payload = JSON.stringify({ type: 'sos', seq, ts: new Date().toISOString() });
      const arrival = tracker.expect(i, opts.pacing.timeoutMs);
      const [arrivedHr, { publishedAt, ackedAt }] = await Promise.all([arrival, buttons.press(i, `care/v1/${deviceId}/event`, payload)]);
      state.expectedSms += SMS_PER_ALARM;
      if (i >= opts.pacing.warmup) acks.push({ i, ms: ackedAt - publishedAt, latencyMs: arrivedHr - publishedAt });
      // Its follow-up SMS and their receipts are done before the next alarm, so each alarm meets only the telemetry.
      try {
        await withTimeout(smsDone(smsSim, state.expectedSms), DRAIN_TIMEOUT_MS, 'follow-up SMS');
      } catch {
        state.drainTimeouts++;
      }
      return { startedAt: publishedAt, latencyMs: arrivedHr - publishedAt };
    };

    const extra: ClusterAlarmRound[] = [];
    let before: MetricsSnapshot = await scrapeNodes(deployment.nodeUrls, GATEWAY_HISTOGRAMS);
    let cpuBefore = processCpuMicros(nodePids.keys());
    let roundStarted = performance.now();
    let redisBefore = await deployment.redisCommands();
    let marks: OutputMarks = outputMarks(deployment.nodeOutputs());
    let measuredFrom = Date.now();
    const rounds = await runRounds({
      runs: opts.runs,
      pacing: opts.pacing,
      loadRate: opts.loadRate,
      settleMs: opts.settleMs,
      load,
      // The nodes count no telemetry in /metrics: what the load process sent stands in (QoS 0 over loopback).
      receivedTelemetry: async () => (await load.stats()).sent,
      sample: async (i) => {
        if (i === 0) {
          acks = [];
          state.drainTimeouts = 0;
          before = await scrapeNodes(deployment.nodeUrls, GATEWAY_HISTOGRAMS);
          cpuBefore = processCpuMicros(nodePids.keys());
          roundStarted = performance.now();
          redisBefore = await deployment.redisCommands();
          marks = outputMarks(deployment.nodeOutputs());
        }
        // Slow alarms count from the first measured alarm on (the warm-up's are left out, as from the latency).
        if (i === opts.pacing.warmup) measuredFrom = Date.now();
        return sample(i);
      },
      afterRound: async (round) => {
        const seconds = (performance.now() - roundStarted) / 1000;
        const after = await scrapeNodes(deployment.nodeUrls, GATEWAY_HISTOGRAMS);
        const nodesCpuPercent = ((processCpuMicros(nodePids.keys()) - cpuBefore) / 1e6 / seconds) * 100;
        const redisCommands = commandDelta(redisBefore, await deployment.redisCommands());
        const byNode: Record<string, number[]> = {};
        for (const a of acks) {
          const node = presence.get(reg.buttons[a.i]?.id ?? '');
          if (node) (byNode[node] ??= []).push(a.latencyMs);
        }
        const r: ClusterAlarmRound = {
          run: round.run,
          condition: round.condition,
          puback: summarize(acks.map((a) => a.ms)),
          gateway: snapshotDelta(before, after),
          nodesCpuPercent,
          loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
          byNode: Object.fromEntries(Object.entries(byNode).map(([n, xs]) => [n, summarize(xs)])),
          drainTimeouts: state.drainTimeouts,
          redisCommands,
          slowAlarms: roundSlowAlarms(
            slowAlarmsSince(deployment.nodeOutputs(), marks, measuredFrom),
            postgresEventsBetween(postgresLog, measuredFrom, Date.now()),
          ),
        };
        extra.push(r);
        const g = r.gateway;
        opts.log(
          `cluster-alarm ${kind} run ${round.run} ${round.condition}: PUBACK p50 ${r.puback.p50.toFixed(2)} / p99 ${r.puback.p99.toFixed(2)} ms; ` +
            `hook->first SMS mean ${fmt(g.hook_to_first_sms?.meanMs)} ms (p99 <= ${fmt(g.hook_to_first_sms?.p99UpperMs)}); ` +
            `durable commit mean ${fmt(g.commit_full?.meanMs)} ms (p99 <= ${fmt(g.commit_full?.p99UpperMs)}, n=${g.commit_full?.count ?? 0}); ` +
            `nodes CPU ${Math.round(nodesCpuPercent)} %; load average ${r.loadAverage}; drain time-outs ${r.drainTimeouts}`,
        );
        if (redisCommands) {
          const total = Object.values(redisCommands).reduce((a, b) => a + b, 0);
          const top = Object.entries(redisCommands).slice(0, 6);
          opts.log(`cluster-alarm: Redis commands over the round ${total} (${top.map(([c, n]) => `${c} ${n}`).join(', ')})`);
        }
        if (presence.size > 0)
          opts.log(
            `cluster-alarm: by node ${Object.entries(r.byNode)
              .map(([n, s]) => `${n} p50 ${s.p50.toFixed(2)} p99 ${s.p99.toFixed(2)} (n=${s.n})`)
              .join(', ')}`,
          );
        for (const line of describeRoundSlowAlarms(r.slowAlarms)) opts.log(`cluster-alarm: ${line}`);
        await quiesce(deployment, smsSim);
        const closed = await resolveAllOpen(deployment.httpUrl);
        await quiesce(deployment, smsSim);
        state.expectedSms = (await smsSim.counts()).messages;
        opts.log(`cluster-alarm: resolved ${closed} incidents; SMS traffic settled`);
      },
      log: opts.log,
      label: `cluster-alarm ${provider} ${kind}`,
    });
    return {
      provider,
      deployment: kind,
      rounds,
      extra,
      setup: {
        residents,
        loadDevices: reg.sensors.length,
        seedMs: deployment.seedMs,
        startMs: deployment.startMs,
        buttonsConnectMs,
        loadConnectMs,
        devicesPerNode,
      },
    };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`cluster-alarm: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Resolves once the simulator has `expected` messages and every one has had its delivery reports answered. */
async function smsDone(sim: SmsServerProcess, expected: number): Promise<void> {
  for (;;) {
    await sim.settled();
    if ((await sim.counts()).messages >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Nothing queued on any node and every SMS answered with its reports (at most a minute). */
async function quiesce(deployment: Deployment, sim: SmsServerProcess): Promise<void> {
  await nodesIdle(deployment.nodeUrls, 60_000);
  await withTimeout(sim.settled(), 60_000, 'SMS receipts to settle');
}

/** Calls per command between two INFO commandstats readings (Redis' own INFO calls left in), busiest first. */
function commandDelta(before: Record<string, number> | null, after: Record<string, number> | null): Record<string, number> | null {
  if (!before || !after) return null;
  const delta = Object.entries(countsSince(before, after))
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(delta);
}

function fmt(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(2);
}
