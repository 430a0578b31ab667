// SqliteDatabase: effects after COMMIT only, per-transaction durability (FULL by default, NORMAL on request), cached statements.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const event = (seq: number) => ({ deviceId: 'd1', seq, type: 'sos' as const, payload: `{"seq":${seq}}`, payloadHash: `h${seq}`, deviceTs: null, receivedAt: 1 });

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

  it('commits with synchronous=FULL unless a transaction asks for NORMAL, and counts both kinds', async () => {
    const level = () => store.database.db.pragma('synchronous', { simple: true });
    const before = store.database.commitStats();
    const inFull = await store.transaction(async () => {
      await store.events.recordBatch([event(3)], 0);
      return level();
    });
    const inNormal = await store.transaction(
      async () => {
        const [id] = await store.events.recordBatch([event(4)], 0);
        if (id !== null && id !== undefined) await store.events.markProcessed(id);
        return level();
      },
      { durability: 'normal' },
    );
    // A nested call joins the outer transaction and its durability.
    const nested = await store.transaction(async () => store.transaction(async () => level(), { durability: 'full' }), { durability: 'normal' });
    const afterDefault = await store.transaction(async () => level());
    expect([inFull, inNormal, nested, afterDefault]).toEqual([2, 1, 1, 2]);
    const after = store.database.commitStats();
    expect(after.synced - before.synced).toBe(2);
    expect(after.unsynced - before.unsynced).toBe(2);
    // Both survive a reopen (a process restart).
    await store.close();
    store = openSqliteStore(file);
    expect((await store.events.listUnprocessed()).map((e) => e.seq)).toEqual([3]);
  });

  it('prepares a statement once and hands the same one back', () => {
    const a = store.database.stmt('SELECT 1 AS one');
    const b = store.database.stmt('SELECT 1 AS one');
    expect(a).toBe(b);
    expect(a.get()).toEqual({ one: 1 });
  });
});
