// PostgreSQL operations: SMS cap counts shared by every node through LISTEN/NOTIFY, the commit-time metric per engine, and DISK_RESERVE_MB left to SQLite.
import type { MqttClient } from 'mqtt';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { createLogger, silentLogger } from '../../gateway/core/logger.js';
import { createMetrics } from '../../gateway/metrics/metrics.js';
import type { CapEntry } from '../../gateway/notifiers/caps.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { openStore, prepareStore } from '../../gateway/wiring/storage.js';
import { SNAPSHOT, T0 } from '../contract/fixtures.js';
import { connectDevice, startPostgresTestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let fixture: PostgresFixture;
const opened: PostgresStore[] = [];

beforeAll(async () => {
  fixture = await PostgresFixture.start();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await fixture.stop();
});

async function open(url: string, options: Parameters<typeof openPostgresStore>[1] = {}): Promise<PostgresStore> {
  const store = await openPostgresStore(url, options);
  opened.push(store);
  return store;
}

const PHONE = '+8613900000001';
const send = (sentAt: number, content = 'page'): CapEntry => ({ provider: 'tencent', phone: PHONE, kind: 'daily', content, sentAt });
const daily = (s: PostgresStore) => s.smsCaps.count({ provider: 'tencent', phone: PHONE, since: T0 - 1 });

describe('SMS caps on PostgreSQL, across nodes', () => {
  it("counts every node's sends on every node, each once, without a read on the count", async () => {
    const url = await fixture.freshUrl();
    const [a, b] = [await open(url), await open(url)];
    await a.smsCaps.record(send(T0));
    await waitFor('b hears a’s send', () => daily(b) === 1);
    await b.smsCaps.record(send(T0 + 1));
    await waitFor('a hears b’s send', () => daily(a) === 2);
    expect(daily(b)).toBe(2);
    // A full reload agrees with what the notifications built, and a node never counts its own notice twice.
    await a.smsCaps.load();
    await b.smsCaps.load();
    expect([daily(a), daily(b)]).toEqual([2, 2]);
  });

  it('does not hear a store in another schema of the same database', async () => {
    const url = await fixture.freshUrl();
    const [a, b, other] = [await open(url), await open(url), await open(await fixture.freshUrl())];
    await a.smsCaps.record(send(T0));
    await waitFor('b hears a', () => daily(b) === 1);
    expect(daily(other)).toBe(0);
  });

  it('catches up on the sends it missed while its LISTEN connection was down', async () => {
    const url = await fixture.freshUrl();
    const a = await open(url);
    const b = await open(url, { noticesRetryMs: { first: 100, max: 400 } });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // The server ends every LISTEN connection (a failover, a restart of the server's backends).
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
      await a.smsCaps.record(send(T0));
      await waitFor('b counts the send made while it was deaf', () => daily(b) === 1);
      await a.smsCaps.record(send(T0 + 1));
      await waitFor('b hears again', () => daily(b) === 2);
    } finally {
      await admin.end();
    }
  });
});

describe('store commit durations in /metrics', () => {
  it('observes PostgreSQL commits as store_commit_duration_seconds{engine="postgresql"}, SQLite keeping sqlite_commit_seconds too', async () => {
    const dir = tempDir('care-gw-metrics-');
    try {
      const pgMetrics = createMetrics({ defaultMetrics: false });
      const pgStore = openStore(loadConfig({ DATABASE_URL: await fixture.freshUrl(), DATA_DIR: dir.path }), silentLogger(), pgMetrics);
      await prepareStore(pgStore);
      await pgStore.registry.upsert(SNAPSHOT);
      await pgStore.close();
      const pgText = await pgMetrics.registry.metrics();
      expect(pgText).toMatch(/store_commit_duration_seconds_count\{engine="postgresql",durability="full"\} [1-9]/);

      const sqMetrics = createMetrics({ defaultMetrics: false });
      const sqStore = openStore(loadConfig({ DATA_DIR: dir.path }), silentLogger(), sqMetrics);
      await sqStore.registry.upsert(SNAPSHOT);
      await sqStore.close();
      const sqText = await sqMetrics.registry.metrics();
      expect(sqText).toMatch(/store_commit_duration_seconds_count\{engine="sqlite",durability="full"\} [1-9]/);
      expect(sqText).toMatch(/sqlite_commit_seconds_count\{durability="full"\} [1-9]/);
    } finally {
      dir.remove();
    }
  });
});

describe('DISK_RESERVE_MB on PostgreSQL', () => {
  let device: MqttClient | null = null;
  afterEach(async () => {
    await device?.endAsync();
    device = null;
  });

  it("sheds nothing for DATA_DIR's free space: the records are on the database server's disk", async () => {
    const url = await fixture.freshUrl();
    // A reserve no disk can meet: on SQLite every heartbeat would be shed.
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          done();
        },
      }),
    });
    const t = await startPostgresTestGateway(url, { env: { DISK_RESERVE_MB: '100000000' }, log });
    try {
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(
        "DISK_RESERVE_MB applies to the SQLite store only: on PostgreSQL heartbeats are never shed for DATA_DIR's free space; watch the database server's disk",
      );
      await t.gateway.recording.check();
      device = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
      await device.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'heartbeat', seq: 1, battery: 90 }), { qos: 1 });
      const probe = new pg.Client({ connectionString: url });
      await probe.connect();
      try {
        const rows = await probe.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'heartbeat'");
        expect(rows.rows[0]?.n).toBe(1);
      } finally {
        await probe.end();
      }
      const health = (await (await fetch(`${t.httpUrl}/healthz`)).json()) as { components: { database: Record<string, unknown> } };
      expect(health.components.database).toMatchObject({ engine: 'postgresql', status: 'up', shedding: false, reserveMb: 0 });
    } finally {
      await t.stop();
    }
  });
});
