// Durable QoS 1 ingest across a three-node cluster (PostgreSQL + Redis, HAProxy in front) against one node on SQLite and one on PostgreSQL: the same clients and messages, PUBLISH -> PUBACK, every acknowledged event checked in the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundLoad } from './lib/background-load.js';
import { DEPLOYMENT_TEXT, nodesIdle, startDeployment, type DeploymentKind } from './lib/deployments.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';
import type { Qos1Result } from './lib/load-protocol.js';
import { findNodePids, processCpuMicros } from './lib/node-cpu.js';
import { sharedSecretRegistry } from './lib/shared-registry.js';
import { spread, type Spread } from './lib/stats.js';

export interface ClusterIngestOptions {
  deployments: DeploymentKind[];
  devices: number;
  inFlightPerDevice: number;
  runs: number;
  runMs: number;
  warmupMs: number;
  log: (line: string) => void;
}

export interface ClusterIngestRound {
  run: number;
  /** PUBACKs per second inside the window. */
  ackedPerSec: number;
  /** The same events over the window plus the time until rules had acted on all of them (the headline). */
  processedPerSec: number;
  drainMs: number;
  errors: number;
  /** CPU of the gateway node processes, and of the clients' process (100 = one core). */
  nodesCpuPercent: number;
  clientsCpuPercent: number;
}

export interface ClusterIngestSide {
  deployment: DeploymentKind;
  rounds: ClusterIngestRound[];
  msgsPerSec: Spread;
  /**
   * Every event the clients got a PUBACK for (warm-up included), against the events in the store at the end: `missing`
   * (acknowledged but not recorded) must be 0; `unprocessed` is what rules had not acted on.
   */
  check: { acknowledged: number; recorded: number; missing: number; unprocessed: number };
  setup: { startMs: number; seedMs: number; connectMs: number; devicesPerNode: Record<string, number> };
}

export interface ClusterIngestResult {
  sides: ClusterIngestSide[];
  /** The cluster's median against each single node's, when both ran. */
  ratios: { cluster_vs_sqlite: number | null; cluster_vs_postgres: number | null };
  setup: { devices: number; inFlightPerDevice: number; runMs: number; warmupMs: number; mix: string };
}

const SECRET = 'bench-cluster-ingest-0123456789';
const SENSOR_PREFIX = 'pir-';

export async function runClusterIngestBenchmark(opts: ClusterIngestOptions): Promise<ClusterIngestResult> {
  const sides: ClusterIngestSide[] = [];
  for (const deployment of opts.deployments) {
    opts.log(`cluster-ingest: --- ${DEPLOYMENT_TEXT[deployment]} ---`);
    sides.push(await measure(deployment, opts));
  }
  const median = (kind: DeploymentKind): number | null => sides.find((s) => s.deployment === kind)?.msgsPerSec.median ?? null;
  const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null);
  return {
    sides,
    ratios: {
      cluster_vs_sqlite: ratio(median('cluster'), median('sqlite')),
      cluster_vs_postgres: ratio(median('cluster'), median('postgres')),
    },
    setup: {
      devices: opts.devices,
      inFlightPerDevice: opts.inFlightPerDevice,
      runMs: opts.runMs,
      warmupMs: opts.warmupMs,
      mix: 'QoS 1 events on care/v1/<id>/event: 4 of 5 {"type":"motion"}, 1 of 5 {"type":"heartbeat","battery":80}, each with a new seq',
    },
  };
}

async function measure(kind: DeploymentKind, opts: ClusterIngestOptions): Promise<ClusterIngestSide> {
  const dir = mkdtempSync(join(tmpdir(), `care-bench-ingest-${kind}-`));
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const reg = sharedSecretRegistry({ residents: 100, sensors: opts.devices, secret: SECRET });
    // Motion and heartbeats never page: no SMS provider is needed (the Twilio address is a closed port).
    const deployment = await startDeployment({
      kind,
      dir,
      doc: reg.doc,
      connections: opts.devices + 200,
      log: opts.log,
      env: () => Promise.resolve({ ...DEVICE_LIMITS_OFF }),
    });
    cleanup.push(() => deployment.stop());
    const load = new BackgroundLoad({ url: deployment.mqttUrl, devices: reg.sensors, concurrency: 64, replyTimeoutMs: 600_000 });
    cleanup.push(() => load.stop());
    const { ms: connectMs } = await load.start();
    const presence = await deployment.presence();
    const devicesPerNode: Record<string, number> = {};
    for (const node of presence.values()) devicesPerNode[node] = (devicesPerNode[node] ?? 0) + 1;
    opts.log(
      `cluster-ingest: ${kind} up in ${Math.round(deployment.startMs)} ms; ${reg.sensors.length} devices connected in ${connectMs} ms` +
        (presence.size > 0 ? ` (per node ${JSON.stringify(devicesPerNode)})` : ''),
    );
    const nodePids = findNodePids(deployment.nodeUrls.map((u) => Number(new URL(u).port)));
    // Everything acknowledged must also have been acted on before the next window starts.
    const drained = async (): Promise<number> => {
      const t0 = performance.now();
      await nodesIdle(deployment.nodeUrls, 120_000);
      for (;;) {
        if ((await deployment.countEvents(SENSOR_PREFIX)).unprocessed === 0) break;
        if (performance.now() - t0 > 120_000) throw new Error('cluster-ingest: events still unprocessed after 120 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return performance.now() - t0;
    };
    let acknowledged = 0;
    const qos1 = async (ms: number): Promise<Qos1Result> => {
      const r = await load.qos1(ms, opts.inFlightPerDevice);
      acknowledged += r.sent - r.errors;
      return r;
    };
    await qos1(opts.warmupMs);
    await drained();
    const rounds: ClusterIngestRound[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const cpu0 = processCpuMicros(nodePids.keys());
      const r = await qos1(opts.runMs);
      const drainMs = await drained();
      const seconds = r.seconds + drainMs / 1000;
      const round: ClusterIngestRound = {
        run,
        ackedPerSec: r.acked / r.seconds,
        processedPerSec: r.acked / seconds,
        drainMs,
        errors: r.errors,
        nodesCpuPercent: ((processCpuMicros(nodePids.keys()) - cpu0) / 1e6 / seconds) * 100,
        clientsCpuPercent: (r.cpuMicros / 1e6 / r.seconds) * 100,
      };
      rounds.push(round);
      opts.log(
        `cluster-ingest ${kind} run ${run}: ${Math.round(round.ackedPerSec)} PUBACK/s, ${Math.round(round.processedPerSec)}/s including ${Math.round(drainMs)} ms to act on the rest; ` +
          `${round.errors} errors; CPU ${Math.round(round.nodesCpuPercent)} % gateway node(s), ${Math.round(round.clientsCpuPercent)} % clients`,
      );
    }
    const counted = await deployment.countEvents(SENSOR_PREFIX);
    const check = { acknowledged, ...counted, missing: Math.max(0, acknowledged - counted.recorded) };
    opts.log(
      `cluster-ingest ${kind}: ${check.acknowledged} events acknowledged, ${check.recorded} recorded, ${check.missing} acknowledged but missing, ${check.unprocessed} unprocessed`,
    );
    return {
      deployment: kind,
      rounds,
      msgsPerSec: spread(rounds.map((r) => r.processedPerSec)),
      check,
      setup: { startMs: deployment.startMs, seedMs: deployment.seedMs, connectMs, devicesPerNode },
    };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`cluster-ingest: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
