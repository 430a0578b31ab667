// SqliteDatabase: effects after COMMIT only, per-transaction durability (FULL by default, NORMAL on request), the event recorder's sync off the event loop, cached statements.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const event = (seq: number) => ({
  deviceId: 'd1',
  seq,
  type: 'sos' as const,
  payload: `{"seq":${seq}}`,
  payloadHash: `h${seq}`,
  deviceTs: null,
  receivedAt: 1,
});

describe('SQLite transactions: after-commit effects and durability', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = join(dir.path, 'gateway.db');
    store = openSqliteStore(file);
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('runs an after-commit effect only once the rows are committed, as seen from another connection', async () => {
    const other = new Database(file, { readonly: true });
    const seenByEffect: number[] = [];
    await store.transaction(async () => {
      await store.events.recordBatch([event(1)], 0);
      store.afterCommit(() => {
        seenByEffect.push(other.prepare<[], { n: number }>('SELECT count(*) AS n FROM events').get()?.n ?? -1);
      });
      // Still inside: the effect has not run, and nobody else sees the row yet.
      expect(seenByEffect).toEqual([]);
      expect(other.prepare<[], { n: number }>('SELECT count(*) AS n FROM events').get()?.n).toBe(0);
    });
    expect(seenByEffect).toEqual([1]);
    other.close();
  });

  it('drops the after-commit effects of a transaction that rolls back, and runs them at once outside one', async () => {
    const ran: string[] = [];
    await expect(
      store.transaction(async () => {
        await store.events.recordBatch([event(2)], 0);
        store.afterCommit(() => ran.push('rolled back'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    store.afterCommit(() => ran.push('outside'));
    expect(ran).toEqual(['outside']);
    expect(await store.events.listUnprocessed()).toEqual([]);
  });

  it('commits with synchronous=FULL unless a transaction asks for NORMAL; the event recorder syncs off the event loop', async () => {
    const level = () => store.database.db.pragma('synchronous', { simple: true });
    const syncs = () => store.database.storageHealth().walSyncs;
    const before = store.database.commitStats();
    const s0 = syncs();
    const inFull = await store.transaction(async () => {
      await store.events.recordBatch([event(3)], 0);
      return level();
    });
    const inNormal = await store.transaction(
      async () => {
        const { ids } = await store.events.recordBatch([event(4)], 0);
        const id = ids[0];
        if (id !== null && id !== undefined) await store.events.markProcessed(id);
        return level();
      },
      { durability: 'normal' },
    );
    // A nested call joins the outer transaction and its durability.
    const nested = await store.transaction(async () => store.transaction(async () => level(), { durability: 'full' }), {
      durability: 'normal',
    });
    const afterDefault = await store.transaction(async () => level());
    expect([inFull, inNormal, nested, afterDefault]).toEqual([2, 1, 1, 2]);
    // Joined to an outer transaction, the recorder took no sync of its own.
    expect(syncs()).toBe(s0);
    // On its own, it commits with NORMAL and counts as synced once the thread-pool sync has run.
    const { durable } = await store.events.recordBatch([event(5)], 0);
    expect(level()).toBe(1);
    await durable;
    expect(syncs()).toBe(s0 + 1);
    // COMMIT never stops to checkpoint: the checkpoint thread does that.
    expect(store.database.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const after = store.database.commitStats();
    expect(after.synced - before.synced).toBe(3);
    expect(after.unsynced - before.unsynced).toBe(2);
    // All survive a reopen (a process restart).
    await store.close();
    store = openSqliteStore(file);
    expect((await store.events.listUnprocessed()).map((e) => e.seq)).toEqual([3, 5]);
  });

  it('hands recordBatch back at the COMMIT, with the rows visible to others before the sync has finished', async () => {
    await store.close();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    store = openSqliteStore(file, {
      flushWal: async (handle) => {
        await gate;
        await handle.datasync();
      },
    });
    const other = new Database(file, { readonly: true });
    const { ids, durable } = await store.events.recordBatch([event(6)], 0);
    let synced = false;
    void durable.then(() => (synced = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(synced).toBe(false);
    expect(other.prepare<[number], { seq: number }>('SELECT seq FROM events WHERE id = ?').get(ids[0] ?? -1)?.seq).toBe(6);
    // The next group commits meanwhile: it does not wait for the previous one's sync, only its own ack does.
    const next = await store.events.recordBatch([event(7)], 0);
    expect(next.ids[0]).toBeTypeOf('number');
    release();
    await Promise.all([durable, next.durable]);
    expect(synced).toBe(true);
    other.close();
  });

  it('reports a failed WAL sync, keeps the committed rows, rejects the durable promise, and tries afresh next time', async () => {
    await store.close();
    const problems: string[] = [];
    let failures = 1;
    store = openSqliteStore(file, {
      flushWal: async (handle) => {
        if (failures-- > 0) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        await handle.datasync();
      },
      onStorageProblem: (err) => problems.push(err.message),
    });
    const { durable } = await store.events.recordBatch([event(8)], 0);
    await expect(durable).rejects.toThrow('EIO');
    expect(problems.join('\n')).toMatch(/WAL sync failed.*EIO/);
    expect(store.database.storageHealth().walSyncFailures).toBe(1);
    expect(store.database.storageHealth().lastWalSyncError).toContain('EIO');
    // The next sync is tried afresh and succeeds.
    await (
      await store.events.recordBatch([event(9)], 0)
    ).durable;
    expect(store.database.storageHealth()).toMatchObject({ walSyncFailures: 1, lastWalSyncError: null });
    expect((await store.events.listUnprocessed()).map((e) => e.seq)).toEqual([8, 9]);
  });

  it('prepares a statement once and hands the same one back', () => {
    const a = store.database.stmt('SELECT 1 AS one');
    const b = store.database.stmt('SELECT 1 AS one');
    expect(a).toBe(b);
    expect(a.get()).toEqual({ one: 1 });
  });
});
