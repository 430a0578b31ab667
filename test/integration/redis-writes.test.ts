// A cluster node's Redis commands of one round of the event loop leave in one socket write, in order, MULTIs included, and a command nobody awaits cannot end the process when the connection closes (gateway/broker/redis-writes.ts).
import { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { coalesceWrites, handleUnawaitedFailures } from '../../gateway/broker/redis-writes.js';
import { RedisServer } from '../helpers/redis.js';

let server: RedisServer | null = null;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});
afterAll(async () => {
  await server?.stop();
});

async function client(coalesced: boolean, lazy = false): Promise<Redis> {
  if (!server) throw new Error('Redis did not start');
  const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  clients.push(redis);
  if (coalesced) coalesceWrites(redis);
  if (!lazy) await redis.connect();
  return redis;
}

/** Counts the socket's writes to the kernel from now on: one per `_write`, one per `_writev` (several chunks). */
function countWrites(redis: Redis): () => number {
  const socket = redis.stream as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  let writes = 0;
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...a: unknown[]) => {
    writes++;
    write(...a);
  };
  socket._writev = (...a: unknown[]) => {
    writes++;
    writev(...a);
  };
  return () => writes;
}

describe('Redis writes coalesced per turn', () => {
  it('sends twenty commands of one turn in one write, answered in order', async () => {
    const redis = await client(true);
    await redis.del('n');
    const writes = countWrites(redis);
    const replies = await Promise.all(Array.from({ length: 20 }, () => redis.incr('n')));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(writes()).toBe(1);
  });

  it('without it, each command is a write of its own', async () => {
    const redis = await client(false);
    await redis.del('n');
    const writes = countWrites(redis);
    await Promise.all(Array.from({ length: 20 }, () => redis.incr('n')));
    expect(writes()).toBe(20);
  });

  it('keeps a MULTI in its place between plain commands of the same turn', async () => {
    const redis = await client(true);
    const writes = countWrites(redis);
    const first = redis.set('k', '1');
    const multi = redis.multi().set('k', '2').sadd('s', 'a').exec();
    const read = redis.get('k');
    const after = redis.set('k', '3');
    await Promise.all([first, multi, after]);
    expect(await read).toBe('2');
    expect(await redis.get('k')).toBe('3');
    // The four of the turn in one write; the last GET, in a later turn, in another.
    expect(writes()).toBe(2);
  });

  it('sends commands of promise jobs that run in the same turn together', async () => {
    const redis = await client(true);
    await redis.mset('a', '1', 'b', '2');
    const writes = countWrites(redis);
    // Two replies in one read: the continuations of both run in one turn, and their next commands go out in one write.
    const [a, b] = await Promise.all([
      redis.get('a').then((v) => redis.set('a2', `${v}!`)),
      redis.get('b').then((v) => redis.set('b2', `${v}!`)),
    ]);
    expect([a, b]).toEqual(['OK', 'OK']);
    expect(await redis.mget('a2', 'b2')).toEqual(['1!', '2!']);
    expect(writes()).toBe(3);
  });

  it('sends the commands of callbacks that run in the same round of the loop (a storm’s CONNECTs) in one write', async () => {
    const redis = await client(true);
    await redis.del('n');
    const writes = countWrites(redis);
    // Two timers due together run as two callbacks of one timers phase, each with its own promise jobs after it.
    const replies = await new Promise<number[]>((resolve, reject) => {
      const pending: Promise<number>[] = [];
      setTimeout(() => pending.push(redis.incr('n')), 0);
      setTimeout(() => {
        pending.push(redis.incr('n'));
        Promise.all(pending).then(resolve, reject);
      }, 0);
    });
    expect(replies).toEqual([1, 2]);
    expect(writes()).toBe(1);
  });

  it('leaves commands queued before the connection is ready to ioredis, which sends them once connected', async () => {
    const redis = await client(true, true);
    expect(redis.status).toBe('wait');
    // The first command starts the connection (lazyConnect); both wait in ioredis' offline queue meanwhile.
    const queued = [redis.set('q', 'x'), redis.get('q')];
    expect(redis.status).not.toBe('ready');
    expect(await Promise.all(queued)).toEqual(['OK', 'x']);
  });
});

describe('Redis commands nobody awaits', () => {
  it('leave no unhandled rejection when the connection closes under them; an awaited one still fails', async () => {
    const redis = await client(false);
    handleUnawaitedFailures(redis);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // As aedes-persistence-redis fires its LREMs: sent, never awaited. A blocking pop stays pending until the close.
      void redis.blpop('never-filled', 0);
      const awaited = redis.blpop('never-filled-either', 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      redis.disconnect();
      await expect(awaited).rejects.toThrow(/Connection is closed/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
