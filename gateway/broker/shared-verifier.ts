// Cluster mode: remembers in Redis, for every node, that a device's secret passed scrypt, as a MAC under a key derived from the link secret, so a device that moves to another node is admitted with one HMAC instead of one scrypt.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';

/** A look-up's result: admitted on the entry, no matching entry, Redis not connected, or Redis failed or was too slow. */
export type SharedLookup = 'hit' | 'miss' | 'unavailable' | 'error';

/** The Redis commands the cache uses, on a connection that reports its state. */
export type VerifierConnection = Pick<Redis, 'status' | 'getex' | 'set' | 'pipeline'>;

export interface SharedVerifierDeps {
  /** The shared Redis connection, or null while there is none. */
  connection: () => VerifierConnection | null;
  /** The secret every node shares (LINK_SECRET_FILE); neither Redis nor PostgreSQL ever holds it. */
  linkSecret: Buffer;
  clock: Clock;
  log: Logger;
  /** How long a CONNECT may wait for the entry before it pays the scrypt instead (default 200 ms). */
  readTimeoutMs?: number;
  /** How long an entry lives without being used (default 7 days; each use starts it again). */
  ttlMs?: number;
  /** Counts each look-up's outcome (the metric device_secret_cache_lookups_total). */
  count?: (outcome: SharedLookup) => void;
}

/** Where each device's entry lives: one key per device, so each expires on its own. */
export const VERIFIED_KEY_PREFIX = 'care:verified:';
const DEFAULT_READ_TIMEOUT_MS = 200;
const DEFAULT_TTL_MS = 7 * 24 * 3600_000;
/** Entries refreshed per pipeline by keepAlive. */
const KEEP_ALIVE_BATCH = 1000;
/** A Redis trouble is logged once, then at most once a minute with how many more there were. */
const LOG_EVERY_MS = 60_000;

/**
 * A device's entry is `<fingerprint>.<mac>`: the fingerprint names the device's secret hash in force when the secret
 * verified (a rotated or removed secret no longer matches it) and the MAC binds device id, that hash and the presented
 * secret. Both are HMACs under a key only the nodes hold, so what Redis holds cannot be tested against guesses, and an
 * entry written by anyone without that key (or copied from another device) admits nobody.
 */
export class SharedVerifier {
  private readonly key: Buffer;
  private troubles = 0;
  private lastLoggedAt: number | null = null;
  private keptAliveAt: number | null = null;

  constructor(private readonly deps: SharedVerifierDeps) {
    this.key = createHmac('sha256', deps.linkSecret).update('device secret cache v1').digest();
  }

  /**
   * True when another node (or this one) verified exactly this secret for this device under its current secret hash.
   * Reads only from a ready connection and gives up after a short bound: a slow, reconnecting or absent Redis answers
   * false, and the caller pays the scrypt as it would without a cluster. Called for unknown ids too (with a null hash),
   * so an unknown id costs the same read as a known one.
   */
  async admits(deviceId: string, secretHash: string | null, password: Buffer): Promise<boolean> {
    const outcome = await this.lookup(deviceId, secretHash, password);
    this.deps.count?.(outcome);
    return outcome === 'hit';
  }

  private async lookup(deviceId: string, secretHash: string | null, password: Buffer): Promise<SharedLookup> {
    const conn = this.deps.connection();
    // ioredis queues commands while it reconnects: a CONNECT must never wait behind that queue.
    if (!conn || conn.status !== 'ready') return 'unavailable';
    let stored: string | null;
    try {
      stored = await this.bounded(conn.getex(VERIFIED_KEY_PREFIX + deviceId, 'PX', this.ttlMs));
    } catch (err) {
      this.trouble('read', err);
      return 'error';
    }
    if (stored === null || secretHash === null) return 'miss';
    const dot = stored.indexOf('.');
    if (dot < 0) return 'miss';
    const fingerprint = Buffer.from(stored.slice(0, dot), 'base64url');
    const mac = Buffer.from(stored.slice(dot + 1), 'base64url');
    const expectedFingerprint = this.fingerprint(deviceId, secretHash);
    const expectedMac = this.mac(deviceId, secretHash, password);
    const sameHash = fingerprint.length === expectedFingerprint.length && timingSafeEqual(fingerprint, expectedFingerprint);
    const sameSecret = mac.length === expectedMac.length && timingSafeEqual(mac, expectedMac);
    return sameHash && sameSecret ? 'hit' : 'miss';
  }

  /** Records that this secret verified for the device under this secret hash; never waits, never throws. */
  remember(deviceId: string, secretHash: string, password: Buffer): void {
    const conn = this.deps.connection();
    // Not written while Redis is away: the next scrypt on any node writes it again.
    if (!conn || conn.status !== 'ready') return;
    const entry = `${this.fingerprint(deviceId, secretHash).toString('base64url')}.${this.mac(deviceId, secretHash, password).toString('base64url')}`;
    conn.set(VERIFIED_KEY_PREFIX + deviceId, entry, 'PX', this.ttlMs).catch((err: unknown) => this.trouble('write', err));
  }

  /**
   * Starts the time of these devices' entries again, at most once a quarter of their lifetime: a device that stays
   * connected to one node for weeks never reconnects, and its entry must still be there when that node dies. Only
   * existing entries are touched (PEXPIRE); never waits, never throws.
   */
  keepAlive(deviceIds: Iterable<string>): void {
    const now = this.deps.clock.now();
    if (this.keptAliveAt !== null && now - this.keptAliveAt < this.ttlMs / 4) return;
    const conn = this.deps.connection();
    if (!conn || conn.status !== 'ready') return;
    this.keptAliveAt = now;
    const ids = [...deviceIds];
    for (let i = 0; i < ids.length; i += KEEP_ALIVE_BATCH) {
      const batch = conn.pipeline();
      for (const id of ids.slice(i, i + KEEP_ALIVE_BATCH)) batch.pexpire(VERIFIED_KEY_PREFIX + id, this.ttlMs);
      batch.exec().catch((err: unknown) => this.trouble('write', err));
    }
  }

  private get ttlMs(): number {
    return this.deps.ttlMs ?? DEFAULT_TTL_MS;
  }

  private fingerprint(deviceId: string, secretHash: string): Buffer {
    return this.hmac('secret hash', [deviceId, secretHash]).subarray(0, 16);
  }

  private mac(deviceId: string, secretHash: string, password: Buffer): Buffer {
    return this.hmac('secret', [deviceId, secretHash, password]);
  }

  /** Each part is length-prefixed, so no two different lists of parts hash the same bytes. */
  private hmac(label: string, parts: readonly (string | Buffer)[]): Buffer {
    const h = createHmac('sha256', this.key);
    for (const part of [label, ...parts]) {
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      h.update(len).update(bytes);
    }
    return h.digest();
  }

  private bounded<T>(op: Promise<T>): Promise<T> {
    const ms = this.deps.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    });
    // A read that answers after the bound is dropped; its rejection must not go unhandled.
    op.catch(() => undefined);
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }

  private trouble(what: 'read' | 'write', err: unknown): void {
    this.troubles++;
    const now = this.deps.clock.now();
    if (this.lastLoggedAt !== null && now - this.lastLoggedAt < LOG_EVERY_MS) return;
    this.deps.log.warn(
      { op: what, err: errorMessage(err), troubles: this.troubles },
      'shared verifier: Redis did not serve the secret cache; devices pay the full secret check meanwhile',
    );
    this.lastLoggedAt = now;
    this.troubles = 0;
  }
}
