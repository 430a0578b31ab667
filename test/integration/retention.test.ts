// Retention on the domain clock against a real SQLite store: once a day, heartbeats, low-battery and motion events, rejections and inbound SMS ids past their age are pruned in small batches; alarms, incident-linked events and young rows are kept.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { EventType } from '../../gateway/core/types.js';
import { RetentionJob } from '../../gateway/retention/retention.js';
import { SqliteRetentionRepo } from '../../gateway/storage/sqlite/retention-repo.js';
import { databaseFile, openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const DAY = 24 * 60 * 60 * 1000;

describe('retention', () => {
  const dir = tempDir();
  let store: SqliteStore | null = null;
  let job: RetentionJob | null = null;

  afterEach(async () => {
    await job?.stop();
    await store?.close();
    dir.remove();
  });

  it('prunes raw events and rejections older than the retention age in its daily run, and keeps alarms, incident signals and young rows', async () => {
    const clock = new ManualClock(shanghaiLast(4, 8));
    const s = openSqliteStore(databaseFile(dir.path));
    store = s;
    let seq = 0;
    const record = async (type: EventType, n = 1): Promise<number[]> => {
      const at = clock.now();
      const events = Array.from({ length: n }, () => ({
        deviceId: 'btn-001',
        seq: ++seq,
        type,
        payload: `{"type":"${type}","seq":${seq}}`,
        payloadHash: `h${seq}`,
        deviceTs: null,
        receivedAt: at,
      }));
      const { ids, durable } = await s.events.recordBatch(events, 0);
      await durable;
      const recorded = ids.filter((id): id is number => id !== null);
      await s.events.markProcessedMany(recorded);
      return recorded;
    };
    const reject = (): Promise<void> =>
      s.health.recordRejection({
        deviceId: 'btn-001',
        topic: 'care/v1/btn-001/event',
        reason: 'malformed_json',
        detail: 'x',
        receivedAt: clock.now(),
        payloadExcerpt: 'x',
      });
    const counts = (): Record<string, number> => {
      const db = s.database.db;
      const byType = db
        .prepare<[], { type: string; n: number }>('SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type')
        .all();
      return {
        ...Object.fromEntries(byType.map((r) => [r.type, r.n])),
        rejections: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rejections').get()?.n ?? -1,
      };
    };

    // Old rows, more than one batch of them, with an alarm and a (hypothetically) incident-linked heartbeat among them.
    await record('heartbeat', 1200);
    await record('motion', 5);
    await record('low_battery');
    await record('sos');
    const [linked] = await record('heartbeat');
    await s.incidents.linkSignal('inc-1', linked ?? -1);
    const [unprocessed] = (
      await s.events.recordBatch(
        [{ deviceId: 'btn-001', seq: ++seq, type: 'heartbeat', payload: '{}', payloadHash: 'u', deviceTs: null, receivedAt: clock.now() }],
        0,
      )
    ).ids;
    expect(unprocessed).toBeTypeOf('number');
    await reject();
    await reject();
    // Ids of inbound SMS, kept to drop replays: an old one goes with the rest, a young one stays.
    await s.sms.claimInbound('twilio', 'SM-old', clock.now());
    const inboundIds = (): string[] =>
      s.database.db
        .prepare<[], { message_id: string }>('SELECT message_id FROM sms_inbound_seen ORDER BY message_id')
        .all()
        .map((r) => r.message_id);

    job = new RetentionJob({
      repo: new SqliteRetentionRepo(s.database),
      clock,
      log: silentLogger(),
      retentionDays: 30,
      batchSize: 100,
      firstRunAfterMs: 60_000,
    });
    job.start();
    // Twenty days on: the daily runs so far found nothing old enough.
    const days = async (n: number): Promise<void> => {
      for (let d = 0; d < n; d++) {
        clock.advance(DAY);
        await job?.idle();
      }
    };
    await days(20);
    expect(job.lastRun).toMatchObject({ events: 0, rejections: 0, inboundIds: 0 });
    expect(counts()).toEqual({ heartbeat: 1202, low_battery: 1, motion: 5, rejections: 2, sos: 1 });
    await record('heartbeat');
    await reject();
    await s.sms.claimInbound('twilio', 'SM-young', clock.now());

    // Thirty-one days after the first rows: the next runs prune them, and nothing else.
    await days(12);
    expect(counts()).toEqual({ heartbeat: 3, sos: 1, rejections: 1 });
    const left = s.database.db
      .prepare<[], { id: number }>("SELECT id FROM events WHERE type = 'heartbeat' ORDER BY id")
      .all()
      .map((r) => r.id);
    expect(left.slice(0, 2)).toEqual([linked, unprocessed]);
    expect(inboundIds()).toEqual(['SM-young']);
  });
});
