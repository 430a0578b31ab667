// TC3-HMAC-SHA256, checked as Tencent Cloud's API gateway checks it: the canonical request rebuilt from what arrived.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface Tc3Request {
  method: string;
  /** Path and query as requested, e.g. `/` or `/?a=1`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Tencent's error codes for a request that fails its signature check. */
export type Tc3Failure =
  'AuthFailure.InvalidAuthorization' | 'AuthFailure.SecretIdNotFound' | 'AuthFailure.SignatureExpire' | 'AuthFailure.SignatureFailure';

export type Tc3Result = { ok: true; secretId: string; service: string } | { ok: false; code: Tc3Failure; message: string };

/** How far X-TC-Timestamp may be from the server's clock (Tencent: five minutes). */
export const TC3_MAX_SKEW_S = 300;

const AUTH =
  /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9-]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function header(req: Tc3Request, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? null) : null;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const sha256hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The UTC date of a Unix timestamp, as the credential scope names it. */
export function tc3Date(timestampS: number): string {
  return new Date(timestampS * 1000).toISOString().slice(0, 10);
}

/**
 * Verifies the Authorization header of `req` with the secret key of its SecretId. The service in the credential scope
 * must be the one the Host names (`vms` for vms.tencentcloudapi.com), the scope's date the timestamp's UTC date, and the
 * timestamp within five minutes of `nowMs`.
 */
export function verifyTc3(req: Tc3Request, secretKeyOf: (secretId: string) => string | null, nowMs: number): Tc3Result {
  const auth = header(req, 'authorization');
  const m = auth ? AUTH.exec(auth) : null;
  if (!m) return { ok: false, code: 'AuthFailure.InvalidAuthorization', message: 'Authorization is not a TC3-HMAC-SHA256 signature.' };
  const [, secretId = '', date = '', service = '', signedHeaders = '', signature = ''] = m;
  const secretKey = secretKeyOf(secretId);
  if (secretKey === null) return { ok: false, code: 'AuthFailure.SecretIdNotFound', message: 'The SecretId is not found.' };
  const timestamp = Number(header(req, 'x-tc-timestamp'));
  if (!Number.isInteger(timestamp) || Math.abs(nowMs / 1000 - timestamp) > TC3_MAX_SKEW_S) {
    return {
      ok: false,
      code: 'AuthFailure.SignatureExpire',
      message: 'Signature expired: X-TC-Timestamp is more than five minutes from the server time.',
    };
  }
  const host = (header(req, 'host') ?? '').toLowerCase();
  const names = signedHeaders.split(';');
  if (date !== tc3Date(timestamp) || service !== host.split('.')[0] || !names.includes('host') || !names.includes('content-type')) {
    return { ok: false, code: 'AuthFailure.SignatureFailure', message: 'The credential scope or signed headers do not match the request.' };
  }
  const [path = '/', query = ''] = req.url.split(/\?(.*)/s);
  const canonicalHeaders = names.map((n) => `${n}:${(header(req, n) ?? '').trim().toLowerCase()}\n`).join('');
  const canonical = [req.method.toUpperCase(), path, query, canonicalHeaders, signedHeaders, sha256hex(req.body)].join('\n');
  const stringToSign = ['TC3-HMAC-SHA256', String(timestamp), `${date}/${service}/tc3_request`, sha256hex(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request');
  const expected = Buffer.from(hmac(kSigning, stringToSign).toString('hex'));
  if (!timingSafeEqual(expected, Buffer.from(signature))) {
    return { ok: false, code: 'AuthFailure.SignatureFailure', message: 'The provided credentials could not be validated.' };
  }
  return { ok: true, secretId, service };
}
