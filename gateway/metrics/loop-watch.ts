// Watches this process's event loop for the slow-alarm log: how late a short timer ran, and the garbage collections, over the last seconds.
import { PerformanceObserver, performance } from 'node:perf_hooks';

/** How often the timer runs: a block of the loop shorter than this may go unseen. */
const TICK_MS = 10;
/** Ticks kept: about 5 s, longer than any alarm stays traced before its report. */
const TICKS = 512;
/** The timer stops this long after it was last asked to run, even if it was never told to stop (a trace left open). */
const WATCH_AT_MOST_MS = 60_000;
/** Collections kept: scavenges under load come a few per second. */
const GCS = 256;

/** What the loop went through between two instants (performance.now() time). */
export interface LoopWindow {
  /** The longest the loop could not run a due timer within the window (a tick's lateness, clipped to the window). */
  lagMs: number;
  /** Garbage collection pauses overlapping the window, summed, and how many there were. */
  gcMs: number;
  gcCount: number;
}

/**
 * A timer re-armed every TICK_MS (unref'd) notes how late it ran, only while some alarm is traced (`watching`), so an
 * idle node is not woken 100 times a second for it; a PerformanceObserver notes each collection. Both go into fixed
 * rings, so the cost is one short callback per tick and per collection, and nothing grows.
 */
export class LoopWatch {
  private readonly tickAt = new Float64Array(TICKS);
  private readonly tickLate = new Float64Array(TICKS);
  private ticks = 0;
  private readonly gcAt = new Float64Array(GCS);
  private readonly gcTook = new Float64Array(GCS);
  private gcs = 0;
  private timer: NodeJS.Timeout | null = null;
  private expected = 0;
  private until = 0;
  private observer: PerformanceObserver | null = null;

  /** Observes collections from now on; the lateness timer runs only while watching(true). */
  start(): void {
    if (this.observer) return;
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.noteGc(entry.startTime, entry.duration);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.watching(false);
    this.observer?.disconnect();
    this.observer = null;
  }

  /**
   * Runs the lateness timer while `on` (some alarm is traced), from its first tick TICK_MS after it is turned on, and for
   * at most a minute after the last call with `on`.
   */
  watching(on: boolean): void {
    if (on) this.until = performance.now() + WATCH_AT_MOST_MS;
    if (on && !this.timer && this.observer) {
      this.expected = performance.now() + TICK_MS;
      this.timer = setTimeout(() => this.tick(), TICK_MS);
      this.timer.unref();
    } else if (!on && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** The loop between `from` and `to`; ticks and collections older than the rings hold are not counted. */
  during(from: number, to: number): LoopWindow {
    let lagMs = 0;
    for (let i = 0; i < Math.min(this.ticks, TICKS); i++) {
      const at = this.tickAt[i] ?? 0;
      const late = this.tickLate[i] ?? 0;
      // A tick at `at`, `late` ms late: the loop could not run it over [at - late, at].
      const within = Math.min(to, at) - Math.max(from, at - late);
      if (within > lagMs) lagMs = within;
    }
    let gcMs = 0;
    let gcCount = 0;
    for (let i = 0; i < Math.min(this.gcs, GCS); i++) {
      const start = this.gcAt[i] ?? 0;
      const overlap = Math.min(to, start + (this.gcTook[i] ?? 0)) - Math.max(from, start);
      if (overlap > 0) {
        gcMs += overlap;
        gcCount++;
      }
    }
    return { lagMs, gcMs, gcCount };
  }

  private tick(): void {
    const now = performance.now();
    const slot = this.ticks++ % TICKS;
    this.tickAt[slot] = now;
    this.tickLate[slot] = Math.max(0, now - this.expected);
    this.expected = now + TICK_MS;
    if (now > this.until) this.watching(false);
    else this.timer?.refresh();
  }

  private noteGc(start: number, duration: number): void {
    const slot = this.gcs++ % GCS;
    this.gcAt[slot] = start;
    this.gcTook[slot] = duration;
  }
}
