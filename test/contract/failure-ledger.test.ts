// The shared sign-in failure ledger on both engines: what one node appends another reads, by id and time, without its own entries; old entries are pruned.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureLedgerRepo } from '../../gateway/lockouts/repo.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { T0 } from './fixtures.js';

let pg: PostgresFixture | null = null;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  pg = await PostgresFixture.start();
}, 60_000);
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await pg?.stop();
});

const engines: [string, () => Promise<FailureLedgerRepo>][] = [
  [
    'SQLite',
    async () => {
      const dir = tempDir('care-gw-ledger-');
      const store: SqliteStore = openSqliteStore(join(dir.path, 'gateway.db'));
      closers.push(async () => {
        await store.close();
        dir.remove();
      });
      return store.failureLedger;
    },
  ],
  [
    'PostgreSQL',
    async () => {
      if (!pg) throw new Error('PostgreSQL did not start');
      const store: PostgresStore = await openPostgresStore(await pg.freshUrl());
      closers.push(() => store.close());
      return store.failureLedger;
    },
  ],
];

describe.each(engines)('failure ledger on %s', (_name, open) => {
  it('answers the other nodes’ entries after a cursor and a time, oldest first, a page at a time', async () => {
    const ledger = await open();
    await ledger.append({ scope: 'mqtt', key: '["10.0.0.2","btn-001"]', at: T0, node: 'a' });
    await ledger.append({ scope: 'mqtt', key: '["10.0.0.2","btn-001"]', at: T0 + 1000, node: 'b' });
    await ledger.append({ scope: 'login_ip', key: 'ip:10.0.0.3', at: T0 + 2000, node: 'b' });
    await ledger.append({ scope: 'mqtt', key: '["10.0.0.2","btn-001"]', at: T0 + 3000, node: 'c' });

    const forA = await ledger.since({ afterId: 0, notBefore: 0, exceptNode: 'a', limit: 10 });
    expect(forA.map((r) => r.entry)).toEqual([
      { scope: 'mqtt', key: '["10.0.0.2","btn-001"]', at: T0 + 1000, node: 'b' },
      { scope: 'login_ip', key: 'ip:10.0.0.3', at: T0 + 2000, node: 'b' },
      { scope: 'mqtt', key: '["10.0.0.2","btn-001"]', at: T0 + 3000, node: 'c' },
    ]);
    const ids = forA.map((r) => r.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);

    // A cursor, a page size and a time bound each narrow the answer.
    const page = await ledger.since({ afterId: 0, notBefore: 0, exceptNode: 'a', limit: 2 });
    expect(page.map((r) => r.id)).toEqual(ids.slice(0, 2));
    const after = await ledger.since({ afterId: ids[1]!, notBefore: 0, exceptNode: 'a', limit: 10 });
    expect(after.map((r) => r.id)).toEqual(ids.slice(2));
    const recent = await ledger.since({ afterId: 0, notBefore: T0 + 1000, exceptNode: 'z', limit: 10 });
    expect(recent.map((r) => r.entry.at)).toEqual([T0 + 2000, T0 + 3000]);
  });

  it('prunes entries at or before a time', async () => {
    const ledger = await open();
    for (let i = 0; i < 3; i++) await ledger.append({ scope: 'otp_ip', key: 'ip:10.0.0.9', at: T0 + i * 1000, node: 'a' });
    expect(await ledger.prune(T0 + 1000)).toBe(2);
    const left = await ledger.since({ afterId: 0, notBefore: 0, exceptNode: 'x', limit: 10 });
    expect(left.map((r) => r.entry.at)).toEqual([T0 + 2000]);
  });
});
