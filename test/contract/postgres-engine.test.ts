// What the PostgreSQL store adds beyond the shared contract: several connections (nodes) at once, migrations, commit modes, bad DATABASE_URLs.
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PgCommitTiming } from '../../gateway/storage/postgres/database.js';
import { connectPostgresStore, openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { prepareStore } from '../../gateway/wiring/storage.js';
import { PG_MIGRATIONS } from '../../gateway/storage/postgres/migrations.js';
import { PostgresFixture, POSTGRES_PASSWORD } from '../helpers/postgres.js';
import { expectDeadDatabaseUrlRefused } from '../helpers/postgres-refusal.js';
import { event, incident, MIN, SNAPSHOT, T0 } from './fixtures.js';
import { waitFor } from '../helpers/wait.js';

let pg: PostgresFixture | null = null;
const opened: PostgresStore[] = [];

beforeAll(async () => {
  pg = await PostgresFixture.start();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await pg?.stop();
});

function fixture(): PostgresFixture {
  if (!pg) throw new Error('PostgreSQL did not start');
  return pg;
}

async function open(url: string, options: Parameters<typeof openPostgresStore>[1] = {}): Promise<PostgresStore> {
  const store = await openPostgresStore(url, options);
  opened.push(store);
  return store;
}

/** Two stores on one fresh schema, as two gateway nodes on one database. */
async function twoNodes(): Promise<[PostgresStore, PostgresStore]> {
  const url = await fixture().freshUrl();
  const a = await open(url);
  await a.registry.upsert(SNAPSHOT);
  return [a, await open(url)];
}

describe('PostgreSQL store: migrations', () => {
  it('applies each version once, when two nodes start at the same moment and when a node starts again', async () => {
    const url = await fixture().freshUrl();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const versions = async (s: PostgresStore) =>
      (await s.database.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
    const all = PG_MIGRATIONS.map((m) => m.version);
    expect(await versions(a)).toEqual(all);
    const again = await open(url);
    expect(await versions(again)).toEqual(all);
    expect(await b.registry.counts()).toMatchObject({ devices: 0 });
  });

  it('rolls a failing migration back whole and says which one failed', async () => {
    const url = await fixture().freshUrl();
    const bad = [...PG_MIGRATIONS, { version: 999, name: 'half done', sql: 'CREATE TABLE half (x int); SELECT no_such_function();' }];
    await expect(openPostgresStore(url, { migrations: bad })).rejects.toThrow(
      /^PostgreSQL migration 999 \(half done\) failed: .*no_such_function/,
    );
    const store = await open(url);
    expect(await store.database.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half'")).toEqual([]);
    expect(await store.database.query('SELECT 1 FROM schema_migrations WHERE version = 999')).toEqual([]);
  });

  it('records a migration in the same transaction as its changes: when the record fails, the changes go too', async () => {
    const url = await fixture().freshUrl();
    // The migration's own SQL succeeds, then recording version 998 fails (the row already exists).
    const sql = "CREATE TABLE half (x int); INSERT INTO schema_migrations (version, name, applied_at) VALUES (998, 'squatter', 0)";
    await expect(openPostgresStore(url, { migrations: [...PG_MIGRATIONS, { version: 998, name: 'recorded twice', sql }] })).rejects.toThrow(
      /^PostgreSQL migration 998 \(recorded twice\) failed: duplicate key/,
    );
    const store = await open(url);
    expect(await store.database.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half'")).toEqual([]);
    expect(await store.database.query('SELECT name FROM schema_migrations WHERE version = 998')).toEqual([]);
  });
});

describe('PostgreSQL store: several nodes on one database', () => {
  it('lets exactly one node claim each timer, however the claims race', async () => {
    const [a, b] = await twoNodes();
    const keys = Array.from({ length: 40 }, (_, i) => `inc-${i}:step:1`);
    for (const key of keys)
      await a.timers.schedule({ key, kind: 'escalation_step', incidentId: key.split(':')[0] ?? '', dueAt: T0, payload: {} });
    const claims = await Promise.all(keys.flatMap((key) => [a.timers.claim(key, T0), b.timers.claim(key, T0)]));
    for (let i = 0; i < keys.length; i++) expect([claims[2 * i], claims[2 * i + 1]].sort()).toEqual([false, true]);
    expect(await a.timers.listPending()).toEqual([]);
  });

  it('frees the claim of a node frozen inside its transaction, without stopping that node’s process', async () => {
    const url = await fixture().freshUrl();
    const lost: Error[] = [];
    const frozen = await open(url, { idleInTransactionMs: 300, onConnectionError: (err) => lost.push(err) });
    await frozen.registry.upsert(SNAPSHOT);
    const other = await open(url);
    await frozen.timers.schedule({ key: 'inc-1:step:1', kind: 'escalation_step', incidentId: 'inc-1', dueAt: T0, payload: {} });
    let thaw = (): void => undefined;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    let claimed = (): void => undefined;
    const holding = new Promise<void>((resolve) => (claimed = resolve));
    const stuck = frozen.transaction(async () => {
      expect(await frozen.timers.claim('inc-1:step:1', T0)).toBe(true);
      claimed();
      await thawed;
      await frozen.incidents.appendAudit({ incidentId: 'inc-1', at: T0, action: 'step', actor: 'system', channel: 'system', detail: null });
    });
    await holding;
    // Blocks on the frozen node's row lock until the server ends that idle transaction; then the step is free.
    expect(await other.timers.claim('inc-1:step:1', T0 + 1)).toBe(true);
    thaw();
    await expect(stuck).rejects.toThrow();
    expect(await frozen.incidents.listAudit('inc-1')).toEqual([]);
    expect(lost.map((e) => e.message).join(' ')).toMatch(/idle-in-transaction timeout/);
    // The frozen node's store still works once it thaws.
    expect(await frozen.ping()).toBe(true);
  });

  it('refuses a second active incident for a resident raised on another node at the same moment', async () => {
    const [a, b] = await twoNodes();
    const results = await Promise.allSettled([a.incidents.create(incident('inc-a')), b.incidents.create(incident('inc-b'))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((await a.incidents.listActive()).map((i) => i.residentId)).toEqual(['r-1']);
  });

  it('records a redelivery taken by two nodes at once only once', async () => {
    const [a, b] = await twoNodes();
    for (let seq = 1; seq <= 15; seq++) {
      const resend = event(seq, { delivery: { session: `s-${seq}`, dup: true } });
      const [x, y] = await Promise.all([a.events.recordBatch([resend], 0), b.events.recordBatch([resend], 0)]);
      expect([...x.ids, ...y.ids].filter((id) => id !== null)).toHaveLength(1);
    }
    expect(await a.events.listUnprocessed()).toHaveLength(15);
  });

  it('answers an event another node is acting on as taken, and frees it when that node’s transaction fails', async () => {
    const [a, b] = await twoNodes();
    const [id] = (await a.events.recordBatch([event(1)], 0)).ids as number[];
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let fail!: () => void;
    const failing = new Promise<void>((resolve) => (fail = resolve));
    const acting = a.transaction(async () => {
      expect(await a.events.alreadyTaken([id!])).toEqual([]);
      held();
      await failing;
      throw new Error('node a died while acting on it');
    });
    await holding;
    expect(await b.transaction(() => b.events.alreadyTaken([id!]))).toEqual([id]);
    fail();
    await expect(acting).rejects.toThrow('node a died');
    expect(await b.transaction(() => b.events.alreadyTaken([id!]))).toEqual([]);
  });

  it('sees a cap counted by another node once it loads the counters again', async () => {
    const [a, b] = await twoNodes();
    const q = { provider: 'tencent' as const, phone: '+8613800000001', since: T0 - MIN };
    await a.smsCaps.record({ ...q, kind: 'page_first', content: 'c1', sentAt: T0 });
    expect(a.smsCaps.count(q)).toBe(1);
    // Node b hears the send's notice (test/integration/postgres-operations.test.ts): waited for, so that it cannot arrive
    // during the second load below and bring back the entry pruned meanwhile.
    await waitFor('node b to hear the send', () => b.smsCaps.count(q) === 1);
    await b.smsCaps.load();
    expect(b.smsCaps.count({ ...q, kind: 'page_first' })).toBe(1);
    expect(b.smsCaps.count({ ...q, kind: 'page_repeat' })).toBe(0);
    await a.smsCaps.prune(T0);
    expect(a.smsCaps.count(q)).toBe(0);
    await b.smsCaps.load();
    expect(b.smsCaps.count(q)).toBe(0);
  });

  it('counts a send once when its notice arrives after a load that read its row', async () => {
    const [a, b] = await twoNodes();
    const q = { provider: 'tencent' as const, phone: '+8613800000001', since: T0 - MIN };
    const entry = { ...q, kind: 'page_first', content: 'c1', sentAt: T0 };
    // Node b is not listening while a sends, then loads the row, and only then gets the send's notice (late, as a
    // notification delayed on a busy host arrives): the same payload node a sent.
    await b.smsCaps.stop();
    await a.smsCaps.record(entry);
    await b.smsCaps.load();
    expect(b.smsCaps.count(q)).toBe(1);
    await b.smsCaps.listen();
    const notices: string[] = [];
    const channel = await b.database.channel('care_sms_caps');
    const watch = await b.database.notices.subscribe(channel, { onNotice: (p) => notices.push(p) });
    try {
      await a.database.query('SELECT pg_notify($1, $2)', [
        channel,
        JSON.stringify({ node: 'node-a', entry: { ...entry, phone: q.phone } }),
      ]);
      await waitFor('the late notice at node b', () => notices.length === 1);
      expect(b.smsCaps.count(q)).toBe(1);
      // A different send still counts.
      await a.smsCaps.record({ ...entry, sentAt: T0 + 1 });
      await waitFor('node b to hear the second send', () => b.smsCaps.count(q) === 2);
    } finally {
      await watch();
    }
  });
});

describe('PostgreSQL store: the registry cache', () => {
  it('shows an import made inside an outer transaction once that commits, and never one that rolled back', async () => {
    const [a] = await twoNodes();
    const ids = async () => (await a.registry.listWorkers()).map((w) => w.id);
    const worker = (id: string) => ({ id, name: '王芳', phone: '+8613800000002', community: 'andali', shifts: [] });
    expect(await ids()).toEqual(['w-1']);
    for (const outcome of ['rolls back', 'commits'] as const) {
      let proceed = (): void => undefined;
      const held = new Promise<void>((resolve) => (proceed = resolve));
      let imported = (): void => undefined;
      const importDone = new Promise<void>((resolve) => (imported = resolve));
      const tx = a.transaction(async () => {
        await a.registry.upsert({ ...SNAPSHOT, workers: [...SNAPSHOT.workers, worker('w-2')] });
        imported();
        await held;
        if (outcome === 'rolls back') throw new Error('import abandoned');
      });
      await importDone;
      // Read from outside while the import is uncommitted: the committed list, and it must not stay cached.
      expect(await ids()).toEqual(['w-1']);
      proceed();
      if (outcome === 'rolls back') await expect(tx).rejects.toThrow('import abandoned');
      else await tx;
      expect(await ids()).toEqual(outcome === 'commits' ? ['w-1', 'w-2'] : ['w-1']);
    }
  });
});

describe('PostgreSQL store: commits', () => {
  it('records a group of events in one COMMIT', async () => {
    const [a] = await twoNodes();
    const commits: PgCommitTiming[] = [];
    a.database.observeCommits((c) => commits.push(c));
    // As the broker records them: each with the connection it came on, so the group is checked for redeliveries.
    const { ids, durable } = await a.events.recordBatch(
      Array.from({ length: 10 }, (_, i) => event(i + 1, { delivery: { session: 'conn-1', dup: false } })),
      0,
    );
    await durable;
    expect(ids).toHaveLength(10);
    // Every row a transaction writes carries its id in xmin: one value means one COMMIT.
    const xmins = await a.database.query<{ n: number }>('SELECT count(DISTINCT xmin::text) AS n FROM events');
    expect(xmins).toEqual([{ n: 1 }]);
    // Before the PUBACKs the node waits for the redelivery check with the insert, then the COMMIT: BEGIN and the devices'
    // locks go with the check (5 round trips before session 13, 3 before session 15).
    expect(commits).toEqual([expect.objectContaining({ durability: 'full', statements: 4, waits: 2 })]);
  });

  it('answers a statement sent for its rows with the COMMIT, and fails the transaction with it when it fails', async () => {
    const [a] = await twoNodes();
    const commits: PgCommitTiming[] = [];
    a.database.observeCommits((c) => commits.push(c));
    const sent: { rows?: Promise<{ n: number }[]>; failing?: Promise<unknown> } = {};
    await a.transaction(async () => {
      sent.rows = a.database.sendForRows<{ n: number }>('SELECT 41 + 1 AS n');
    });
    expect(await sent.rows).toEqual([{ n: 42 }]);
    // BEGIN, the statement and the COMMIT, and one round trip waited for: the COMMIT's.
    expect(commits).toEqual([expect.objectContaining({ statements: 3, waits: 1 })]);
    const tx = a.transaction(async () => {
      sent.failing = a.database.sendForRows('SELECT 1 / 0 AS n');
    });
    await expect(tx).rejects.toThrow('division by zero');
    await expect(sent.failing).rejects.toThrow('division by zero');
    expect(commits).toHaveLength(1);
  });

  it('waits for the WAL flush at COMMIT unless the work asks for normal durability', async () => {
    const [a] = await twoNodes();
    const setting = (durability?: 'full' | 'normal') =>
      a.transaction(
        async () => (await a.database.one<{ synchronous_commit: string }>('SHOW synchronous_commit'))?.synchronous_commit,
        durability ? { durability } : {},
      );
    expect(await setting()).toBe('on');
    expect(await setting('full')).toBe('on');
    expect(await setting('normal')).toBe('off');
    // SET LOCAL ends with its transaction: the next one on the same pooled connection is full again.
    expect(await setting()).toBe('on');
  });

  it('opens a transaction with its durability in one round trip to the server', async () => {
    // The server logs every statement it receives, each line led by its session's pid. Sessions opened after that
    // log their statements: the store's pool connects only below.
    const log = await fixture().server.logStatements();
    try {
      const [a] = await twoNodes();
      const pid = await a.transaction(async () => (await a.database.one<{ pid: number }>('SELECT pg_backend_pid() AS pid'))?.pid, {
        durability: 'normal',
      });
      const sent = readFileSync(log.file, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith(`[${pid}] LOG:  `))
        .map((line) => line.replace(/^\[\d+\] LOG: {2}(statement|execute [^:]*): /, ''));
      // The same round trip bounds each statement on the server at 80% of the 5 s read time-out.
      const opening = 'BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL statement_timeout = 4000';
      const begin = sent.lastIndexOf(opening);
      expect(sent.slice(begin)).toEqual([opening, 'SELECT pg_backend_pid() AS pid', 'COMMIT']);
    } finally {
      await log.reset();
    }
  });

  it('keeps its pooled connections while they idle, so a burst after a lull opens no new server process', async () => {
    const url = await fixture().freshUrl();
    const a = await open(url);
    // Four connections at once, then a lull longer than pg-pool's default idle time-out (10 s).
    const pids = async (): Promise<number[]> =>
      (
        await Promise.all(
          Array.from({ length: 4 }, () =>
            a.transaction(async () => (await a.database.one<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)'))?.pid ?? 0),
          ),
        )
      ).sort((x, y) => x - y);
    const before = await pids();
    expect(new Set(before).size).toBe(4);
    await new Promise((r) => setTimeout(r, 10_500));
    expect(await pids()).toEqual(before);
  }, 30_000);

  it("opens its pool's connections at start, so a burst right after it opens no server process", async () => {
    const url = await fixture().freshUrl();
    // As a gateway node starts (prepareStore, its first step).
    const a = connectPostgresStore(url);
    opened.push(a);
    await prepareStore(a);
    const before = (await a.database.one<{ t: string }>('SELECT clock_timestamp()::text AS t'))?.t ?? '';
    // Devices connecting the moment the node listens: as many transactions at once as the pool holds (10).
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        a.transaction(async () => (await a.database.one<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)'))?.pid ?? 0),
      ),
    );
    expect(new Set(burst).size).toBe(10);
    const startedDuringBurst = await a.database.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND backend_start > $2::timestamptz',
      [burst, before],
    );
    expect(startedDuringBurst).toEqual([]);
  });

  it('keeps link codes once and prunes expired ones, and retention keeps events that belong to an incident', async () => {
    const [a] = await twoNodes();
    const grant = { code: 'ABCDEFGHJK', incidentCode: 'C1', personId: 'w-1', role: 'worker', expiresAt: T0 + MIN, createdAt: T0 };
    expect(await a.linkCodes.insert(grant)).toBe(true);
    expect(await a.linkCodes.insert({ ...grant, personId: 'w-2' })).toBe(false);
    expect(await a.linkCodes.get('ABCDEFGHJK')).toEqual(grant);
    await a.linkCodes.pruneExpired(T0 + 2 * MIN);
    expect(await a.linkCodes.get('ABCDEFGHJK')).toBeNull();

    const { ids } = await a.events.recordBatch([event(1, { type: 'heartbeat' }), event(2, { type: 'heartbeat' }), event(3)], 0);
    const [first, second, third] = ids as number[];
    await a.events.markProcessedMany([first as number, second as number, third as number]);
    await a.incidents.create(incident('inc-1'));
    await a.incidents.linkSignal('inc-1', first as number);
    const step = await a.retention.pruneEvents(['heartbeat'], T0 + 100, 0, 10);
    expect(step).toEqual({ deleted: 1, lastId: third, done: false });
    expect(await a.events.get(first as number)).not.toBeNull();
    expect(await a.events.get(second as number)).toBeNull();
  });

  it('sends a write nobody reads without waiting for its answer, in order: the next statement waited for sees it', async () => {
    const [a, b] = await twoNodes();
    const commits: PgCommitTiming[] = [];
    a.database.observeCommits((c) => commits.push(c));
    // Node b holds a lock the first write needs: the server cannot answer that write (nor anything after it) until b lets go.
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = (): void => undefined;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const holder = b.transaction(async () => {
      await b.database.query('SELECT pg_advisory_xact_lock(7)');
      locked();
      await released;
    });
    await holding;
    const stages: string[] = [];
    const work = a.transaction(async () => {
      await a.database.send('SELECT pg_advisory_xact_lock(7)');
      await a.incidents.create(incident('inc-sent'));
      stages.push('sent');
      const seen = await a.incidents.get('inc-sent');
      stages.push('read');
      return seen?.id;
    });
    try {
      await waitFor('the writes to be sent', () => stages.includes('sent'));
      // The server is still waiting for b's lock, and none of the writes was answered: a.transaction never waited for them.
      const waiting = await b.database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
      );
      expect(waiting).toEqual([{ n: 1 }]);
      expect(stages).toEqual(['sent']);
    } finally {
      release();
      await holder;
    }
    expect(await work).toBe('inc-sent');
    expect((await b.incidents.get('inc-sent'))?.id).toBe('inc-sent');
    // BEGIN, the lock, the incident, the read, COMMIT: two waited for.
    expect(commits.at(-1)).toMatchObject({ durability: 'full', statements: 5, waits: 2 });
  });

  it('keeps each transaction’s statements on its own connection when transactions end around each other, and after all have ended', async () => {
    const [a] = await twoNodes();
    const db = a.database;
    const txid = async (): Promise<string> => (await db.query<{ id: string }>('SELECT txid_current()::text AS id'))[0]?.id ?? '';
    let bDone = (): void => undefined;
    const bEnded = new Promise<void>((resolve) => (bDone = resolve));
    let aDone = (): void => undefined;
    const aEnded = new Promise<void>((resolve) => (aDone = resolve));
    // a starts, b starts and ends while a waits; then a ends while c waits: each must stay on its own transaction
    // throughout, though the work of the others started and stopped meanwhile.
    const first = db.transaction(async () => {
      const before = await txid();
      await bEnded;
      return [before, await txid(), db.inTransaction()] as const;
    });
    const second = db.transaction(async () => [await txid(), await txid()] as const);
    const [b1, b2] = await second;
    bDone();
    const third = db.transaction(async () => {
      const before = await txid();
      await aEnded;
      await a.incidents.create(incident('inc-c'));
      return [before, await txid(), (await a.incidents.get('inc-c'))?.id] as const;
    });
    const [a1, a2, aIn] = await first;
    aDone();
    const [c1, c2, seen] = await third;
    expect(b1).toBe(b2);
    expect([a1, aIn]).toEqual([a2, true]);
    expect([c1, seen]).toEqual([c2, 'inc-c']);
    expect(new Set([a1, b1, c1]).size).toBe(3);
    // With none running, a statement is the pool's, and the next transaction gets its own context again.
    expect(db.inTransaction()).toBe(false);
    expect(await txid()).not.toBe(c1);
    const again = await db.transaction(async () => [await txid(), await txid(), db.inTransaction()] as const);
    expect(again[0]).toBe(again[1]);
    expect(again[2]).toBe(true);
    // A transaction that failed leaves the next one its own context too.
    await expect(db.transaction(async () => Promise.reject(new Error('work failed')))).rejects.toThrow('work failed');
    const after = await db.transaction(async () => [await txid(), await txid()] as const);
    expect(after[0]).toBe(after[1]);
  });

  it('sends the statements a transaction issues in one turn in one socket write, and its COMMIT in one more', async () => {
    const url = await fixture().freshUrl();
    const a = await open(url);
    const port = Number(new URL(url).port);
    const writes = countWritesTo(port);
    try {
      await a.database.transaction(async () => {
        // BEGIN (sent, not waited for), two writes sent without waiting and a read waited for: all in this turn.
        void a.database.send('CREATE TEMP TABLE turn_writes (n int) ON COMMIT DROP');
        void a.database.send('INSERT INTO turn_writes VALUES (1), (2)');
        expect(await a.database.query('SELECT count(*)::int AS n FROM turn_writes')).toEqual([{ n: 2 }]);
      });
      // One write for BEGIN and the three statements, one for COMMIT; a write per statement made five.
      expect(writes.count()).toBe(2);
    } finally {
      writes.stop();
    }
  });

  it('fails a transaction with the error of a write it sent and did not wait for, rolls it back, and runs nothing after commit', async () => {
    const [a] = await twoNodes();
    const after: string[] = [];
    await a.incidents.create(incident('inc-1'));
    // The failing write followed by a read: the read only sees the aborted transaction; the write's own error is thrown.
    await expect(
      a.transaction(async () => {
        await a.incidents.appendAudit({ incidentId: 'inc-1', at: T0, action: 'kept?', actor: 'system', channel: 'system', detail: null });
        await a.incidents.create(incident('inc-1'));
        a.afterCommit(() => after.push('read'));
        await a.incidents.get('inc-1');
      }),
    ).rejects.toThrow(/duplicate key value/);
    // The failing write the last before COMMIT: the server answers that COMMIT with ROLLBACK, and the transaction fails.
    await expect(
      a.transaction(async () => {
        await a.incidents.appendAudit({ incidentId: 'inc-1', at: T0, action: 'kept?', actor: 'system', channel: 'system', detail: null });
        a.afterCommit(() => after.push('last'));
        await a.incidents.create(incident('inc-1'));
      }),
    ).rejects.toThrow(/duplicate key value/);
    expect(after).toEqual([]);
    expect(await a.incidents.listAudit('inc-1')).toEqual([]);
    // The connection goes on serving transactions.
    await a.transaction(async () => {
      await a.incidents.create(incident('inc-2', { residentId: 'r-2' }));
      a.afterCommit(() => after.push('committed'));
    });
    expect(after).toEqual(['committed']);
  });
});

describe('PostgreSQL store: a DATABASE_URL that does not work', () => {
  it('names DATABASE_URL in one line when nothing listens there', async () => {
    await expectDeadDatabaseUrlRefused((url) => openPostgresStore(url));
  });

  it('names DATABASE_URL in one line, without the password, when the login is refused', async () => {
    const url = fixture().server.url('care_gw_test', 'wrong-password');
    const err = await openPostgresStore(url).then(
      () => null,
      (e: unknown) => e,
    );
    const message = (err as Error).message;
    expect(message).toMatch(/^DATABASE_URL: cannot open the PostgreSQL store at .*: password authentication failed for user "postgres"$/);
    expect(message).not.toContain('wrong-password');
    expect(message).not.toContain(POSTGRES_PASSWORD);
  });
});

/** Counts the writes to the kernel (`_write`, `_writev`) of every socket connected to `port`, until stop(). */
function countWritesTo(port: number): { count: () => number; stop: () => void } {
  type Internals = { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const proto = Socket.prototype as unknown as Internals;
  const { _write: write, _writev: writev } = proto;
  let writes = 0;
  const counted = (original: (...a: unknown[]) => void) =>
    function (this: Socket, ...a: unknown[]): void {
      if (this.remotePort === port) writes++;
      original.apply(this, a);
    };
  proto._write = counted(write);
  proto._writev = counted(writev);
  return {
    count: () => writes,
    stop: () => {
      proto._write = write;
      proto._writev = writev;
    },
  };
}
