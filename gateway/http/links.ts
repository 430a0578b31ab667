// Signed, expiring per-recipient links to the incident page: the SMS link is the worker's only credential, so it is an HMAC.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../core/errors.js';

export const LINK_SECRET_FILE = 'link-secret';
export const LINK_SECRET_BYTES = 32;

/**
 * Bytes of the HMAC-SHA256 kept in the link. 128 bits is far beyond guessing over HTTP, and it saves 21 characters
 * of an SMS that is already UCS-2 (70 characters a segment).
 */
const SIGNATURE_BYTES = 16;
const SIGNATURE_CHARS = Math.ceil((SIGNATURE_BYTES * 4) / 3);

/** Who a valid link speaks for. */
export interface LinkGrant {
  personId: string;
  role: string;
}

export type LinkRefusal = 'missing' | 'malformed' | 'bad_signature' | 'expired';

/** On success also the link's own query, rebuilt from the checked fields only (for forms and redirects on the page). */
export type LinkCheck = { ok: true; grant: LinkGrant; query: string } | { ok: false; reason: LinkRefusal };

/** A parsed query string: fastify's `request.query`, or URLSearchParams. */
export type LinkQuery = URLSearchParams | Record<string, unknown>;

// '|' separates the signed fields, so no field may contain it; control characters and spaces have no place in an id.
const FIELD = /^[^|\s]{1,100}$/;
const EXPIRY = /^[0-9a-z]{1,11}$/;
const SIGNATURE = /^[A-Za-z0-9_-]+$/;

export class LinkSigner {
  constructor(private readonly secret: Buffer) {}

  /**
   * The query string (without `?`) for `code`, e.g. `p=w-01&r=worker&e=tj3k2m&s=…`. The expiry is kept in whole
   * seconds (base 36), rounded down, so a link never outlives `expiresAt` (ms since the epoch).
   */
  sign(code: string, personId: string, role: string, expiresAt: number): string {
    for (const [name, value] of [
      ['code', code],
      ['personId', personId],
      ['role', role],
    ] as const) {
      if (!FIELD.test(value))
        throw new GatewayError('GW_ERR_BAD_REQUEST', `cannot sign a link: ${name} is empty, too long or contains '|' or spaces`);
    }
    if (!Number.isFinite(expiresAt) || expiresAt < 0) throw new GatewayError('GW_ERR_BAD_REQUEST', 'cannot sign a link: bad expiry');
    const e = Math.floor(expiresAt / 1000).toString(36);
    const s = this.mac(code, personId, role, e).toString('base64url');
    return new URLSearchParams({ p: personId, r: role, e, s }).toString();
  }

  /** The grant of a valid, unexpired link for `code`; null for anything else. */
  verify(code: string, query: LinkQuery, now: number): LinkGrant | null {
    const result = this.check(code, query, now);
    return result.ok ? result.grant : null;
  }

  /** Like verify(), but says why a link is refused, so the page can tell "expired" from "not a link of ours". */
  check(code: string, query: LinkQuery, now: number): LinkCheck {
    const p = param(query, 'p');
    const r = param(query, 'r');
    const e = param(query, 'e');
    const s = param(query, 's');
    if (p === undefined && r === undefined && e === undefined && s === undefined) return { ok: false, reason: 'missing' };
    if (!p || !r || !e || !s || !FIELD.test(code) || !FIELD.test(p) || !FIELD.test(r) || !EXPIRY.test(e))
      return { ok: false, reason: 'malformed' };
    if (s.length !== SIGNATURE_CHARS || !SIGNATURE.test(s)) return { ok: false, reason: 'malformed' };
    const given = Buffer.from(s, 'base64url');
    const expected = this.mac(code, p, r, e);
    // Lengths are equal here (checked above); the comparison itself must not leak where the bytes differ.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    // Only a signed expiry is worth reading. Expired from that second on: `now` equal to the expiry is too late.
    if (now >= parseInt(e, 36) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, grant: { personId: p, role: r }, query: new URLSearchParams({ p, r, e, s }).toString() };
  }

  private mac(code: string, personId: string, role: string, e: string): Buffer {
    return createHmac('sha256', this.secret).update(`${code}|${personId}|${role}|${e}`, 'utf8').digest().subarray(0, SIGNATURE_BYTES);
  }
}

/** One value of a query parameter; a repeated or non-string parameter counts as absent-but-present (''). */
function param(query: LinkQuery, key: string): string | undefined {
  if (query instanceof URLSearchParams) {
    const all = query.getAll(key);
    if (all.length === 0) return undefined;
    return all.length === 1 ? all[0] : '';
  }
  const value = query[key];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : '';
}

/**
 * The link secret kept in `DATA_DIR/link-secret`: 32 random bytes made (mode 0600) on first start and reused after,
 * so links sent before a restart still work. Creation is atomic: a crash never leaves a short file behind, and two
 * processes starting at once end up with the same secret.
 */
export function loadOrCreateLinkSecret(dataDir: string): Buffer {
  const file = join(dataDir, LINK_SECRET_FILE);
  const existing = readSecret(file);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, randomBytes(LINK_SECRET_BYTES), { mode: 0o600, flag: 'wx' });
  try {
    // link() never replaces an existing file: whoever links first wins, and everyone reads that file.
    linkSync(tmp, file);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  } finally {
    unlinkSync(tmp);
  }
  const created = readSecret(file);
  if (!created) throw new GatewayError('GW_ERR_CONFIG', `${file} could not be created`);
  return created;
}

/**
 * The link secret a node uses: LINK_SECRET_FILE when set (a secret mounted on every node of a cluster; it must exist,
 * since a typo must not quietly give one node a secret of its own), else `DATA_DIR/link-secret`, made on first start.
 */
export function loadLinkSecret(where: { dataDir: string; linkSecretFile?: string | null }): Buffer {
  if (!where.linkSecretFile) return loadOrCreateLinkSecret(where.dataDir);
  const secret = readSecret(where.linkSecretFile);
  if (!secret) throw new GatewayError('GW_ERR_CONFIG', `LINK_SECRET_FILE: ${where.linkSecretFile} does not exist`);
  return secret;
}

/**
 * A name for the secret that nodes can compare through their shared database without storing the secret there (a copy
 * of the database alone must not let anyone test guesses at a sign-in code or forge a link).
 */
export function linkSecretFingerprint(secret: Buffer): string {
  return createHmac('sha256', secret).update('fingerprint of the link secret').digest('hex').slice(0, 32);
}

function readSecret(file: string): Buffer | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  // A wrong length means the file was edited or truncated; a silent new secret would hide that (and void every link).
  if (bytes.length !== LINK_SECRET_BYTES) {
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `${file} must hold exactly ${LINK_SECRET_BYTES} bytes (found ${bytes.length}); delete it to make a new one`,
    );
  }
  return bytes;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}
