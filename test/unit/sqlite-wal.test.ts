// The disk side of SQLite, off the event loop: WAL syncs on the thread pool (coalesced, ordered after the commit) and checkpoints on a thread of their own.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { WalSync } from '../../gateway/storage/sqlite/wal-sync.js';
import { Checkpointer } from '../../gateway/storage/sqlite/checkpointer.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const event = (seq: number) => ({
  deviceId: 'd1',
  seq,
  type: 'motion' as const,
  payload: `{"seq":${seq},"pad":"${'x'.repeat(400)}"}`,
  payloadHash: `h${seq}`,
  deviceTs: null,
  receivedAt: 1,
});

describe('WalSync', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('shares one flush among the calls made while another runs, and never lets a call ride on a flush that started before it', async () => {
    const path = join(dir.path, 'x.db-wal');
    writeFileSync(path, 'frames');
    const flushes: { started: number; gate: () => void }[] = [];
    let clock = 0;
    const sync = new WalSync({
      path,
      // A real fdatasync, held until the test lets it go: a slow disk.
      flush: (handle: FileHandle) =>
        new Promise<void>((resolve, reject) => {
          flushes.push({ started: ++clock, gate: () => void handle.datasync().then(resolve, reject) });
        }),
    });
    const order: string[] = [];
    const first = sync.sync().then(() => order.push('first'));
    await waitFor('one flush', () => flushes.length === 1, { intervalMs: 5 });
    // Asked while flush 1 runs: their frames may be newer than what flush 1 covers, so they wait for flush 2.
    const second = sync.sync().then(() => order.push('second'));
    const third = sync.sync().then(() => order.push('third'));
    flushes[0]?.gate();
    await first;
    await waitFor('a second flush', () => flushes.length === 2, { intervalMs: 5 });
    expect(order).toEqual(['first']);
    flushes[1]?.gate();
    await Promise.all([second, third]);
    expect(order).toEqual(['first', 'second', 'third']);
    expect(flushes.map((f) => f.started)).toEqual([1, 2]);
    expect(sync.stats()).toEqual({ syncs: 2, failures: 0, lastError: null });
    await sync.close();
    await expect(sync.sync()).rejects.toThrow('closed');
  });

  it('rejects the callers of a failed flush, says why, and tries afresh on the next call', async () => {
    const path = join(dir.path, 'missing.db-wal');
    const sync = new WalSync({ path });
    await expect(sync.sync()).rejects.toThrow(/ENOENT/);
    expect(sync.stats().failures).toBe(1);
    expect(sync.stats().lastError).toContain('ENOENT');
    writeFileSync(path, 'frames');
    await sync.sync();
    expect(sync.stats()).toEqual({ syncs: 1, failures: 1, lastError: null });
    await sync.close();
  });
});

describe('Checkpointer and the gateway connection', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore | null = null;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await store?.close();
    store = null;
    dir.remove();
  });

  it('copies the WAL back into the database on its own thread while COMMITs never checkpoint', async () => {
    const file = join(dir.path, 'gateway.db');
    // A long period: only checkpointNow() runs one in this test.
    store = openSqliteStore(file, { checkpointIntervalMs: 60_000 });
    const db = store.database;
    for (let i = 1; i <= 300; i++) await store.transaction(async () => store?.events.recordBatch([event(i)], 0), { durability: 'normal' });
    // With SQLite's own checkpoints (1,000 pages) off, the WAL only grew.
    const walBefore = statSync(`${file}-wal`).size;
    expect(walBefore).toBeGreaterThan(300 * 400);
    await db.checkpointNow();
    const stats = db.storageHealth().checkpoints;
    expect(stats).toMatchObject({ mode: 'worker', checkpoints: 1, failures: 0 });
    expect(stats?.last?.walFrames).toBeGreaterThan(0);
    expect(stats?.last?.copiedFrames).toBe(stats?.last?.walFrames);
    // The rows are in the database file itself now: a reader that ignores the WAL sees them.
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare<[], { n: number }>('SELECT count(*) AS n FROM events').get()?.n).toBe(300);
    raw.close();
    // The next write starts the WAL over instead of growing it.
    await store.transaction(async () => store?.events.recordBatch([event(301)], 0));
    expect(statSync(`${file}-wal`).size).toBe(walBefore);
  });

  it('reports a lost checkpoint thread and hands checkpoints back to SQLite, so the WAL never grows without bound', async () => {
    const file = join(dir.path, 'gateway.db');
    const problems: string[] = [];
    store = openSqliteStore(file, { onStorageProblem: (err) => problems.push(err.message) });
    expect(store.database.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // The thread opens the database with fileMustExist: pointed at a missing file, it dies at start.
    let lostWith: Error | null = null;
    const orphan = new Checkpointer({ file: join(dir.path, 'missing.db'), onLost: (err) => (lostWith = err) });
    orphan.start();
    await waitFor('the checkpoint thread lost', () => lostWith !== null, { intervalMs: 5 });
    expect(orphan.stats().mode).toBe('inline');
    expect(orphan.stats().lastError).toMatch(/cannot open .*missing\.db.*SQLITE_CANTOPEN/);
    await orphan.stop();
    // The gateway's own thread, lost the same way (terminated from outside), turns SQLite's checkpoints back on.
    await store.database.checkpointer?.terminate();
    await waitFor('a reported problem', () => problems.length > 0, { intervalMs: 5 });
    expect(problems[0]).toMatch(/checkpoint thread lost/);
    expect(store.database.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(store.database.storageHealth().checkpoints?.mode).toBe('inline');
  });
});
