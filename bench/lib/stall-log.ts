// What held the benchmark process's event loop, and when: GC pauses, SQLite COMMITs and other stalls, to explain single slow samples.
import { readFileSync } from 'node:fs';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import type { CommitTiming } from '../../gateway/storage/sqlite/database.js';
import { toMonotonic } from './monotonic.js';

interface Stall {
  kind: 'gc' | 'commit-full' | 'commit-normal' | 'loop';
  start: number;
  ms: number;
  /** For loop stalls, from the kernel (BENCH_SCHEDSTAT=1): ms the main thread ran, and ms it waited for a CPU. */
  ranMs?: number;
  waitedMs?: number;
}

/** The main thread's run time and run-queue wait so far (ns), from /proc/thread-self/schedstat (Linux). */
function schedstat(): [number, number] | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return run !== undefined && wait !== undefined ? [run, wait] : null;
  } catch {
    return null;
  }
}

/** Recorded only from this length: shorter holds are the normal cost of work. */
const MIN_MS = 2;
/** The stall detector's timer period; a tick this much later than due is a stall of the difference. */
const TICK_MS = 1;
/** Keeps the last this many stalls (a round of 1,000 samples has far fewer). */
const MAX_KEPT = 20_000;

export class StallLog {
  private stalls: Stall[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopObserving: (() => void) | null = null;
  private readonly gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.duration >= MIN_MS) this.add({ kind: 'gc', start: e.startTime, ms: e.duration });
  });

  /** `observeCommits`: the gateway database's commit observer (SqliteDatabase.observeCommits). */
  start(observeCommits: (fn: (t: CommitTiming) => void) => () => void): void {
    this.gc.observe({ entryTypes: ['gc'] });
    this.stopObserving = observeCommits((t) => {
      if (t.ms >= MIN_MS) this.add({ kind: t.durability === 'full' ? 'commit-full' : 'commit-normal', start: t.startedAt, ms: t.ms });
    });
    const sched = process.env.BENCH_SCHEDSTAT === '1';
    let last = performance.now();
    let lastSched = sched ? schedstat() : null;
    this.timer = setInterval(() => {
      const now = performance.now();
      const nowSched = sched ? schedstat() : null;
      const late = now - last - TICK_MS;
      if (late >= MIN_MS) {
        const split =
          nowSched && lastSched ? { ranMs: (nowSched[0] - lastSched[0]) / 1e6, waitedMs: (nowSched[1] - lastSched[1]) / 1e6 } : {};
        this.add({ kind: 'loop', start: last + TICK_MS, ms: late, ...split });
      }
      last = now;
      lastSched = nowSched;
    }, TICK_MS);
  }

  stop(): void {
    this.gc.disconnect();
    this.stopObserving?.();
    this.stopObserving = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * What held the loop during [from, to] (performance.now()), e.g. "loop 12.1, gc 8.3, commit-full 3.2".
   * A loop stall covers whatever ran in it (a GC or a COMMIT shows inside one as well).
   */
  during(from: number, to: number): string {
    const parts = this.stalls
      .filter((s) => s.start <= to && s.start + s.ms >= from)
      .map(
        (s) =>
          `${s.kind} ${s.ms.toFixed(1)}${s.ranMs === undefined ? '' : ` (ran ${s.ranMs.toFixed(1)}, waited for a CPU ${(s.waitedMs ?? 0).toFixed(1)})`}`,
      );
    return parts.length > 0 ? parts.join(', ') : 'none';
  }

  /** The recorded stalls of at least `minMs`, with start times on the machine-wide monotonic clock (to match a CPU profile's). */
  export(minMs: number): (Stall & { monotonicStart: number })[] {
    return this.stalls.filter((s) => s.ms >= minMs).map((s) => ({ ...s, monotonicStart: toMonotonic(s.start) }));
  }

  private add(s: Stall): void {
    this.stalls.push(s);
    if (this.stalls.length > MAX_KEPT) this.stalls = this.stalls.slice(-MAX_KEPT / 2);
  }
}
