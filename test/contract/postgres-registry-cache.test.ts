// The PostgreSQL registry cache: residents (workers, devices, bridges) read once, dropped by this node's writes, other nodes' commits, and notices gaps; never by a rollback.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChangeFeed } from '../../gateway/core/leases.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { SNAPSHOT } from './fixtures.js';

let pg: PostgresFixture | null = null;
const opened: PostgresStore[] = [];
const feeds: ChangeFeed[] = [];

beforeAll(async () => {
  pg = await PostgresFixture.start();
});
afterEach(async () => {
  for (const f of feeds.splice(0)) await f.stop();
  await Promise.all(opened.splice(0).map((s) => s.close()));
  vi.restoreAllMocks();
});
afterAll(async () => {
  await pg?.stop();
});

/** Two stores on one fresh schema, as two gateway nodes on one database; the second follows the first's writes. */
async function twoNodes(): Promise<{ a: PostgresStore; b: PostgresStore; changes: string[] }> {
  if (!pg) throw new Error('PostgreSQL did not start');
  const url = await pg.freshUrl();
  const a = await openPostgresStore(url);
  opened.push(a);
  await a.registry.upsert(SNAPSHOT);
  // Back after 1.5 s when its notices connection is cut, so a test sees the gap.
  const b = await openPostgresStore(url, { noticesRetryMs: { first: 1500, max: 1500 } });
  opened.push(b);
  const changes: string[] = [];
  const feed = b.registry.changes();
  feeds.push(feed);
  await feed.start((cause) => changes.push(cause));
  return { a, b, changes };
}

/** Counts the registry reads a store sends through its pool from now on (the SMS cap counters read on their own). */
function countQueries(store: PostgresStore, tables = /FROM (residents|workers)\b/): () => number {
  const spy = vi.spyOn(store.database, 'query');
  return () => spy.mock.calls.filter(([sql]) => tables.test(typeof sql === 'string' ? sql : sql.text)).length;
}

const Z2M = { id: 'z2m-1', kind: 'zigbee2mqtt', baseTopic: 'z2m-1', secretHash: 'scrypt$x' } as const;

describe('PostgreSQL registry cache', () => {
  it('reads a resident once, then answers from the cache, an unknown resident included', async () => {
    const { b } = await twoNodes();
    const queries = countQueries(b);
    expect((await b.registry.getResident('r-1'))?.name).toBe('张桂兰');
    expect(await b.registry.getResident('r-404')).toBeNull();
    expect(queries()).toBe(2);
    expect((await b.registry.getResident('r-1'))?.name).toBe('张桂兰');
    expect(await b.registry.getResident('r-404')).toBeNull();
    expect(queries()).toBe(2);
  });

  it("drops the cached resident on this node's own write", async () => {
    const { b } = await twoNodes();
    await b.registry.getResident('r-1');
    await b.registry.upsert({ ...SNAPSHOT, residents: [{ ...SNAPSHOT.residents[0]!, name: '张桂兰（新）' }] });
    const queries = countQueries(b);
    expect((await b.registry.getResident('r-1'))?.name).toBe('张桂兰（新）');
    expect(queries()).toBe(1);
  });

  it("drops it when another node's write commits, tells the follower once, and not for that node's rolled-back write", async () => {
    const { a, b, changes } = await twoNodes();
    await b.registry.getResident('r-1');
    await b.registry.listWorkers();

    // A write that rolls back sends nothing: PostgreSQL delivers a NOTIFY only at COMMIT.
    await expect(
      a.transaction(async () => {
        await a.registry.setSetting('sms_templates', 'x');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');

    await a.registry.upsert({
      ...SNAPSHOT,
      residents: [{ ...SNAPSHOT.residents[0]!, name: '张桂兰（新）' }],
      workers: [{ ...SNAPSHOT.workers[0]!, phone: '+8613800000099' }],
    });
    await waitFor("node B to hear node A's write", () => changes.length >= 1);
    expect(changes).toEqual(['notice']);
    const queries = countQueries(b);
    expect((await b.registry.getResident('r-1'))?.name).toBe('张桂兰（新）');
    expect((await b.registry.listWorkers())[0]?.phone).toBe('+8613800000099');
    expect(queries()).toBe(2);
    // Notices arrive in commit order: had the rolled-back write, or a setting the registry's views do not read (the
    // storage write probe), sent one, it would be counted before this one.
    await a.registry.setSetting('storage.write_probe', '1');
    await a.registry.setSetting('sms_templates', 'y');
    await waitFor('the second notice', () => changes.length >= 2);
    expect(changes).toEqual(['notice', 'notice']);
  });

  it("asks for the bridges once for every device CONNECT's is-it-a-bridge question, and again after another node's import", async () => {
    const { a, b, changes } = await twoNodes();
    await a.registry.upsert({ ...SNAPSHOT, bridges: [Z2M] });
    await waitFor("node B to hear node A's write", () => changes.length >= 1);
    const queries = countQueries(b, /FROM bridges\b/);
    for (const id of ['d-1', 'd-2', 'd-3']) expect(await b.registry.getBridge(id)).toBeNull();
    expect(await b.registry.getBridge('z2m-1')).toMatchObject({ kind: 'zigbee2mqtt', baseTopic: 'z2m-1' });
    expect(queries()).toBe(1);
    await a.registry.upsert({ ...SNAPSHOT, bridges: [{ ...Z2M, baseTopic: 'z2m-new' }] });
    await waitFor('the second notice', () => changes.length >= 2);
    expect(await b.registry.getBridge('z2m-1')).toMatchObject({ baseTopic: 'z2m-new' });
    expect(queries()).toBe(2);
  });

  it("reads a device once for its CONNECTs, and its new secret hash after another node's import", async () => {
    const { a, b, changes } = await twoNodes();
    const queries = countQueries(b, /FROM devices WHERE id\b/);
    for (let i = 0; i < 3; i++) expect((await b.registry.getDevice('btn-1'))?.secretHash).toBe('scrypt$a');
    expect(await b.registry.getDevice('btn-404')).toBeNull();
    expect(queries()).toBe(2);
    // A caller that changes its copy changes nothing cached.
    const copy = await b.registry.getDevice('btn-1');
    if (copy) copy.secretHash = 'changed';
    const devices = SNAPSHOT.devices.map((d) => (d.id === 'btn-1' ? { ...d, secretHash: 'scrypt$rotated' } : d));
    await a.registry.upsert({ ...SNAPSHOT, devices });
    await waitFor("node B to hear node A's write", () => changes.length >= 1);
    expect((await b.registry.getDevice('btn-1'))?.secretHash).toBe('scrypt$rotated');
    expect((await b.registry.getDevice('btn-1'))?.secretHash).toBe('scrypt$rotated');
    expect(queries()).toBe(3);
  });

  it('reads the devices of CONNECTs in one turn in one statement, and a device inside a transaction on its connection', async () => {
    const { b } = await twoNodes();
    const queries = countQueries(b, /FROM devices WHERE id\b/);
    // A failover's reconnects: first CONNECTs to this node, many in one turn of the event loop, one unknown, one twice.
    const ids = ['btn-1', 'fall-1', 'btn-404', 'btn-3', 'btn-1'];
    const found = await Promise.all(ids.map((id) => b.registry.getDevice(id)));
    expect(found.map((d) => d?.secretHash ?? null)).toEqual(['scrypt$a', 'scrypt$b', null, 'scrypt$c', 'scrypt$a']);
    expect(queries()).toBe(1);
    // Each caller has its own copy.
    expect(found[0]).not.toBe(found[4]);
    // In a transaction that just wrote a device, the read sees it: on that transaction's connection, not batched.
    const devices = [...SNAPSHOT.devices, { id: 'btn-9', kind: 'sos_button' as const, resident: 'r-2', secretHash: 'scrypt$n' }];
    const seen = await b.database.transaction(async () => {
      await b.registry.upsert({ ...SNAPSHOT, devices });
      return b.registry.getDevice('btn-9');
    });
    expect(seen?.secretHash).toBe('scrypt$n');
  });

  it('holds device reads asked while one is under way, and reads them together after it', async () => {
    const { b } = await twoNodes();
    // The first read is slow (a busy server): held until the test lets it go.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const query = b.database.query.bind(b.database);
    const reads: unknown[][] = [];
    vi.spyOn(b.database, 'query').mockImplementation(async (sql, params) => {
      if (!/FROM devices WHERE id\b/.test(typeof sql === 'string' ? sql : sql.text)) return query(sql, params);
      reads.push(params?.[0] as unknown[]);
      if (reads.length === 1) await held;
      return query(sql, params);
    });
    const first = b.registry.getDevice('btn-1');
    await waitFor('the first read under way', () => reads.length === 1);
    // Three CONNECTs, one per turn of the event loop, while it is.
    const later: Promise<unknown>[] = [];
    for (const id of ['fall-1', 'btn-3', 'btn-404']) {
      later.push(b.registry.getDevice(id));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(reads).toHaveLength(1);
    release();
    expect((await first)?.id).toBe('btn-1');
    expect((await Promise.all(later)).map((d) => (d as { id: string } | null)?.id ?? null)).toEqual(['fall-1', 'btn-3', null]);
    expect(reads).toEqual([['btn-1'], ['fall-1', 'btn-3', 'btn-404']]);
  });

  it('bypasses the cache while its notices connection does not listen, and reports the gap when it listens again', async () => {
    const { a, b, changes } = await twoNodes();
    await b.registry.getResident('r-1');
    const pid = b.database.notices.backendPid();
    expect(pid).not.toBeNull();
    await a.database.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('node B to see its notices connection down', () => b.database.notices.status().state !== 'listening');
    const queries = countQueries(b);
    await b.registry.getResident('r-1');
    await b.registry.getResident('r-1');
    expect(queries()).toBe(2);
    await waitFor('node B to listen again', () => changes.includes('listening'));
    await b.registry.getResident('r-1');
    await b.registry.getResident('r-1');
    expect(queries()).toBe(3);
  });
});
