// The connection-drop watch keeps each window's peak in constant time per CONNECT: it must report exactly what a scan of the whole window reports, through storms, lulls longer than the window, and its list compaction.
import { describe, expect, it } from 'vitest';
import { ConnectionWatch, type ConnectionDrop, type ConnectionDropRule } from '../../gateway/broker/connection-watch.js';

/** The watch as it was first written: every sample of the window kept and scanned at each change. */
class ScanningWatch {
  private samples: { at: number; count: number }[] = [];
  private drop: ConnectionDrop | null = null;

  constructor(
    private readonly now: () => number,
    private readonly rule: ConnectionDropRule,
  ) {}

  observe(count: number): void {
    const now = this.now();
    this.samples.push({ at: now, count });
    const since = now - this.rule.windowMs;
    while (this.samples.length > 1 && (this.samples[1]?.at ?? now) <= since) this.samples.shift();
    const peak = Math.max(...this.samples.map((s) => s.count));
    if (this.falls(peak, count)) this.drop = { from: Math.max(peak, this.drop?.from ?? 0), to: count, at: now };
    else if (this.drop && !this.falls(this.drop.from, count)) this.drop = null;
    else if (this.drop) this.drop = { ...this.drop, to: count };
  }

  current(): ConnectionDrop | null {
    if (this.drop && this.now() - this.drop.at > this.rule.holdMs) this.drop = null;
    return this.drop ? { ...this.drop } : null;
  }

  private falls(peak: number, count: number): boolean {
    const gone = peak - count;
    return gone >= this.rule.minDevices && gone >= peak * this.rule.share;
  }
}

/** A small deterministic generator (mulberry32), so a failure names a seed that replays it. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('connection-drop watch', () => {
  const rule: ConnectionDropRule = { share: 0.3, minDevices: 5, windowMs: 2_000, holdMs: 10_000 };

  it('reports what a scan of the whole window reports, change after change, through storms, falls, lulls and compaction', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const next = random(seed);
      let now = 1_000_000;
      const clock = { now: () => now };
      const watch = new ConnectionWatch({ clock: clock as never, rule });
      const reference = new ScanningWatch(clock.now, rule);
      let count = 0;
      for (let i = 0; i < 6_000; i++) {
        const phase = Math.floor(i / 500) % 4;
        // A storm (many changes within one millisecond or a few), a slow drift, a mass disconnect, a lull longer than the window.
        if (phase === 0) now += next() < 0.7 ? 0 : 1;
        else if (phase === 1) now += Math.floor(next() * 40);
        else if (phase === 2) now += next() < 0.01 ? 3_000 : Math.floor(next() * 5);
        else now += Math.floor(next() * 400);
        const step = phase === 2 ? -Math.floor(next() * 12) : Math.floor(next() * 9) - 3;
        count = Math.max(0, count + step);
        watch.observe(count);
        reference.observe(count);
        expect(watch.current(), `seed ${seed}, change ${i}`).toEqual(reference.current());
      }
    }
  });

  it('keeps the count in effect when the window starts as part of its peak', () => {
    let now = 0;
    const watch = new ConnectionWatch({ clock: { now: () => now } as never, rule: { ...rule, windowMs: 1_000 } });
    watch.observe(100);
    now = 10;
    watch.observe(80);
    expect(watch.current()).toBeNull();
    now = 1_500;
    // 100 was replaced by 80 before the window [500, 1500] began: the peak is 80 (in effect at its start), not 100.
    watch.observe(60);
    expect(watch.current()).toBeNull();
    now = 1_600;
    watch.observe(50);
    expect(watch.current()).toEqual({ from: 80, to: 50, at: 1_600 });
  });
});
