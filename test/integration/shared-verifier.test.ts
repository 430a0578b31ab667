// Two nodes' device authenticators on one registry and one real Redis: a device verified on one node is admitted by the other without scrypt, and nothing else is.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeviceAuthenticator, type AuthOutcome } from '../../gateway/broker/auth.js';
import { SharedVerifier, VERIFIED_KEY_PREFIX, type SharedLookup, type SharedVerifierDeps } from '../../gateway/broker/shared-verifier.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { hashSecret, verifySecret } from '../../gateway/registry/secrets.js';
import { device, startEdge, type Edge } from '../helpers/edge.js';
import { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const LINK_SECRET = randomBytes(32);

interface Node {
  auth: DeviceAuthenticator;
  /** The secret hashes this node ran scrypt against, in order. */
  scrypts: string[];
  /** The outcome of each look-up in Redis, in order. */
  lookups: SharedLookup[];
  conn: Redis;
  attempt(id: string, password: string): Promise<AuthOutcome>;
}

describe('the secret cache shared by the nodes (REDIS_URL)', () => {
  let redis: RedisServer;
  let edge: Edge;
  const conns: Redis[] = [];

  beforeAll(async () => {
    [redis, edge] = await Promise.all([RedisServer.start(), startEdge()]);
  });
  afterAll(async () => {
    await edge.close();
    await redis.stop();
  });
  beforeEach(async () => {
    const r = redis.client();
    await r.flushall();
    await r.quit();
  });
  afterEach(() => {
    for (const c of conns.splice(0)) c.disconnect();
  });

  /** A node's authenticator with its own Redis connection (as a node's broker has), counting its scrypt checks. */
  const node = async (over: Partial<SharedVerifierDeps> = {}): Promise<Node> => {
    // As the cluster's own connections, commands queue while it reconnects (here for as long as that takes).
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    conn.on('error', () => undefined);
    conns.push(conn);
    await waitFor('redis connection ready', () => conn.status === 'ready', { timeoutMs: 5000 });
    const scrypts: string[] = [];
    const lookups: SharedLookup[] = [];
    const shared = new SharedVerifier({
      connection: () => conn,
      linkSecret: LINK_SECRET,
      clock: edge.clock,
      log: silentLogger(),
      count: (outcome) => lookups.push(outcome),
      ...over,
    });
    const auth = new DeviceAuthenticator({
      registry: edge.store.registry,
      clock: edge.clock,
      shared,
      verify: async (secret, hash) => {
        scrypts.push(hash);
        return verifySecret(secret, hash);
      },
    });
    const attempt = (id: string, password: string): Promise<AuthOutcome> =>
      auth.check({ clientId: id, username: id, password: Buffer.from(password), remoteAddress: '10.0.0.7' });
    return { auth, scrypts, lookups, conn, attempt };
  };

  /** Reads the entry node A wrote (its write is fire-and-forget). */
  const entryOf = async (conn: Redis, id: string): Promise<string> => {
    let entry: string | null = null;
    await waitFor(`the shared entry of ${id}`, async () => (entry = await conn.get(VERIFIED_KEY_PREFIX + id)) !== null, {
      timeoutMs: 5000,
    });
    return entry ?? '';
  };

  const setSecret = async (id: string, secret: string): Promise<void> => {
    const current = await edge.store.registry.getDevice(id);
    if (!current) throw new Error(`no device ${id}`);
    await edge.store.registry.upsert({
      communities: [],
      residents: [],
      workers: [],
      volunteers: [],
      visits: [],
      devices: [{ id, kind: current.kind, resident: current.resident, secretHash: await hashSecret(secret) }],
    });
  };

  it('admits a device verified on node A when it reconnects to node B, with no scrypt on B', async () => {
    const [a, b] = [await node(), await node()];
    const secret = device('btn-001').secret;
    expect((await a.attempt('btn-001', secret)).ok).toBe(true);
    expect(a.scrypts).toHaveLength(1);
    await entryOf(a.conn, 'btn-001');

    const outcome = await b.attempt('btn-001', secret);
    expect(outcome).toMatchObject({ ok: true, device: { id: 'btn-001' } });
    expect(b.scrypts).toEqual([]);
    expect(b.lookups).toEqual(['hit']);
    // B now knows the secret itself: the next reconnect does not even read Redis.
    await redis.kill();
    expect((await b.attempt('btn-001', secret)).ok).toBe(true);
    expect(b.scrypts).toEqual([]);
    await redis.restart();
  });

  it('makes a wrong secret on node B pay its scrypt and be refused, as before', async () => {
    const [a, b] = [await node(), await node()];
    expect((await a.attempt('btn-001', device('btn-001').secret)).ok).toBe(true);
    await entryOf(a.conn, 'btn-001');

    const outcome = await b.attempt('btn-001', 'not-the-secret');
    expect(outcome).toMatchObject({ ok: false, returnCode: 4, security: { kind: 'auth_failed', deviceId: 'btn-001' } });
    expect(b.scrypts).toHaveLength(1);
    // Another device's secret is no better, nor is an unknown id that happens to have an entry.
    expect((await b.attempt('btn-001', device('btn-002').secret)).ok).toBe(false);
    await a.conn.set(VERIFIED_KEY_PREFIX + 'ghost-1', await entryOf(a.conn, 'btn-001'));
    expect(await b.attempt('ghost-1', device('btn-001').secret)).toMatchObject({ ok: false, security: { kind: 'unknown_device' } });
    expect(b.scrypts).toHaveLength(3);
    expect(b.lookups).toEqual(['miss', 'miss', 'miss']);
  });

  it('misses after the secret is rotated in the registry, even for the same secret under a new hash', async () => {
    const [a, b] = [await node(), await node()];
    const secret = device('btn-002').secret;
    expect((await a.attempt('btn-002', secret)).ok).toBe(true);
    await entryOf(a.conn, 'btn-002');
    try {
      // Same secret, new salt: the hash in force is not the one the entry was made under.
      await setSecret('btn-002', secret);
      expect((await b.attempt('btn-002', secret)).ok).toBe(true);
      expect(b.scrypts).toHaveLength(1);
      // Rotated to a new secret: the old one is refused on a node that never saw it (scrypt again, refused).
      await setSecret('btn-002', 'rotated-secret-002');
      const c = await node();
      expect((await c.attempt('btn-002', secret)).ok).toBe(false);
      expect(c.scrypts).toHaveLength(1);
    } finally {
      await setSecret('btn-002', secret);
    }
  });

  it('does not admit on an entry written straight into Redis without the link secret', async () => {
    const b = await node();
    // A forger who can write Redis but lacks the link secret computes the entry under a key of its own choosing.
    const forger = new SharedVerifier({ connection: () => b.conn, linkSecret: randomBytes(32), clock: edge.clock, log: silentLogger() });
    const current = await edge.store.registry.getDevice('fall-001');
    forger.remember('fall-001', current?.secretHash ?? '', Buffer.from('forged-secret'));
    await entryOf(b.conn, 'fall-001');
    expect(await b.attempt('fall-001', 'forged-secret')).toMatchObject({ ok: false, returnCode: 4 });
    expect(b.scrypts).toHaveLength(1);

    // Nor on an entry copied from another device (it binds the device id), nor on garbage.
    const a = await node();
    expect((await a.attempt('btn-001', device('btn-001').secret)).ok).toBe(true);
    await b.conn.set(VERIFIED_KEY_PREFIX + 'fall-001', await entryOf(a.conn, 'btn-001'));
    expect((await b.attempt('fall-001', device('btn-001').secret)).ok).toBe(false);
    await b.conn.set(VERIFIED_KEY_PREFIX + 'fall-001', 'garbage');
    expect((await b.attempt('fall-001', 'garbage')).ok).toBe(false);
    expect(b.scrypts).toHaveLength(3);
  });

  it('holds neither the secret nor its hash in Redis, and lets entries expire unless used', async () => {
    const [a, b] = [await node({ ttlMs: 3_600_000 }), await node({ ttlMs: 3_600_000 })];
    const secret = device('pir-001').secret;
    expect((await a.attempt('pir-001', secret)).ok).toBe(true);
    const entry = await entryOf(a.conn, 'pir-001');
    const hash = (await edge.store.registry.getDevice('pir-001'))?.secretHash ?? '';
    expect(entry).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
    for (const part of [secret, Buffer.from(secret).toString('base64'), ...hash.split('$').slice(4)]) expect(entry).not.toContain(part);
    const ttl = await a.conn.pttl(VERIFIED_KEY_PREFIX + 'pir-001');
    expect(ttl).toBeGreaterThan(3_000_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    // A use on another node starts the time again.
    await a.conn.pexpire(VERIFIED_KEY_PREFIX + 'pir-001', 5000);
    expect((await b.attempt('pir-001', secret)).ok).toBe(true);
    expect(b.scrypts).toEqual([]);
    expect(await a.conn.pttl(VERIFIED_KEY_PREFIX + 'pir-001')).toBeGreaterThan(3_000_000);
  });

  it('keeps the entries of devices that stay connected for weeks, at most once a quarter of their lifetime', async () => {
    const a = await node({ ttlMs: 3_600_000 });
    expect((await a.attempt('btn-001', device('btn-001').secret)).ok).toBe(true);
    const key = VERIFIED_KEY_PREFIX + 'btn-001';
    await entryOf(a.conn, 'btn-001');
    const refreshedAfterSweep = async (): Promise<boolean> => {
      await a.conn.pexpire(key, 5000);
      a.auth.sweep();
      await a.conn.ping(); // the refresh went out before this on the same connection
      return (await a.conn.pttl(key)) > 3_000_000;
    };
    expect(await refreshedAfterSweep()).toBe(true);
    expect(await refreshedAfterSweep()).toBe(false);
    edge.clock.advance(900_000);
    expect(await refreshedAfterSweep()).toBe(true);
  });

  it('pays scrypt and admits while Redis is down, without the CONNECT waiting in ioredis offline queue', async () => {
    // A read bound far above any test's patience: only the ready check keeps the CONNECT from queueing.
    const [a, b] = [await node({ readTimeoutMs: 600_000 }), await node({ readTimeoutMs: 600_000 })];
    const secret = device('btn-001').secret;
    expect((await a.attempt('btn-001', secret)).ok).toBe(true);
    await entryOf(a.conn, 'btn-001');
    await redis.kill();
    try {
      await waitFor('node B to notice Redis is gone', () => b.conn.status !== 'ready', { timeoutMs: 5000 });
      expect((await b.attempt('btn-001', secret)).ok).toBe(true);
      expect(b.scrypts).toHaveLength(1);
      expect(b.lookups).toEqual(['unavailable']);
      // Answered while Redis was still away (a queued read would only have come back once it returned).
      expect(b.conn.status).not.toBe('ready');
    } finally {
      await redis.restart();
    }
  });

  it('pays scrypt and admits when Redis stops answering on a connection that still looks ready', async () => {
    const [a, b] = [await node(), await node({ readTimeoutMs: 100 })];
    const secret = device('btn-002').secret;
    expect((await a.attempt('btn-002', secret)).ok).toBe(true);
    await entryOf(a.conn, 'btn-002');
    const pid = Number(readFileSync(join(redis.dir, 'redis.pid'), 'utf8').trim());
    process.kill(pid, 'SIGSTOP');
    try {
      expect(b.conn.status).toBe('ready');
      expect((await b.attempt('btn-002', secret)).ok).toBe(true);
      expect(b.scrypts).toHaveLength(1);
      expect(b.lookups).toEqual(['error']);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
