// The cluster side of the device broker: aedes' own Redis packages (mqemitter-redis, aedes-persistence-redis) on connections this node watches, the devices' presence shared by every node, and the replay of dead nodes' wills as hints.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import redisPersistence, { type RedisPersistence, type StoredWill } from 'aedes-persistence-redis';
import type { ClusterConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { ComponentHealth } from '../core/health.js';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import { coalesceWrites, handleUnawaitedFailures } from './redis-writes.js';
import { LocalUplinkEmitter } from './local-emitter.js';
import { WillStore, type WillRef } from './will-store.js';

/** Which node holds a device's connection, under which session id, since when. */
export interface Presence {
  node: string;
  session: string;
  since: number;
}

/** A will another node stored for its client, found after that node went silent. */
export interface ReplayedWill {
  deviceId: string;
  /** The node the device was connected to when the will was stored. */
  brokerId: string;
  topic: string;
  payload: Buffer;
}

/** What aedes is created with in cluster mode. */
export interface ClusterBrokerOptions {
  id: string;
  mq: unknown;
  persistence: RedisPersistence;
  heartbeatInterval: number;
}

export interface BrokerClusterDeps {
  config: ClusterConfig;
  clock: Clock;
  log: Logger;
  /** How long a presence look-up may wait on Redis before the caller goes on without it. */
  lookupTimeoutMs?: number;
}

const PRESENCE_KEY = 'care:presence';
/** Entries read per page of the earlier release's list of wills. */
const WILL_PAGE = 1000;
/** Wills handled at once while replaying. */
const WILL_BATCH = 32;
const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;
/** TCP keep-alive probes on each Redis connection after this much idleness (ioredis sends none by default). */
const REDIS_KEEPALIVE_IDLE_MS = 10_000;
/**
 * Deletes each device's presence (ARGV: device, session, device, session, …) only while it is still that session's:
 * another node, or a newer session here, may have taken it over. Answers how many it deleted.
 */
const RELEASE_SCRIPT = `local n = 0
for i = 1, #ARGV, 2 do
  local v = redis.call('hget', KEYS[1], ARGV[i])
  if v then
    local ok, p = pcall(cjson.decode, v)
    if ok and type(p) == 'table' and p.session == ARGV[i + 1] then n = n + redis.call('hdel', KEYS[1], ARGV[i]) end
  end
end
return n`;

type Connection = 'store' | 'subscribe' | 'publish';

/**
 * Field pairs asked for in one turn of the event loop, written to Redis together by `write` (after the turn, in the
 * check phase); each caller hears how that one write went: a failure rejects every caller of the batch.
 */
class TurnBatch {
  private fields: string[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly write: (fields: string[]) => Promise<unknown>) {}

  add(key: string, value: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.waiters.length === 0) setImmediate(() => this.flush());
      this.fields.push(key, value);
      this.waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const { fields, waiters } = this;
    this.fields = [];
    this.waiters = [];
    // Async, so that a write that throws (no connection) rejects its batch like one that fails.
    const run = async (): Promise<unknown> => this.write(fields);
    run().then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }
}

/**
 * One node's link to the others through Redis. Redis holds only MQTT session state (subscriptions, queued downlinks,
 * retained statuses, wills) and presence; every alarm is recorded in PostgreSQL before its PUBACK, so losing Redis loses
 * no alarm. A Redis error or restart is logged and reported, never thrown: ioredis reconnects and the node goes on.
 */
export class BrokerCluster {
  private readonly conns = new Map<Connection, Redis>();
  private persistence: RedisPersistence | null = null;
  private wills: WillStore | null = null;
  private brokers: () => Record<string, number> = () => ({});
  private onWill: ((will: ReplayedWill) => Promise<void>) | null = null;
  private replaying = false;
  private lastError: string | null = null;
  /** When any connection to Redis was last lost; heartbeats missed meanwhile make every other node look dead. */
  private troubleAt: number | null = null;
  private closing = false;
  private readonly claims = new TurnBatch((fields) => this.bounded(this.conn('store').hset(PRESENCE_KEY, ...fields)));
  private readonly releases = new TurnBatch((fields) => this.bounded(this.conn('store').eval(RELEASE_SCRIPT, 1, PRESENCE_KEY, ...fields)));

  constructor(private readonly deps: BrokerClusterDeps) {}

  get nodeId(): string {
    return this.deps.config.nodeId;
  }

  /**
   * Connects to Redis (failing with one line naming REDIS_URL when it cannot) and answers aedes' options. `onWill` gets
   * each will a silent node left; `onReconnect` runs when Redis is back after a loss.
   */
  async open(handlers: { onWill: (will: ReplayedWill) => Promise<void>; onReconnect: () => void }): Promise<ClusterBrokerOptions> {
    const { config, log } = this.deps;
    this.closing = false;
    this.onWill = handlers.onWill;
    for (const name of ['store', 'subscribe', 'publish'] as const) {
      // TCP keep-alive: a Redis that vanished without a reset is found on an idle connection too, and ioredis reconnects.
      const conn = new Redis(config.redisUrl, {
        lazyConnect: true,
        connectionName: `care-gw:${config.nodeId}:${name}`,
        keepAlive: REDIS_KEEPALIVE_IDLE_MS,
      });
      this.watch(name, conn, handlers.onReconnect);
      // A reconnect storm's CONNECTs each send several commands: those of one turn leave in one socket write.
      if (name !== 'subscribe') coalesceWrites(conn);
      handleUnawaitedFailures(conn);
      this.conns.set(name, conn);
    }
    try {
      await Promise.all([...this.conns.values()].map((c) => c.connect()));
    } catch (err) {
      await this.close();
      throw new Error(`REDIS_URL: cannot reach Redis at ${shownUrl(config.redisUrl)}: ${errorMessage(err)}`);
    }
    // Device uplinks stay on this node (nobody may subscribe to them); the rest crosses Redis (local-emitter.ts).
    const mq = LocalUplinkEmitter.wrap(MQEmitterRedis({ subConn: this.conn('subscribe'), pubConn: this.conn('publish') }));
    // mqemitter-redis re-emits its connections' errors on `state` (left out of its types); an 'error' event nobody
    // listens to would end the process at the first Redis restart.
    const state: unknown = Reflect.get(mq, 'state');
    if (!(state instanceof EventEmitter)) throw new Error('mqemitter-redis has no state emitter: an unsupported version');
    state.on('error', (err: unknown) => this.trouble('mq', err));
    const persistence = redisPersistence({ conn: this.conn('store') });
    persistence.on('error', (err: unknown) => this.trouble('persistence', err));
    // aedes looks at only the first 10,000 stored wills and throws an unhandled rejection for one it cannot authorize;
    // the replay is ours instead (see replayWills), and yields nothing for aedes to publish.
    persistence.streamWill = (brokers) => this.replayWills(brokers);
    const wills = new WillStore(() => this.conn('store'), config.nodeId);
    wills.install(persistence);
    this.wills = wills;
    this.persistence = persistence;
    log.info({ node: config.nodeId, redis: shownUrl(config.redisUrl) }, 'cluster broker: connected to Redis');
    return { id: config.nodeId, mq, persistence, heartbeatInterval: config.heartbeatMs };
  }

  /** The nodes aedes heard a heartbeat from (node id → when), from the broker once it exists. */
  attach(brokers: () => Record<string, number>): void {
    this.brokers = brokers;
  }

  /** Closes the connection the persistence uses (aedes closes the emitter's two itself). */
  async close(): Promise<void> {
    this.closing = true;
    const conns = [...this.conns.values()];
    this.conns.clear();
    this.persistence = null;
    this.wills = null;
    await Promise.all(
      conns.map(async (c) => {
        if (c.status === 'end') return;
        await c.quit().catch(() => c.disconnect());
      }),
    );
  }

  /**
   * Records that this node now holds the device's connection (the newest claim wins). Resolves once Redis has it; the
   * claims of every CONNECT authenticated in the same turn of the event loop go in one HSET, so a reconnect storm
   * costs Redis one command per turn instead of one per device. A failure rejects every claim of that write.
   */
  claim(deviceId: string, session: string): Promise<void> {
    const entry: Presence = { node: this.nodeId, session, since: this.deps.clock.now() };
    // A device claimed twice in one batch: HSET takes its pairs in order, so the later claim wins, as it would alone.
    return this.claims.add(deviceId, JSON.stringify(entry));
  }

  /** Claims every device again, e.g. after Redis came back empty from a restart. */
  async reclaim(held: readonly { deviceId: string; session: string; since: number }[]): Promise<void> {
    if (held.length === 0) return;
    const fields: string[] = [];
    for (const h of held) fields.push(h.deviceId, JSON.stringify({ node: this.nodeId, session: h.session, since: h.since }));
    await this.bounded(this.conn('store').hset(PRESENCE_KEY, ...fields));
  }

  /**
   * Forgets the device's presence if `session` (of this node or a dead one) still holds it. The releases of one turn go
   * to Redis as one script (a node's devices closing at once each took two round trips, and many passed the bound).
   */
  release(deviceId: string, session: string): Promise<void> {
    return this.releases.add(deviceId, session);
  }

  /** Who holds the device now, or null when nobody does. Rejects when Redis does not answer in time. */
  async holderOf(deviceId: string): Promise<Presence | null> {
    const raw = await this.bounded(this.conn('store').hget(PRESENCE_KEY, deviceId));
    return raw === null ? null : parsePresence(raw);
  }

  /** The connection for small shared look-ups (the secret cache), or null while it is not connected to Redis. */
  storeConnection(): Redis | null {
    return this.conns.get('store') ?? null;
  }

  /** Whether the node was heard from lately (this node always is). */
  isAlive(node: string): boolean {
    if (node === this.nodeId) return true;
    const heard = this.brokers()[node];
    return heard !== undefined && heard + 3 * this.deps.config.heartbeatMs >= Date.now();
  }

  /** Redis as /healthz shows it: up while every connection is ready. */
  health(): ComponentHealth & { node: string } {
    const down = [...this.conns.entries()].filter(([, c]) => c.status !== 'ready').map(([name, c]) => `${name} ${c.status}`);
    if (this.conns.size > 0 && down.length === 0) return { status: 'up', node: this.nodeId };
    return {
      status: 'down',
      node: this.nodeId,
      detail: `Redis unreachable (${down.join(', ') || 'not connected'})${this.lastError ? `: ${this.lastError}` : ''}`,
    };
  }

  /**
   * Replays the wills of nodes aedes no longer hears from, all of them, a page at a time, then yields nothing for aedes
   * to publish: each will is taken with delWill (so two survivors do not both act on it) and handed to onWill, whose
   * failure is logged, never thrown.
   */
  replayWills(brokers: Readonly<Record<string, number>>): AsyncIterable<StoredWill> {
    return nothingAfter(async () => {
      // While heartbeats may have been lost with Redis, a live node looks dead: wait until they have been heard again.
      if (this.troubleAt !== null && Date.now() - this.troubleAt < 4 * this.deps.config.heartbeatMs) return;
      await this.replay((broker) => broker !== this.nodeId && brokers[broker] === undefined);
    });
  }

  /** At start, before any device connects: this node's own wills are left from its previous run (a crash). */
  replayOwnWills(): Promise<void> {
    return this.replay((broker) => broker === this.nodeId);
  }

  private async replay(dead: (broker: string) => boolean): Promise<void> {
    const wills = this.wills;
    if (!wills || this.replaying) return;
    this.replaying = true;
    try {
      const refs = await wills.of(dead, WILL_PAGE);
      if (refs.length > 0) this.deps.log.info({ wills: refs.length }, 'cluster broker: replaying the wills of silent nodes');
      for (let i = 0; i < refs.length; i += WILL_BATCH) {
        await Promise.all(refs.slice(i, i + WILL_BATCH).map((r) => this.replayOne(wills, r)));
      }
    } finally {
      this.replaying = false;
    }
  }

  private async replayOne(wills: WillStore, ref: WillRef): Promise<void> {
    try {
      const will = await wills.take(ref);
      if (!will || !this.onWill) return;
      const payload = typeof will.payload === 'string' ? Buffer.from(will.payload, 'utf8') : Buffer.from(will.payload);
      await this.onWill({ deviceId: ref.clientId, brokerId: ref.brokerId, topic: will.topic, payload });
    } catch (err) {
      this.deps.log.warn({ err, clientId: ref.clientId, node: ref.brokerId }, 'cluster broker: a replayed will could not be handled');
    }
  }

  private watch(name: Connection, conn: Redis, onReconnect: () => void): void {
    let lost = false;
    conn.on('error', (err: unknown) => this.trouble(name, err));
    conn.on('close', () => {
      if (this.closing) return;
      if (!lost) this.deps.log.warn({ connection: name }, 'cluster broker: Redis connection lost; reconnecting');
      lost = true;
      this.troubleAt = Date.now();
    });
    conn.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.lastError = null;
      this.deps.log.info({ connection: name }, 'cluster broker: Redis connection back');
      if (name === 'store') onReconnect();
    });
  }

  private trouble(source: string, err: unknown): void {
    if (this.closing) return;
    this.lastError = errorMessage(err);
    this.troubleAt = Date.now();
    this.deps.log.warn({ source, err: this.lastError }, 'cluster broker: Redis error');
  }

  private conn(name: Connection): Redis {
    const conn = this.conns.get(name);
    if (!conn) throw new Error('cluster broker is not connected to Redis');
    return conn;
  }

  private bounded<T>(op: Promise<T>): Promise<T> {
    const ms = this.deps.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // Timers run before the event loop reads its sockets: after a stall (a busy node), an answer that came in time
      // may still be unread. It gets one pass of the poll phase before the time-out counts.
      timer = setTimeout(() => setImmediate(() => reject(new Error(`Redis did not answer within ${ms} ms`))), ms);
    });
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }
}

/** An empty stream that first does `work` (its failure ends the stream with that error). */
function nothingAfter<T>(work: () => Promise<void>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      let done = false;
      return {
        next: async (): Promise<IteratorResult<T>> => {
          if (!done) {
            done = true;
            await work();
          }
          return { done: true, value: undefined };
        },
      };
    },
  };
}

function parsePresence(raw: string): Presence | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null || !('node' in v) || !('session' in v) || !('since' in v)) return null;
    const { node, session, since } = v;
    return typeof node === 'string' && typeof session === 'string' && typeof since === 'number' ? { node, session, since } : null;
  } catch {
    return null;
  }
}

/** The URL without its password, for logs and errors. */
function shownUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/@\s:]*:)[^/\s]*@/i, '$1***@');
}
