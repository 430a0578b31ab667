// The measurement plan shared by every latency benchmark: warm-up, sequential paced samples, idle and loaded rounds, repeated.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { BackgroundLoad } from './background-load.js';
import { sleep } from './clients.js';
import { summarize, type LatencySummary } from './stats.js';

export type Condition = 'idle' | 'load';

export interface PacingOptions {
  /** Samples measured per round. */
  count: number;
  /** Samples taken first and not counted. */
  warmup: number;
  /** Pause after each sample completes before the next one starts. */
  gapMs: number;
  /** A sample that takes longer is counted as lost. */
  timeoutMs: number;
}

export interface ConditionRun {
  run: number;
  condition: Condition;
  summary: LatencySummary;
  lost: number;
  seconds: number;
  /** Telemetry the load process published, and the broker received, per second of the measured window. */
  background: { sentPerSec: number; receivedPerSec: number } | null;
  /** This process's event-loop delay while measuring (ms), and its CPU use (100 = one core). */
  eventLoopDelayP99Ms: number;
  cpuPercent: number;
}

export interface RoundsOptions {
  runs: number;
  pacing: PacingOptions;
  /** Telemetry messages per second in the loaded rounds. */
  loadRate: number;
  /** Time the load runs before measuring starts, so queues and JIT reach a steady state. */
  settleMs: number;
  load: BackgroundLoad;
  /** Telemetry messages the system under test has received so far. */
  receivedTelemetry: () => number;
  /** One sample: index `i` of the round (warm-up included); resolves with a latency in ms. */
  sample: (i: number) => Promise<number>;
  /** Restores the starting state after a round (e.g. closes the incidents it opened). */
  afterRound?: () => Promise<void>;
  log: (line: string) => void;
  label: string;
}

export async function runRounds(opts: RoundsOptions): Promise<ConditionRun[]> {
  const out: ConditionRun[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const condition of ['idle', 'load'] as const) {
      if (condition === 'load') {
        await opts.load.setRate(opts.loadRate);
        await sleep(opts.settleMs);
      }
      const sent0 = condition === 'load' ? await opts.load.sent() : 0;
      const received0 = opts.receivedTelemetry();
      const eld = monitorEventLoopDelay({ resolution: 1 });
      eld.enable();
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      const { samples, lost } = await sampleSequentially(opts.pacing, opts.sample);
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      eld.disable();
      let background: ConditionRun['background'] = null;
      if (condition === 'load') {
        const sent = (await opts.load.sent()) - sent0;
        background = { sentPerSec: sent / seconds, receivedPerSec: (opts.receivedTelemetry() - received0) / seconds };
        await opts.load.setRate(0);
      }
      const summary = summarize(samples);
      const result: ConditionRun = {
        run,
        condition,
        summary,
        lost,
        seconds,
        background,
        eventLoopDelayP99Ms: eld.percentile(99) / 1e6,
        cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
      };
      out.push(result);
      const bg = background ? `, background ${Math.round(background.receivedPerSec)} msg/s` : '';
      opts.log(
        `${opts.label} run ${run} ${condition}: p50 ${summary.p50.toFixed(2)} ms, p99 ${summary.p99.toFixed(2)} ms, max ${summary.max.toFixed(2)} ms, n=${summary.n}, lost ${lost}${bg}`,
      );
      await opts.afterRound?.();
    }
  }
  return out;
}

/** Takes samples one after another: the next starts `gapMs` after the previous one completed, so nothing queues behind it. */
export async function sampleSequentially(p: PacingOptions, sample: (i: number) => Promise<number>): Promise<{ samples: number[]; lost: number }> {
  const samples: number[] = [];
  let lost = 0;
  for (let i = 0; i < p.warmup + p.count; i++) {
    let latency: number | null;
    try {
      latency = await withTimeout(sample(i), p.timeoutMs);
    } catch {
      latency = null;
    }
    if (i >= p.warmup) {
      if (latency === null) lost++;
      else samples.push(latency);
    }
    if (p.gapMs > 0) await sleep(p.gapMs);
  }
  return { samples, lost };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`sample timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
