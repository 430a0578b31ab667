// The live feed's channel between nodes on a real PostgreSQL: batches under NOTIFY's limit, a lost listener reconnects, bad payloads are refused.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterFeed, type FeedNotice, type NoticeOutcome } from '../../gateway/live/cluster.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { PgNotifyChannel } from '../../gateway/storage/postgres/notify.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

interface Node {
  store: PostgresStore;
  channel: PgNotifyChannel;
  feed: ClusterFeed;
  heard: FeedNotice[];
  counts: Record<NoticeOutcome, number>;
}

describe('the live feed channel (LISTEN/NOTIFY)', () => {
  let fixture: PostgresFixture;
  const nodes: Node[] = [];

  beforeAll(async () => {
    fixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await fixture.stop();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      await n.channel.stop();
      await n.store.close();
    }
  });

  async function node(url: string, name: string): Promise<Node> {
    const store = await openPostgresStore(url, { noticesRetryMs: { first: 50, max: 400 } });
    const channel = new PgNotifyChannel({ database: store.database, name: 'care_live', log: silentLogger() });
    const counts: Record<NoticeOutcome, number> = { sent: 0, failed: 0, received: 0, malformed: 0 };
    const feed = new ClusterFeed({ transport: channel, node: name, log: silentLogger(), count: (o, n) => (counts[o] += n) });
    const heard: FeedNotice[] = [];
    feed.onNotices((list) => heard.push(...list));
    await channel.start();
    const n = { store, channel, feed, heard, counts };
    nodes.push(n);
    return n;
  }

  it('carries a burst larger than one NOTIFY payload to the other node, in order, each incident once, never back to its sender', async () => {
    const url = await fixture.freshUrl();
    const a = await node(url, 'node-a');
    const b = await node(url, 'node-b');
    const ids = Array.from({ length: 400 }, (_, i) => `inc_${String(i).padStart(4, '0')}_${'x'.repeat(40)}`);
    for (const id of ids) a.feed.publish({ kind: 'incident', id });
    // A burst of receipts for one incident is one notice.
    for (let i = 0; i < 5; i++) a.feed.publish({ kind: 'incident', id: ids[0] ?? '' });
    a.feed.publish({ kind: 'device', deviceId: 'btn-001', state: 'offline', at: 1 });
    await a.feed.idle();
    await waitFor('all notices on node B', () => b.heard.length === 401);
    expect(b.heard.slice(0, 400).map((n) => (n.kind === 'incident' ? n.id : ''))).toEqual(ids);
    expect(b.heard[400]).toEqual({ kind: 'device', deviceId: 'btn-001', state: 'offline', at: 1 });
    expect(a.counts.sent).toBe(401);
    expect(a.heard).toEqual([]);
  });

  it('holds notices raised while a NOTIFY is under way and sends them together after it, in order', async () => {
    const url = await fixture.freshUrl();
    const a = await node(url, 'node-a');
    const b = await node(url, 'node-b');
    // Node C sends through node A's channel, each send held until the test lets it go: a NOTIFY slow on a busy host.
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const transport = {
      maxBytes: a.channel.maxBytes,
      send: async (payload: string) => {
        sent.push(payload);
        await held;
        await a.channel.send(payload);
      },
      onPayload: () => undefined,
      onGap: () => undefined,
    };
    const c = new ClusterFeed({ transport, node: 'node-c', log: silentLogger() });
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    c.publish({ kind: 'device', deviceId: 'pir-00000', state: 'online', at: 0 });
    await waitFor('the first notice on its way', () => sent.length === 1);
    // A reconnect storm's notices: one per tick, twenty ticks, while the first NOTIFY is under way.
    for (let i = 1; i <= 20; i++) {
      c.publish({ kind: 'device', deviceId: `pir-${String(i).padStart(5, '0')}`, state: 'online', at: i });
      await tick();
    }
    expect(sent).toHaveLength(1);
    release();
    await c.idle();
    expect(sent).toHaveLength(2);
    await waitFor('every notice on node B', () => b.heard.length === 21);
    expect(b.heard.map((n) => (n.kind === 'device' ? n.at : -1))).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('listens again after its connection is killed, and refuses a malformed payload without stopping', async () => {
    const url = await fixture.freshUrl();
    const a = await node(url, 'node-a');
    const b = await node(url, 'node-b');
    // The server ends node B's listening session (a restart, a network cut, an administrator).
    await a.store.database.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    );
    await waitFor('node B listening again', () => b.channel.state().reconnects >= 1 && b.channel.state().listening);
    a.feed.publish({ kind: 'task', id: 'task_1', change: 'opened' });
    await waitFor('the notice after the reconnect', () => b.heard.length === 1);

    const schema = (await a.store.database.one<{ s: string }>('SELECT current_schema() AS s'))?.s ?? '';
    for (const bad of ['not json', '{"node":"x","notices":[{"kind":"incident"}]}', '{"node":"x","notices":[{"kind":"drop table"}]}'])
      await a.store.database.broadcast(`care_live:${schema}`, bad);
    a.feed.publish({ kind: 'outage', id: 'out_1', change: 'closed' });
    await waitFor('the good notice after the bad ones', () => b.heard.length === 2);
    expect(b.counts.malformed).toBe(3);
    expect(b.heard).toEqual([
      { kind: 'task', id: 'task_1', change: 'opened' },
      { kind: 'outage', id: 'out_1', change: 'closed' },
    ]);
  });

  it('counts a notice the database did not take as failed, without throwing to whoever published it', async () => {
    const url = await fixture.freshUrl();
    const a = await node(url, 'node-a');
    await a.store.close();
    a.feed.publish({ kind: 'incident', id: 'inc_1' });
    await a.feed.idle();
    expect(a.counts).toMatchObject({ sent: 0, failed: 1 });
    // afterEach closes it again; a second close is harmless.
  });
});
