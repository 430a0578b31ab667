// Alarm latency: from a button's PUBLISH of `sos` to the first SMS request of its incident reaching the SMS provider's simulator (Twilio, Aliyun or Tencent), idle and under telemetry load.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Gateway } from '../gateway/app.js';
import { loadConfig } from '../gateway/config/load.js';
import { silentLogger } from '../gateway/core/logger.js';
import { defaultCatalogue } from '../gateway/notifiers/kinds.js';
import { SqliteStore } from '../gateway/storage/sqlite/store.js';
import { SmsServerProcess } from './lib/sms-server-process.js';
import { gatewaySmsEnv, startSmsSimulator, type BenchSmsProvider, type SmsServerSpec } from './lib/sms-servers.js';
import { BackgroundLoad } from './lib/background-load.js';
import { ButtonHost } from './lib/button-host.js';
import { freePort } from './lib/net.js';
import { quantileUpperBound, readHistogram, shareAtOrBelow } from './lib/prometheus.js';
import { writeBenchRegistry } from './lib/registry.js';
import { runRounds, withTimeout, type ConditionRun, type PacingOptions, type Sample } from './lib/rounds.js';
import { FirstSmsTracker } from './lib/sms-tracker.js';
import { StallLog } from './lib/stall-log.js';
import { AlarmStages, STAGES, type StagedAlarm, type Stage } from './lib/alarm-stages.js';
import type { LatencySummary } from './lib/stats.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';

export interface AlarmBenchOptions {
  runs: number;
  /** The SMS provider the gateway pages through (SMS_PROVIDER), each against its own simulator (default twilio). */
  provider?: BenchSmsProvider;
  /**
   * Where the provider's simulator runs: `process` (default), a child process like the real provider is
   * elsewhere, or `inline`, in the benchmark's own process and so on the gateway's event loop (the method
   * before, kept for comparison: BENCH_SMS_SERVER=inline).
   */
  smsServer?: 'process' | 'inline';
  pacing: PacingOptions;
  /**
   * true (default): after each alarm, wait until its follow-up work is done (every SMS of it sent, and each status
   * callback answered) before the gap, so every alarm meets a gateway busy only with the background telemetry.
   * false (`--back-to-back`): the next alarm follows the gap alone, overlapping the previous ones' follow-up work:
   * about a hundred alarms a second, a stress figure rather than the latency of an alarm.
   */
  drainBetweenAlarms?: boolean;
  loadDevices: number;
  loadRate: number;
  settleMs: number;
  log: (line: string) => void;
}

export interface GatewayHistogramCheck {
  /** Alarms the benchmark raised (warm-up included): the histogram should count each once. */
  expected: number;
  count: number;
  sumSeconds: number;
  meanMs: number;
  /** Share of observations at or below 10 ms, and the bucket bound that holds 99 % of them. */
  shareAtOrBelow10ms: number;
  p99UpperBoundMs: number;
}

export interface StageRound {
  run: number;
  condition: ConditionRun['condition'];
  stages: Record<Stage, LatencySummary>;
  /** The round's slowest alarms, each split into its stages. */
  slowest: StagedAlarm[];
}

/** SQLite commits during one round (its alarms, their SMS traffic to the last receipt, and background flushes). */
export interface CommitRound {
  run: number;
  condition: ConditionRun['condition'];
  alarms: number;
  synced: number;
  unsynced: number;
  syncedPerAlarm: number;
  unsyncedPerAlarm: number;
}

export interface AlarmBenchResult {
  rounds: ConditionRun[];
  commits: CommitRound[];
  /** The same alarms split into stages, from the gateway's bus events. */
  stages: StageRound[];
  setup: { residents: number; loadDevices: number; gatewayStartMs: number; buttonsConnectMs: number; loadConnectMs: number };
  gatewayHistogram: GatewayHistogramCheck | null;
}

const SIM_SID = `AC${'b'.repeat(32)}`;
const SIM_TOKEN = 'bench-sim-auth-token';
export const API_TOKEN = 'bench-api-token-0123456789';
const HISTOGRAM = 'alarm_to_first_sms_seconds';
const SIGN_NAME = '安达里社区';
const WEBHOOK_KEY = 'bench-webhook-key-0123456789';
const CONNECT_CONCURRENCY = 32;

export async function runAlarmBenchmark(opts: AlarmBenchOptions): Promise<AlarmBenchResult> {
  const residents = opts.pacing.warmup + opts.pacing.count;
  const cleanup: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const registry = writeBenchRegistry(dir, { residents, loadDevices: opts.loadDevices });

    // Status callbacks are signed over PUBLIC_URL, so it must be the address the gateway really listens on.
    const httpPort = await freePort();
    const publicUrl = `http://127.0.0.1:${httpPort}`;
    const provider = opts.provider ?? 'twilio';
    const spec = smsServerSpec(provider, publicUrl);
    const where = opts.smsServer ?? (process.env.BENCH_SMS_SERVER === 'inline' ? 'inline' : 'process');
    const sim = await startSmsServer(where, spec);
    cleanup.push(() => sim.stop());
    opts.log(
      `alarm: ${provider} SMS simulator ${where === 'process' ? 'in a child process' : 'in this process (BENCH_SMS_SERVER=inline)'}`,
    );

    const config = loadConfig({
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      REGISTRY_FILE: registry.path,
      PUBLIC_URL: publicUrl,
      TZ: 'Asia/Shanghai',
      API_TOKEN,
      ...gatewaySmsEnv(spec, sim.url),
      LOG_LEVEL: 'silent',
      ...DEVICE_LIMITS_OFF,
    });
    const gateway = Gateway.create({ config, log: silentLogger() });
    // This bench reads SQLite's commit statistics: it runs on the embedded store (no DATABASE_URL).
    const sqlite = gateway.store;
    if (!(sqlite instanceof SqliteStore)) throw new Error('the alarm bench runs on the SQLite store');
    const started = performance.now();
    const ports = await gateway.start();
    const gatewayStartMs = performance.now() - started;
    cleanup.push(() => gateway.stop());
    const mqttUrl = `mqtt://127.0.0.1:${ports.mqttPort}`;
    const httpUrl = `http://127.0.0.1:${ports.httpPort}`;
    opts.log(
      `alarm: gateway up in ${Math.round(gatewayStartMs)} ms (${residents} residents, ${registry.buttons.length + registry.loadDevices.length} device secrets hashed)`,
    );

    // The buttons live in a child process, as real ones live outside the gateway: their clients' work and heap are not the gateway's.
    const buttons = new ButtonHost({ url: mqttUrl, devices: registry.buttons, subscribeCommands: true, concurrency: CONNECT_CONCURRENCY });
    cleanup.push(() => buttons.stop());
    const { connected, ms: buttonsConnectMs } = await buttons.start();

    const load = new BackgroundLoad({ url: mqttUrl, devices: registry.loadDevices, concurrency: CONNECT_CONCURRENCY });
    cleanup.push(() => load.stop());
    const { ms: loadConnectMs } = await load.start();
    opts.log(
      `alarm: ${connected} buttons connected (in a child process) in ${buttonsConnectMs} ms, ${registry.loadDevices.length} telemetry devices in ${loadConnectMs} ms`,
    );

    const tracker = new FirstSmsTracker({ sim });
    tracker.start();
    cleanup.push(() => tracker.stop());
    const stages = new AlarmStages({ gateway });
    stages.start();
    cleanup.push(() => stages.stop());
    const stalls = new StallLog();
    stalls.start((fn) => sqlite.database.observeCommits(fn));
    cleanup.push(() => stalls.stop());
    // With a CPU profile of each round, the long stalls are written beside it, to look them up in the profile.
    const profileDir = process.env.BENCH_CPU_PROFILE;
    if (profileDir) cleanup.push(() => writeFileSync(join(profileDir, 'alarm-stalls.json'), JSON.stringify(stalls.export(10))));
    const stageRounds: StageRound[] = [];
    const commitRounds: CommitRound[] = [];
    let commitsBefore = sqlite.database.commitStats();
    const seqs = new Map<string, number>();
    const drain = opts.drainBetweenAlarms ?? true;
    const alarm: AlarmContext = {
      host: buttons,
      buttons: registry.buttons,
      seqs,
      tracker,
      stages,
      warmup: opts.pacing.warmup,
      timeoutMs: opts.pacing.timeoutMs,
      drain: drain ? () => drained(gateway, sim) : null,
    };
    opts.log(
      `alarm: ${drain ? "each alarm waits until the previous one's SMS and callbacks are done" : "back to back: alarms overlap the previous ones' SMS and callbacks"}`,
    );

    const rounds = await runRounds({
      runs: opts.runs,
      pacing: opts.pacing,
      loadRate: opts.loadRate,
      settleMs: opts.settleMs,
      load,
      receivedTelemetry: () => gateway.ingest.stats().telemetry,
      sample: (i) => raiseAlarm(alarm, i),
      afterRound: async (round) => {
        const taken = stages.take();
        stageRounds.push({ run: round.run, condition: round.condition, ...taken });
        const split = (a: StagedAlarm): string =>
          `${a.totalMs.toFixed(1)} = ${STAGES.map((s) => a.stages[s].toFixed(1)).join(' + ')} at ${(a.roundOffsetS ?? 0).toFixed(1)} s [held by: ${stalls.during(a.startedAt, a.startedAt + a.totalMs)}]`;
        opts.log(`alarm: slowest ${taken.slowest.length} of run ${round.run} ${round.condition} (ms, total = ${STAGES.join(' + ')}):`);
        for (const a of taken.slowest) opts.log(`  ${split(a)}`);
        // Counted once the round's SMS traffic has settled, before the incidents are resolved.
        await quiesce(gateway, sim);
        const commits = sqlite.database.commitStats();
        const alarms = opts.pacing.warmup + opts.pacing.count;
        const synced = commits.synced - commitsBefore.synced;
        const unsynced = commits.unsynced - commitsBefore.unsynced;
        commitRounds.push({
          run: round.run,
          condition: round.condition,
          alarms,
          synced,
          unsynced,
          syncedPerAlarm: synced / alarms,
          unsyncedPerAlarm: unsynced / alarms,
        });
        opts.log(
          `alarm: SQLite commits per alarm ${(synced / alarms).toFixed(2)} synced (FULL) + ${(unsynced / alarms).toFixed(2)} unsynced (NORMAL), SMS traffic and background flushes included`,
        );
        const closed = await resolveAllOpen(httpUrl);
        await quiesce(gateway, sim);
        commitsBefore = sqlite.database.commitStats();
        opts.log(`alarm: resolved ${closed} incidents; SMS traffic settled (${(await sim.counts()).messages} messages so far)`);
      },
      log: opts.log,
      label: 'alarm',
    });

    const gatewayHistogram = await readGatewayHistogram(httpUrl, opts.runs * 2 * residents);
    return {
      rounds,
      commits: commitRounds,
      stages: stageRounds,
      setup: { residents, loadDevices: registry.loadDevices.length, gatewayStartMs, buttonsConnectMs, loadConnectMs },
      gatewayHistogram,
    };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`alarm: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** The SMS server as the benchmark needs it: its URL, request arrivals, counts for settling, stop. */
interface SmsServerUnderTest {
  url: string;
  on(event: 'message', fn: (m: { body: string; receivedHr: number }) => void): unknown;
  off(event: 'message', fn: (m: { body: string; receivedHr: number }) => void): unknown;
  counts(): Promise<{ messages: number; callbacks: number }>;
  /** Resolves once every accepted message has had all its delivery reports answered. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** The simulator of `provider`, with credentials of its own; Aliyun and Tencent approve the catalogue the gateway sends with. */
export function smsServerSpec(provider: BenchSmsProvider, publicUrl: string): SmsServerSpec {
  if (provider === 'twilio') return { provider, accountSid: SIM_SID, authToken: SIM_TOKEN };
  // The bench registry has no `sms.templates`: the gateway uses the built-in catalogue, so that is what was "approved".
  return {
    provider,
    catalogue: defaultCatalogue(publicUrl),
    signName: SIGN_NAME,
    keyId: provider === 'aliyun' ? 'LTAI5tBenchKey0001' : 'AKIDbenchsecretid000001',
    keySecret: `bench-${provider}-key-secret-0001`,
    sdkAppId: '1400009999',
    gatewayUrl: publicUrl,
    webhookKey: WEBHOOK_KEY,
  };
}

async function startSmsServer(where: 'process' | 'inline', spec: SmsServerSpec): Promise<SmsServerUnderTest> {
  if (where === 'process') {
    const child = new SmsServerProcess(spec);
    await child.start();
    return child;
  }
  const sim = await startSmsSimulator(spec);
  return { ...sim, counts: async () => sim.counts() };
}

interface AlarmContext {
  host: ButtonHost;
  buttons: { id: string }[];
  seqs: Map<string, number>;
  tracker: FirstSmsTracker;
  stages: AlarmStages;
  warmup: number;
  timeoutMs: number;
  /** Waits for the alarm's follow-up work, after it was measured; null: back to back. */
  drain: (() => Promise<void>) | null;
}

/** One alarm: a new `sos` from resident i's button; resolves with ms from just before the PUBLISH (in the button's process) to the first SMS request's arrival. */
async function raiseAlarm(ctx: AlarmContext, i: number): Promise<Sample> {
  const deviceId = ctx.buttons[i]?.id;
  if (!deviceId) throw new Error(`no button for resident ${i}`);
  const seq = (ctx.seqs.get(deviceId) ?? 0) + 1;
  ctx.seqs.set(deviceId, seq);
  const payload = JSON.stringify({ type: 'sos', seq, ts: new Date().toISOString() });
  const topic = `care/v1/${deviceId}/event`;
  const arrival = ctx.tracker.expect(i, ctx.timeoutMs);
  ctx.stages.begin(i);
  const [arrivedHr, { publishedAt }] = await Promise.all([arrival, ctx.host.press(i, topic, payload)]);
  ctx.stages.end(i, publishedAt, arrivedHr, i >= ctx.warmup);
  await ctx.drain?.();
  return { startedAt: publishedAt, latencyMs: arrivedHr - publishedAt };
}

/** The alarm's follow-up work is done: every SMS answered by the server with all its callbacks, and nothing queued in the gateway. */
async function drained(gateway: Gateway, sim: SmsServerUnderTest): Promise<void> {
  for (;;) {
    await sim.settled();
    if (gateway.processor.backlog().queued === 0 && gateway.dispatcher.health().queued === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Resolves every open incident through the API, so the next round's alarms open new incidents again. */
export async function resolveAllOpen(httpUrl: string): Promise<number> {
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  let total = 0;
  for (;;) {
    const res = await fetch(`${httpUrl}/api/incidents?state=open&limit=1000`, { headers: auth });
    if (!res.ok) throw new Error(`GET /api/incidents: HTTP ${res.status}`);
    const open = (await res.json()) as { id: string }[];
    if (open.length === 0) return total;
    const queue = open.values();
    const worker = async (): Promise<void> => {
      for (const incident of queue) {
        const r = await fetch(`${httpUrl}/api/incidents/${incident.id}/resolve`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ note: 'benchmark round finished' }),
        });
        await r.arrayBuffer();
        if (!r.ok) throw new Error(`resolve ${incident.id}: HTTP ${r.status}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    total += open.length;
  }
}

/** Waits (at most a minute) until no signal or SMS is queued and every accepted SMS has had its status callbacks. */
function quiesce(gateway: Gateway, sim: SmsServerUnderTest): Promise<void> {
  return withTimeout(drained(gateway, sim), 60_000, 'SMS traffic to settle');
}

async function readGatewayHistogram(httpUrl: string, expected: number): Promise<GatewayHistogramCheck | null> {
  const res = await fetch(`${httpUrl}/metrics`);
  const h = readHistogram(await res.text(), HISTOGRAM);
  if (!h) return null;
  return {
    expected,
    count: h.count,
    sumSeconds: h.sum,
    meanMs: h.count > 0 ? (h.sum / h.count) * 1000 : Number.NaN,
    shareAtOrBelow10ms: shareAtOrBelow(h, 0.01),
    p99UpperBoundMs: quantileUpperBound(h, 0.99) * 1000,
  };
}
