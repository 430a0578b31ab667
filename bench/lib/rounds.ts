// The measurement plan shared by every latency benchmark: warm-up, sequential paced samples, idle and loaded rounds, repeated.
import { constants, monitorEventLoopDelay, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { GCProfiler } from 'node:v8';
import type { BackgroundLoad } from './background-load.js';
import { sleep } from './clients.js';
import { hostBusyMicros, hostStealMs } from './machine.js';
import { RoundProfiler } from './round-profile.js';
import { summarize, type LatencySummary } from './stats.js';

export type Condition = 'idle' | 'load';

/** One measurement: when it started (performance.now()) and how long it took. */
export interface Sample {
  startedAt: number;
  latencyMs: number;
}

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
  /** CPU used by the load process, and by every other process on the host (100 = one core): the latter is noise. */
  loadProcessCpuPercent: number;
  otherCpuPercent: number;
  /** CPU the hypervisor took from this VM while measuring (100 = one core): the host's other guests. */
  stealPercent: number;
  /** Garbage-collection pauses in this process while measuring. */
  gc: { count: number; totalMs: number; maxMs: number; major: number };
  /** Heap allocated by this process while measuring, per sample (MiB), from the heap sizes around each GC. */
  allocatedMiBPerSample: number;
  /** The same in bytes for the whole round, and the messages the round handled: its samples and the telemetry received. */
  allocatedBytes: number;
  /** Samples taken in the round, warm-up included (what allocatedMiBPerSample divides by). */
  samplesTaken: number;
  telemetryReceived: number;
  /** The samples no GC pause overlapped: how much of the tail GC explains. */
  withoutGc: { n: number; p99: number; max: number };
}

export interface RoundsOptions {
  runs: number;
  pacing: PacingOptions;
  /** Telemetry messages per second in the loaded rounds. */
  loadRate: number;
  /** Time the load runs before measuring starts, so queues and JIT reach a steady state. */
  settleMs: number;
  load: BackgroundLoad;
  /** Telemetry messages the system under test has received so far (or, where it cannot be asked, the load has sent). */
  receivedTelemetry: () => number | Promise<number>;
  /** One sample: index `i` of the round (warm-up included). */
  sample: (i: number) => Promise<Sample>;
  /** Runs after each round, with its result: e.g. closes the incidents it opened, collects extra figures. */
  afterRound?: (round: ConditionRun) => Promise<void>;
  log: (line: string) => void;
  label: string;
}

export async function runRounds(opts: RoundsOptions): Promise<ConditionRun[]> {
  const out: ConditionRun[] = [];
  const profiler = new RoundProfiler();
  for (let run = 1; run <= opts.runs; run++) {
    for (const condition of ['idle', 'load'] as const) {
      if (condition === 'load') {
        await opts.load.setRate(opts.loadRate);
        await sleep(opts.settleMs);
      }
      const load0 = await opts.load.stats();
      const received0 = await opts.receivedTelemetry();
      const host0 = hostBusyMicros();
      const steal0 = hostStealMs();
      const eld = monitorEventLoopDelay({ resolution: 1 });
      eld.enable();
      const gc = new GcWatch();
      gc.start();
      const heap = new HeapAllocation();
      heap.start();
      await profiler.start();
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      const { samples, lost } = await sampleSequentially(opts.pacing, opts.sample);
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      for (const file of await profiler.stop(`${opts.label}-run${run}-${condition}`))
        opts.log(`${opts.label}: profile of run ${run} ${condition} written to ${file}`);
      const hostMicros = hostBusyMicros() - host0;
      const stealMs = hostStealMs() - steal0;
      eld.disable();
      gc.stop();
      const allocatedBytes = heap.stop();
      const load1 = await opts.load.stats();
      const received = (await opts.receivedTelemetry()) - received0;
      let background: ConditionRun['background'] = null;
      if (condition === 'load') {
        background = { sentPerSec: (load1.sent - load0.sent) / seconds, receivedPerSec: received / seconds };
        await opts.load.setRate(0);
      }
      const percent = (micros: number): number => (micros / 1e6 / seconds) * 100;
      const ownMicros = cpu.user + cpu.system;
      const loadMicros = load1.cpuMicros - load0.cpuMicros;
      const summary = summarize(samples.map((x) => x.latencyMs));
      const clean = summarize(samples.filter((x) => !gc.overlaps(x.startedAt, x.startedAt + x.latencyMs)).map((x) => x.latencyMs));
      const result: ConditionRun = {
        run,
        condition,
        summary,
        lost,
        seconds,
        background,
        eventLoopDelayP99Ms: eld.percentile(99) / 1e6,
        cpuPercent: percent(ownMicros),
        loadProcessCpuPercent: percent(loadMicros),
        otherCpuPercent: Math.max(0, percent(hostMicros - ownMicros - loadMicros)),
        stealPercent: percent(stealMs * 1000),
        gc: gc.summary(),
        allocatedMiBPerSample: allocatedBytes / 2 ** 20 / Math.max(1, opts.pacing.warmup + opts.pacing.count),
        allocatedBytes,
        samplesTaken: opts.pacing.warmup + opts.pacing.count,
        telemetryReceived: received,
        withoutGc: { n: clean.n, p99: clean.p99, max: clean.max },
      };
      out.push(result);
      const bg = background ? `, background ${Math.round(background.receivedPerSec)} msg/s` : '';
      opts.log(
        `${opts.label} run ${run} ${condition}: p50 ${summary.p50.toFixed(2)} ms, p99 ${summary.p99.toFixed(2)} ms, max ${summary.max.toFixed(2)} ms, ` +
          `n=${summary.n}, lost ${lost}${bg}, other processes ${Math.round(result.otherCpuPercent)} % CPU, steal ${result.stealPercent.toFixed(1)} %, ` +
          `GC ${result.gc.count} pauses (${result.gc.major} major) ${result.gc.totalMs.toFixed(0)} ms, max ${result.gc.maxMs.toFixed(1)} ms, ` +
          `${result.allocatedMiBPerSample.toFixed(2)} MiB allocated per sample`,
      );
      await opts.afterRound?.(result);
    }
  }
  return out;
}

/** Takes samples one after another: the next starts `gapMs` after the previous one completed, so nothing queues behind it. */
export async function sampleSequentially(
  p: PacingOptions,
  sample: (i: number) => Promise<Sample>,
): Promise<{ samples: Sample[]; lost: number }> {
  const samples: Sample[] = [];
  let lost = 0;
  for (let i = 0; i < p.warmup + p.count; i++) {
    let taken: Sample | null;
    try {
      taken = await withTimeout(sample(i), p.timeoutMs);
    } catch {
      taken = null;
    }
    if (i >= p.warmup) {
      if (taken === null) lost++;
      else samples.push(taken);
    }
    if (p.gapMs > 0) await sleep(p.gapMs);
  }
  return { samples, lost };
}

/** `work`, or a rejection naming `what` once `ms` have passed. */
export function withTimeout<T>(work: Promise<T>, ms: number, what = 'sample'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Bytes this process allocated while started: what each GC found in use, minus what the previous one
 * left, plus what is in use at the end beyond the last GC. Not noisy, unlike time.
 */
class HeapAllocation {
  private readonly profiler = new GCProfiler();
  private usedAtStart = 0;

  start(): void {
    this.usedAtStart = usedHeap();
    this.profiler.start();
  }

  stop(): number {
    const usedAtEnd = usedHeap();
    const data = this.profiler.stop();
    let total = 0;
    let after = this.usedAtStart;
    for (const s of data?.statistics ?? []) {
      total += Math.max(0, heapUsed(s.beforeGC) - after);
      after = heapUsed(s.afterGC);
    }
    return total + Math.max(0, usedAtEnd - after);
  }
}

function usedHeap(): number {
  return process.memoryUsage().heapUsed;
}

function heapUsed(stats: { heapStatistics: { usedHeapSize: number } }): number {
  return stats.heapStatistics.usedHeapSize;
}

/** Collects GC pause entries while started. */
class GcWatch {
  private readonly pauses: { start: number; ms: number; major: boolean }[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.pauses.push({ start: e.startTime, ms: e.duration, major: isMajor(e) });
  });

  /** True when a recorded pause overlaps [from, to] (performance.now() times). */
  overlaps(from: number, to: number): boolean {
    return this.pauses.some((p) => p.start <= to && p.start + p.ms >= from);
  }

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer.disconnect();
  }

  summary(): ConditionRun['gc'] {
    return {
      count: this.pauses.length,
      totalMs: this.pauses.reduce((s, p) => s + p.ms, 0),
      maxMs: Math.max(0, ...this.pauses.map((p) => p.ms)),
      major: this.pauses.filter((p) => p.major).length,
    };
  }
}

function isMajor(e: PerformanceEntry): boolean {
  // GC entries carry { kind } in `detail`, which the Node typings leave out of PerformanceEntry.
  const detail: unknown = 'detail' in e ? e.detail : null;
  const kind = typeof detail === 'object' && detail !== null && 'kind' in detail ? detail.kind : null;
  return kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}
