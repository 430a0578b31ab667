// The generic vendor push: an HMAC-SHA256 header over a timestamp and the raw body, with a replay window, and a small JSON shape in our terms.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { EVENT_TYPES } from '../../core/types.js';
import { MAX_MESSAGES_PER_PUSH } from './onenet.js';
import { PushFormatError, type VendorMessage } from './types.js';

export const HMAC_SIGNATURE_HEADER = 'x-care-signature';
export const HMAC_TIMESTAMP_HEADER = 'x-care-timestamp';
/** A push signed longer ago than this (or this far in the future) is a replay, or a sender whose clock is wrong. */
export const HMAC_REPLAY_WINDOW_MS = 5 * 60 * 1000;

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, the timestamp being Unix seconds. */
export function hmacSignature(secret: string, timestamp: string, raw: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('hex')}`;
}

export type HmacVerdict = { ok: true } | { ok: false; status: 401 | 403; detail: string };

/** Checks the signature header (constant time) and that the timestamp lies inside the replay window of `now`. */
export function verifyHmac(secret: string, headers: { signature?: string; timestamp?: string }, raw: Buffer, now: number): HmacVerdict {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp)
    return { ok: false, status: 401, detail: `missing ${!signature ? HMAC_SIGNATURE_HEADER : HMAC_TIMESTAMP_HEADER} header` };
  if (!/^\d{9,11}$/.test(timestamp)) return { ok: false, status: 403, detail: 'timestamp is not Unix seconds' };
  const expected = Buffer.from(hmacSignature(secret, timestamp, raw), 'utf8');
  const given = Buffer.from(
    signature.trim().toLowerCase().startsWith('sha256=') ? signature.trim().toLowerCase() : `sha256=${signature.trim().toLowerCase()}`,
    'utf8',
  );
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, status: 403, detail: 'signature does not match the body' };
  const skew = Math.abs(now - Number(timestamp) * 1000);
  if (skew > HMAC_REPLAY_WINDOW_MS)
    return {
      ok: false,
      status: 403,
      detail: `timestamp ${Math.round(skew / 1000)} s away from the gateway's clock (window ${HMAC_REPLAY_WINDOW_MS / 1000} s): a replay or a wrong clock`,
    };
  return { ok: true };
}

const message = z.looseObject({
  /** The vendor's message id: the same id pushed again is the same message. */
  id: z.string().min(1).max(128),
  device: z.string().min(1).max(128),
  type: z.enum(EVENT_TYPES).optional(),
  ts: z.string().max(40).optional(),
  confidence: z.number().min(0).max(1).optional(),
  battery: z.number().optional(),
  rssi: z.number().optional(),
  state: z.enum(['online', 'offline']).optional(),
});

const batch = z.looseObject({ messages: z.array(message).min(1).max(MAX_MESSAGES_PER_PUSH) });

/** Reads a generic push: `{ "messages": [ { id, device, type?, ts?, battery?, rssi?, state? } ] }` or one such message. */
export function readHmacPush(raw: string): VendorMessage[] {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new PushFormatError('body is not JSON');
  }
  const isBatch = typeof doc === 'object' && doc !== null && 'messages' in doc;
  let list: z.infer<typeof message>[];
  if (isBatch) {
    const parsed = batch.safeParse(doc);
    if (!parsed.success) throw formatError(parsed.error);
    list = parsed.data.messages;
  } else {
    const parsed = message.safeParse(doc);
    if (!parsed.success) throw formatError(parsed.error);
    list = [parsed.data];
  }
  return list.map((m) => {
    const out: VendorMessage = { externalId: m.device, key: `hmac:${m.id}`, source: `push:${m.id}`, events: [] };
    if (m.type) out.events.push({ type: m.type, ...(m.confidence !== undefined ? { fields: { confidence: m.confidence } } : {}) });
    if (m.type === 'low_battery' || m.type === 'heartbeat') {
      if (m.battery !== undefined) out.events[0] = { type: m.type, fields: { battery: m.battery } };
    }
    if (m.battery !== undefined || m.rssi !== undefined)
      out.telemetry = { ...(m.battery !== undefined ? { battery: m.battery } : {}), ...(m.rssi !== undefined ? { rssi: m.rssi } : {}) };
    if (m.state) out.state = m.state;
    if (m.ts) out.deviceTime = m.ts;
    return out;
  });
}

function formatError(error: z.ZodError): PushFormatError {
  const issue = error.issues[0];
  return new PushFormatError(`not a vendor push: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'wrong shape'}`);
}
