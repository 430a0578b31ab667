import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { MIGRATIONS } from '../../gateway/storage/sqlite/migrations.js';

describe('SQLite store', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = join(dir.path, 'sub', 'gateway.db');
    store = openSqliteStore(file);
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('creates the file in WAL mode and records applied migrations once', async () => {
    await store.close();
    store = openSqliteStore(file);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const rows = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    raw.close();
  });

  it('rolls a failed transaction back entirely', async () => {
    const event = { deviceId: 'd1', seq: 1, type: 'sos' as const, payload: '{}', payloadHash: 'h', deviceTs: null, receivedAt: 1 };
    await expect(
      store.transaction(async () => {
        await store.events.recordBatch([event], 0);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.events.listUnprocessed()).toEqual([]);
  });

  it('serialises transactions so awaits inside one cannot let another writer in', async () => {
    const order: string[] = [];
    const slow = store.transaction(async () => {
      order.push('a:start');
      await new Promise((r) => setTimeout(r, 20));
      await store.timers.schedule({ key: 'k1', kind: 'escalation_step', incidentId: 'i1', dueAt: 5, payload: {} });
      order.push('a:end');
      throw new Error('rollback a');
    });
    const other = store.timers
      .schedule({ key: 'k2', kind: 'escalation_step', incidentId: 'i2', dueAt: 6, payload: {} })
      .then(() => order.push('b'));
    await expect(slow).rejects.toThrow('rollback a');
    await other;
    expect(order).toEqual(['a:start', 'a:end', 'b']);
    expect((await store.timers.listPending()).map((t) => t.key)).toEqual(['k2']);
  });

  it('gives work that outlives its transaction a transaction of its own, not whichever one is open then', async () => {
    let later: Promise<void> = Promise.resolve();
    await store.transaction(async () => {
      // Started inside the transaction (like a background SMS send), finishing after its COMMIT.
      later = (async () => {
        await new Promise((r) => setTimeout(r, 20));
        await store.timers.schedule({ key: 'late', kind: 'escalation_step', incidentId: 'i1', dueAt: 1, payload: {} });
      })();
    });
    const doomed = store.transaction(async () => {
      await new Promise((r) => setTimeout(r, 60));
      throw new Error('rolled back');
    });
    await expect(doomed).rejects.toThrow('rolled back');
    await later;
    expect((await store.timers.listPending()).map((t) => t.key)).toEqual(['late']);
  });

  it('detects redeliveries by device, seq and payload within the window, on the same connection or flagged DUP only', async () => {
    const on = (session: string, dup = false) => ({ delivery: { session, dup } });
    const e = {
      deviceId: 'd1',
      seq: 7,
      type: 'sos' as const,
      payload: '{"type":"sos","seq":7}',
      payloadHash: 'abc',
      deviceTs: null,
      receivedAt: 1000,
      ...on('c1'),
    };
    const ids = async (...args: Parameters<typeof store.events.recordBatch>) => (await store.events.recordBatch(...args)).ids;
    const [first] = await ids([e], 0);
    expect(first).toBeTypeOf('number');
    expect(await ids([{ ...e, receivedAt: 2000 }], 500)).toEqual([null]);
    expect(await ids([{ ...e, receivedAt: 2000, ...on('c2', true) }], 500)).toEqual([null]);
    // The same bytes on a new connection without DUP: a device that rebooted and restarted its counter.
    const [rebooted] = await ids([{ ...e, receivedAt: 2000, ...on('c2') }], 500);
    expect(rebooted).toBeTypeOf('number');
    // A different payload under the same seq is a new event, not a redelivery, even flagged DUP.
    const [other] = await ids([{ ...e, payloadHash: 'def', receivedAt: 2000, ...on('c1', true) }], 500);
    expect(other).toBeTypeOf('number');
    // Outside the window the same bytes are new again.
    const [late] = await ids([{ ...e, receivedAt: 9000, ...on('c1', true) }], 5000);
    expect(late).toBeTypeOf('number');
    // Without a delivery (not from a device connection) nothing is taken for a redelivery.
    const { delivery: _none, ...bare } = e;
    expect((await ids([bare, bare], 0)).every((id) => typeof id === 'number')).toBe(true);
  });

  it('keeps the events recorded before the connection column existed, and takes a DUP resend of one as a redelivery', async () => {
    await store.close();
    // The database as the previous release left it: no session column, its migration not applied.
    const raw = new Database(file);
    const sessionColumn = MIGRATIONS.find((m) => m.name === 'redelivery by connection')?.version ?? 0;
    raw.exec(`ALTER TABLE events DROP COLUMN session; DELETE FROM schema_migrations WHERE version = ${sessionColumn}`);
    raw
      .prepare('INSERT INTO events (device_id, seq, type, payload, payload_hash, device_ts, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('d1', 3, 'sos', '{"type":"sos","seq":3}', 'h3', null, 1000);
    raw.close();

    store = openSqliteStore(file);
    const old = await store.events.listUnprocessed();
    expect(old).toMatchObject([{ deviceId: 'd1', seq: 3, payloadHash: 'h3', receivedAt: 1000 }]);
    const resend = {
      deviceId: 'd1',
      seq: 3,
      type: 'sos' as const,
      payload: '{"type":"sos","seq":3}',
      payloadHash: 'h3',
      deviceTs: null,
      receivedAt: 2000,
    };
    expect((await store.events.recordBatch([{ ...resend, delivery: { session: 'new', dup: true } }], 0)).ids).toEqual([null]);
    expect((await store.events.recordBatch([{ ...resend, delivery: { session: 'new', dup: false } }], 0)).ids[0]).toBeTypeOf('number');
  });

  it('lets exactly one caller claim a timer', async () => {
    await store.timers.schedule({ key: 'inc:step:1', kind: 'escalation_step', incidentId: 'inc', dueAt: 10, payload: { step: 1 } });
    const claims = await Promise.all([store.timers.claim('inc:step:1', 11), store.timers.claim('inc:step:1', 11)]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await store.timers.listPending()).toEqual([]);
  });
});
