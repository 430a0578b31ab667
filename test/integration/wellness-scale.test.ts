// The per-minute sweep stays cheap for a large neighbourhood: 1,000 watched residents on a real SQLite store.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { CareTaskKind, CareTaskSink, NewCareTask, Signal } from '../../gateway/core/types.js';
import type { IngestEvents } from '../../gateway/ingest/events.js';
import { generateDemoRegistry } from '../../gateway/registry/demo.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { InactivityMonitor } from '../../gateway/wellness/monitor.js';
import { HOUR_MS } from '../../gateway/wellness/rules.js';
import { tempDir } from '../helpers/tmp.js';

const TZ = 'Asia/Shanghai';
const RESIDENTS = 1000;
/** Wall time in Asia/Shanghai. */
const sh = (d: number, h: number, mi = 0): number => Date.UTC(2026, 10, d, h - 8, mi);

class CountingTaskSink implements CareTaskSink {
  opened = 0;
  cleared = 0;
  async open(_task: NewCareTask, _at: number): Promise<void> {
    this.opened++;
  }
  async clear(_kind: CareTaskKind, _residentId: string, _deviceId: string | undefined, _reason: string, _at: number): Promise<void> {
    this.cleared++;
  }
}

/**
 * Runs `work` and counts the event-loop turns other work got while it ran: a callback that re-queues itself with
 * setImmediate stands for alarms arriving mid-sweep. Work that never gives way lets it run not once.
 */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  done = true;
  return { result, turns };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('inactivity monitor at scale', () => {
  it(`sweeps ${RESIDENTS} watched residents, giving the event loop to alarms throughout`, async () => {
    const dir = tempDir('care-gw-wellness-');
    const store: SqliteStore = openSqliteStore(join(dir.path, 'gateway.db'));
    cleanup.push(async () => {
      await store.close();
      dir.remove();
    });
    const log = silentLogger();
    // The demo neighbourhood, every resident watched (12 h); devices left out to skip hashing their secrets.
    const demo = generateDemoRegistry({ residents: RESIDENTS });
    const residents = (demo.residents ?? []).map((r) => ({ ...r, inactivityHours: 12 }));
    await importRegistryDocument({ store, log }, { ...demo, residents, devices: [], visits: [] });

    const clock = new ManualClock(sh(26, 7));
    const bus = new EventBus<IngestEvents>(log);
    const tasks = new CountingTaskSink();
    let raised = 0;
    const monitor = new InactivityMonitor({ store, bus, clock, log, timeZone: TZ, tasks, raise: async () => void raised++ });
    await monitor.start();
    cleanup.push(() => monitor.stop());

    const steady: number[] = [];
    const turns: number[] = [];
    // The longest the event loop was held (what an alarm arriving during a sweep would wait), sweeps only.
    const lag = monitorEventLoopDelay({ resolution: 1 });
    for (let i = 1; i <= 30; i++) {
      clock.set(sh(26, 7, i));
      lag.enable();
      const swept = await turnsDuring(() => monitor.sweep());
      steady.push(swept.result.ms);
      turns.push(swept.turns);
      lag.disable();
      // A sign of life from one resident in ten each minute, as motion sensors send them.
      for (let r = i % 10; r < residents.length; r += 10) {
        const id = residents[r]!.id;
        const signal: Signal = {
          eventId: i * RESIDENTS + r,
          deviceId: `pir-${id}`,
          deviceKind: 'motion_sensor',
          residentId: id,
          type: 'motion',
          seq: i,
          receivedAt: clock.now(),
          payload: { type: 'motion', seq: i },
        };
        bus.emit('signalReceived', signal);
      }
    }
    steady.sort((a, b) => a - b);
    const median = steady[Math.floor(steady.length / 2)]!;
    const worst = steady[steady.length - 1]!;

    // 19:31: nobody has moved since 07:30, twelve waking hours: everyone gets a task, and high-risk residents are paged.
    clock.set(sh(26, 19, 31));
    const crossing = await monitor.sweep();
    expect(crossing.watched).toBe(RESIDENTS);
    expect(crossing.tasksOpened).toBe(RESIDENTS);
    expect(tasks.opened).toBe(RESIDENTS);
    const highRisk = residents.filter((r) => r.highRisk === true).length;
    expect(highRisk).toBeGreaterThan(0);
    expect(raised).toBe(highRisk);
    expect(crossing.paged).toBe(highRisk);
    expect(monitor.stateOf(residents[0]!.id)?.inactiveMs).toBeGreaterThanOrEqual(12 * HOUR_MS);

    const held = lag.max / 1e6;
    console.info(
      `inactivity sweep, ${RESIDENTS} residents: median ${median.toFixed(1)} ms, worst ${worst.toFixed(1)} ms, event loop held at most ${held.toFixed(1)} ms; all crossing at once ${crossing.ms.toFixed(1)} ms`,
    );
    // An alarm never waits for a whole sweep: every sweep gives the event loop away at least once per 250 residents.
    // (How long a sweep takes is a figure for a quiet host, printed above, not something a loaded test host can judge.)
    expect(Math.min(...turns)).toBeGreaterThanOrEqual(RESIDENTS / 250);
  });
});
