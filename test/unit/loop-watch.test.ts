// The slow-alarm log's loop watch: its lateness timer runs only while an alarm is traced, so an idle node is not woken a hundred times a second for it.
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopWatch } from '../../gateway/metrics/loop-watch.js';

const watches: LoopWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

/** Holds the event loop for `ms` (a busy wait), as a long synchronous task would. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How late `watch` saw the loop over a 60 ms hold, with a short settle before and after. */
async function lagOfAHold(watch: LoopWatch): Promise<number> {
  await settle(30);
  const from = performance.now();
  hold(60);
  await settle(30);
  return watch.during(from, performance.now()).lagMs;
}

describe('loop watch', () => {
  it('sees a held loop while watching, and nothing (no timer) when not', async () => {
    const watch = new LoopWatch();
    watches.push(watch);
    watch.start();
    expect(await lagOfAHold(watch)).toBe(0);

    watch.watching(true);
    expect(await lagOfAHold(watch)).toBeGreaterThanOrEqual(40);

    watch.watching(false);
    expect(await lagOfAHold(watch)).toBe(0);
  });
});
