// OneNET HTTP push: the token signature (base64 of the MD5 of token + nonce + msg), its URL check, and the datastream mapping.
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { EventType } from '../../core/types.js';
import type { BridgedTelemetry } from '../sink.js';
import { PushFormatError, type VendorMessage } from './types.js';

/** `signature = base64(md5(token + nonce + msg))`, over the UTF-8 bytes, as OneNET computes it. */
export function onenetSignature(token: string, nonce: string, msg: string): string {
  return createHash('md5')
    .update(token + nonce + msg, 'utf8')
    .digest('base64');
}

/** Constant-time comparison of two base64 signatures (different lengths are unequal without a timing hint beyond the length). */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A datastream's meaning: an event raised when its value says "on" (1, true, "1", "on", "true"), or a reading.
 * Extend this table for a vendor whose pendant names its datastreams differently; names are compared in lower case.
 */
export type DatastreamRule = { event: EventType } | { reading: 'battery' | 'rssi' | 'csq' };

export const ONENET_DATASTREAMS: Readonly<Record<string, DatastreamRule>> = {
  sos: { event: 'sos' },
  sos_alarm: { event: 'sos' },
  alarm: { event: 'sos' },
  key_alarm: { event: 'sos' },
  emergency: { event: 'sos' },
  fall: { event: 'fall' },
  fall_alarm: { event: 'fall' },
  fall_down: { event: 'fall' },
  cancel: { event: 'cancel' },
  heartbeat: { event: 'heartbeat' },
  low_battery: { event: 'low_battery' },
  battery_low: { event: 'low_battery' },
  battery: { reading: 'battery' },
  bat: { reading: 'battery' },
  battery_level: { reading: 'battery' },
  rssi: { reading: 'rssi' },
  // NB-IoT and 4G modules report AT+CSQ (0-31): rssi = -113 + 2·csq dBm; 99 is "unknown".
  csq: { reading: 'csq' },
};

const scalar = z.union([z.number(), z.string(), z.boolean()]);
const dataPoint = z.looseObject({
  type: z.literal(1),
  dev_id: z.union([z.number().int(), z.string().min(1).max(64)]),
  ds_id: z.string().min(1).max(64),
  at: z.number().int().nonnegative(),
  value: z.union([scalar, z.record(z.string(), scalar)]),
  imei: z.string().max(32).optional(),
});
const lifecycle = z.looseObject({
  type: z.literal(2),
  dev_id: z.union([z.number().int(), z.string().min(1).max(64)]),
  at: z.number().int().nonnegative(),
  status: z.union([z.literal(0), z.literal(1)]),
  imei: z.string().max(32).optional(),
});
// Type 7 (an NB command's result) and later types are acknowledged and left alone.
const other = z.looseObject({ type: z.number().int(), dev_id: z.union([z.number().int(), z.string()]).optional() });
const onenetMsg = z.union([dataPoint, lifecycle, other]);

/** At most this many readings in one push; OneNET batches a few dozen. */
export const MAX_MESSAGES_PER_PUSH = 200;

export const onenetBody = z.looseObject({
  msg: z.union([onenetMsg, z.array(onenetMsg).min(1).max(MAX_MESSAGES_PER_PUSH)]),
  msg_signature: z.string().min(1).max(128),
  nonce: z.string().min(1).max(64),
});

export interface OnenetPush {
  /** The `msg` value exactly as its bytes appear in the body: what OneNET signed. */
  msgText: string;
  nonce: string;
  signature: string;
  messages: VendorMessage[];
}

/** Reads a plaintext-mode OneNET push. Throws PushFormatError for anything that is not one. */
export function readOnenetPush(raw: string): OnenetPush {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new PushFormatError('body is not JSON');
  }
  const parsed = onenetBody.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PushFormatError(`not a OneNET push: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'wrong shape'}`);
  }
  const list = Array.isArray(parsed.data.msg) ? parsed.data.msg : [parsed.data.msg];
  return {
    msgText: rawMsgText(raw) ?? JSON.stringify(parsed.data.msg),
    nonce: parsed.data.nonce,
    signature: parsed.data.msg_signature,
    messages: list.flatMap(toMessages),
  };
}

function toMessages(m: z.infer<typeof onenetMsg>): VendorMessage[] {
  const deviceTime = 'at' in m && typeof m.at === 'number' ? new Date(m.at).toISOString() : undefined;
  const devId = m.dev_id === undefined ? null : String(m.dev_id);
  if (devId === null) return [];
  const base = (
    source: string,
    key: string,
  ): Pick<VendorMessage, 'externalId' | 'key' | 'source' | 'events'> & { deviceTime?: string } => ({
    externalId: devId,
    key: `onenet:${devId}:${key}`,
    source: `onenet:${devId}/${source}`,
    events: [],
    ...(deviceTime ? { deviceTime } : {}),
  });
  if (isLifecycle(m)) return [{ ...base('status', `status:${m.at}:${m.status}`), state: m.status === 1 ? 'online' : 'offline' }];
  if (!isDataPoint(m)) return [];
  // A JSON datapoint ({"sos":1,"battery":80}) is read as one datastream per key.
  const entries: [string, string | number | boolean][] = typeof m.value === 'object' ? Object.entries(m.value) : [[m.ds_id, m.value]];
  const msg: VendorMessage = base(m.ds_id, `${m.ds_id}:${m.at}`);
  const telemetry: BridgedTelemetry = {};
  const unknown: string[] = [];
  for (const [name, value] of entries) {
    const rule = ONENET_DATASTREAMS[name.toLowerCase()];
    if (!rule) unknown.push(name);
    else if ('event' in rule) {
      if (isOn(value)) msg.events.push({ type: rule.event });
    } else {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(n)) unknown.push(`${name}=${String(value).slice(0, 20)}`);
      else if (rule.reading === 'csq') {
        if (n !== 99) telemetry.rssi = -113 + 2 * n;
      } else telemetry[rule.reading] = n;
    }
  }
  if (Object.keys(telemetry).length > 0) msg.telemetry = telemetry;
  // A low-battery or heartbeat event carries the level when the same reading has one.
  const battery = telemetry.battery;
  if (battery !== undefined) for (const e of msg.events) if (e.type === 'low_battery' || e.type === 'heartbeat') e.fields = { battery };
  if (unknown.length > 0) msg.unmapped = `unknown datastream ${unknown.join(', ')}: add it to ONENET_DATASTREAMS`;
  return [msg];
}

function isDataPoint(m: z.infer<typeof onenetMsg>): m is z.infer<typeof dataPoint> {
  return m.type === 1 && 'ds_id' in m;
}

function isLifecycle(m: z.infer<typeof onenetMsg>): m is z.infer<typeof lifecycle> {
  return m.type === 2 && 'status' in m;
}

function isOn(value: string | number | boolean): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return ['1', 'true', 'on', 'yes'].includes(value.trim().toLowerCase());
}

/**
 * The text of the top-level `msg` value as it stands in the body. OneNET signs the msg it serialised, so the bytes
 * as sent are what must be hashed; re-serialising a parsed object could reorder or respace it. Null if not found.
 */
export function rawMsgText(raw: string): string | null {
  let i = 0;
  const ws = (): void => {
    while (i < raw.length && ' \t\r\n'.includes(raw[i] ?? '')) i++;
  };
  ws();
  if (raw[i] !== '{') return null;
  i++;
  for (;;) {
    ws();
    if (raw[i] !== '"') return null;
    const keyStart = i;
    i = skipString(raw, i);
    const key = JSON.parse(raw.slice(keyStart, i)) as string;
    ws();
    if (raw[i] !== ':') return null;
    i++;
    ws();
    const valueStart = i;
    i = skipValue(raw, i);
    if (i < 0) return null;
    if (key === 'msg') return raw.slice(valueStart, i);
    ws();
    if (raw[i] === ',') i++;
    else return null;
  }
}

function skipString(raw: string, start: number): number {
  let i = start + 1;
  while (i < raw.length) {
    if (raw[i] === '\\') i += 2;
    else if (raw[i] === '"') return i + 1;
    else i++;
  }
  return -1;
}

/** The index just past the JSON value starting at `start` (the body already parsed as JSON, so it is well formed). */
function skipValue(raw: string, start: number): number {
  const c = raw[start];
  if (c === '"') return skipString(raw, start);
  if (c === '{' || c === '[') {
    let depth = 0;
    let i = start;
    while (i < raw.length) {
      const ch = raw[i];
      if (ch === '"') {
        i = skipString(raw, i);
        if (i < 0) return -1;
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  let i = start;
  while (i < raw.length && !',}] \t\r\n'.includes(raw[i] ?? '')) i++;
  return i;
}
