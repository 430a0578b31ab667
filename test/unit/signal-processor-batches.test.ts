// How the signal processor cuts its queue into transactions: big batches of everyday events, at most maxAlarmsPerBatch alarms each.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { EventType, Signal } from '../../gateway/core/types.js';
import { SignalProcessor } from '../../gateway/incidents/processor.js';
import type { IncidentService } from '../../gateway/incidents/service.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';

let nextId = 1;
function signal(type: EventType): Signal {
  const eventId = nextId++;
  return {
    eventId,
    deviceId: 'btn-001',
    deviceKind: 'sos_button',
    residentId: 'r-001',
    type,
    seq: eventId,
    receivedAt: 0,
    payload: { type, seq: eventId },
  };
}

describe('SignalProcessor batches', () => {
  let store: SqliteStore | null = null;
  afterEach(async () => {
    await store?.close();
    store = null;
  });

  async function run(queue: Signal[], opts: { maxBatch?: number; maxAlarmsPerBatch?: number }): Promise<EventType[][]> {
    store = openSqliteStore(':memory:');
    const batches: EventType[][] = [];
    // The incident service's entry points the processor uses; recording what each transaction would get.
    const service: Pick<IncidentService, 'handleSignals' | 'familyPagesDone'> = {
      handleSignals: async (signals: Signal[]) => {
        batches.push(signals.map((s) => s.type));
      },
      familyPagesDone: () => Promise.resolve(),
    };
    const processor = new SignalProcessor({
      store,
      service,
      clock: new ManualClock(),
      log: silentLogger(),
      ...opts,
    });
    await processor.start();
    processor.submit(...queue);
    await processor.idle();
    await processor.stop();
    return batches;
  }

  it('takes up to maxBatch everyday events per transaction', async () => {
    const batches = await run(
      Array.from({ length: 2500 }, () => signal('motion')),
      { maxBatch: 1000 },
    );
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
  });

  it('stops a batch before its (maxAlarmsPerBatch + 1)th alarm, everyday events riding along', async () => {
    const queue = [signal('sos'), signal('motion'), signal('sos'), signal('heartbeat'), signal('sos'), signal('motion'), signal('fall')];
    const batches = await run(queue, { maxAlarmsPerBatch: 2 });
    expect(batches).toEqual([
      ['sos', 'motion', 'sos', 'heartbeat'],
      ['sos', 'motion', 'fall'],
    ]);
  });

  it('still takes one alarm per batch when the alarm limit is 0', async () => {
    const batches = await run([signal('sos'), signal('sos'), signal('motion')], { maxAlarmsPerBatch: 0 });
    expect(batches).toEqual([['sos'], ['sos'], ['motion']]);
  });
});
