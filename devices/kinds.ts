// Device kind definitions: which events each kind may send, and the payload schemas every channel is decoded with.
import { z } from 'zod';
import type { DeviceKind, EventType, RejectionReason } from '../gateway/core/types.js';
import { EVENT_TYPES } from '../gateway/core/types.js';
import type { DeviceChannel } from './topics.js';
import { isDeviceChannel } from './topics.js';

/** The device protocol does not fix a size; 16 KiB is far above any real fixture message and bounds parsing cost. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024;

export interface DeviceKindDefinition {
  kind: DeviceKind;
  description: string;
  /** Event types this kind may send; anything else is rejected as `type_not_supported_by_kind`. */
  events: readonly EventType[];
}

const ALARM_EVENTS = ['sos', 'cancel', 'heartbeat', 'low_battery'] as const satisfies readonly EventType[];
const FALL_EVENTS = ['fall', 'cancel', 'heartbeat', 'low_battery'] as const satisfies readonly EventType[];
const ACTIVITY_EVENTS = ['motion', 'heartbeat', 'low_battery'] as const satisfies readonly EventType[];

export const DEVICE_KIND_DEFINITIONS: Readonly<Record<DeviceKind, DeviceKindDefinition>> = {
  sos_button: { kind: 'sos_button', description: 'emergency button worn or mounted near the bed', events: ALARM_EVENTS },
  pull_cord: { kind: 'pull_cord', description: 'bathroom pull cord', events: ALARM_EVENTS },
  fall_sensor: { kind: 'fall_sensor', description: 'fall detector (radar or wearable)', events: FALL_EVENTS },
  motion_sensor: { kind: 'motion_sensor', description: 'PIR motion sensor, a sign of life', events: ACTIVITY_EVENTS },
  presence_sensor: { kind: 'presence_sensor', description: 'mmWave presence sensor', events: ACTIVITY_EVENTS },
  door_sensor: { kind: 'door_sensor', description: 'door contact (front door, fridge)', events: ACTIVITY_EVENTS },
};

export function supportsEvent(kind: DeviceKind, type: EventType): boolean {
  return DEVICE_KIND_DEFINITIONS[kind].events.includes(type);
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

// ISO 8601 calendar date-time in extended format: seconds and fraction optional; offset Z, ±HH, ±HHMM or
// ±HH:MM, or none (local time). Fixtures differ in which of these their firmware emits.
const ISO_8601 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?$/;

/** Milliseconds since the epoch of an ISO 8601 string accepted by the schema, or NaN. */
export function parseDeviceTime(ts: string): number {
  if (!ISO_8601.test(ts)) return Number.NaN;
  // Date.parse wants ±HH:MM; normalise the basic (±HHMM) and hour-only (±HH) offsets first.
  const normalised = ts.replace(/([+-]\d{2})(\d{2})$/, '$1:$2').replace(/([+-]\d{2})$/, '$1:00');
  return Date.parse(normalised);
}

// Physical measurements: a value of the right type but outside these ranges is `impossible_value`.
const MEASUREMENTS = new Set(['battery', 'rssi', 'confidence']);
const battery = z.number().min(0).max(100);
const rssi = z.number().min(-140).max(0);
const confidence = z.number().min(0).max(1);

const base = {
  // Per-device counter used to drop redeliveries.
  seq: z.number().int().min(0),
  ts: z
    .string()
    .refine((s) => !Number.isNaN(parseDeviceTime(s)), 'expected an ISO 8601 date-time')
    .optional(),
};

// Extra fields are allowed (contract: `...`), so every schema is loose.
export const EVENT_SCHEMAS = {
  sos: z.object({ type: z.literal('sos'), ...base }).loose(),
  fall: z.object({ type: z.literal('fall'), ...base, confidence: confidence.optional() }).loose(),
  cancel: z.object({ type: z.literal('cancel'), ...base }).loose(),
  motion: z.object({ type: z.literal('motion'), ...base }).loose(),
  heartbeat: z.object({ type: z.literal('heartbeat'), ...base, battery: battery.optional() }).loose(),
  low_battery: z.object({ type: z.literal('low_battery'), ...base, battery }).loose(),
} as const satisfies Record<EventType, z.ZodType>;

export type DeviceEvent = { [T in EventType]: z.infer<(typeof EVENT_SCHEMAS)[T]> }[EventType];

export const telemetrySchema = z.object({ battery: battery.optional(), rssi: rssi.optional() }).loose();
export type Telemetry = z.infer<typeof telemetrySchema>;

export const DEVICE_STATUSES = ['online', 'offline'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: RejectionReason; detail: string };

export interface DecodeOptions {
  maxBytes?: number;
}

export type DecodedMessage =
  { channel: 'event'; event: DeviceEvent } | { channel: 'telemetry'; telemetry: Telemetry } | { channel: 'status'; status: DeviceStatus };

function fail(reason: RejectionReason, detail: string): { ok: false; reason: RejectionReason; detail: string } {
  return { ok: false, reason, detail };
}

function checkSize(payload: Buffer, opts: DecodeOptions): Decoded<Buffer> {
  const max = opts.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  return payload.length > max ? fail('payload_too_large', `${payload.length} bytes > ${max}`) : { ok: true, value: payload };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a JSON object; arrays, scalars, invalid UTF-8 and bad JSON are rejected. */
function decodeJsonObject(payload: Buffer, opts: DecodeOptions): Decoded<Record<string, unknown>> {
  const sized = checkSize(payload, opts);
  if (!sized.ok) return sized;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(payload));
  } catch (err) {
    return fail('malformed_json', err instanceof Error ? err.message : 'not JSON');
  }
  if (!isJsonObject(parsed)) {
    return fail(
      'invalid_payload',
      `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`,
    );
  }
  return { ok: true, value: parsed };
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fromZod<T>(result: z.ZodSafeParseResult<T>): Decoded<T> {
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues;
  const detail = issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  // Out-of-range sensor readings are told apart from protocol mistakes: they point at broken hardware.
  const impossible = issues.every((i) => (i.code === 'too_big' || i.code === 'too_small') && MEASUREMENTS.has(String(i.path[0])));
  return fail(impossible ? 'impossible_value' : 'invalid_payload', detail);
}

/** Decodes an event payload sent by a device of `kind`. */
export function decodeEvent(kind: DeviceKind, payload: Buffer, opts: DecodeOptions = {}): Decoded<DeviceEvent> {
  const json = decodeJsonObject(payload, opts);
  if (!json.ok) return json;
  const type = json.value.type;
  if (type === undefined) return fail('invalid_payload', 'type: required');
  if (typeof type !== 'string') return fail('invalid_payload', `type: expected a string, got ${typeof type}`);
  if (!isEventType(type)) return fail('unknown_type', `unknown event type "${type.slice(0, 64)}"`);
  if (!supportsEvent(kind, type)) return fail('type_not_supported_by_kind', `a ${kind} does not send "${type}"`);
  const schema: z.ZodType<DeviceEvent> = EVENT_SCHEMAS[type];
  return fromZod(schema.safeParse(ALARM_TYPES.has(type) ? dropAdvisoryFields(json.value) : json.value));
}

// An alarm is never refused over a detail it can do without: a bad clock or an odd confidence is set
// aside (and noted in the payload) so that the help request itself still gets through.
const ALARM_TYPES: ReadonlySet<string> = new Set<EventType>(['sos', 'fall', 'cancel']);

function dropAdvisoryFields(value: Record<string, unknown>): Record<string, unknown> {
  const out = { ...value };
  if (out.ts !== undefined && !(typeof out.ts === 'string' && !Number.isNaN(parseDeviceTime(out.ts)))) {
    out._invalidTs = typeof out.ts === 'string' ? out.ts.slice(0, 64) : typeof out.ts;
    delete out.ts;
  }
  if (out.confidence !== undefined && !confidence.safeParse(out.confidence).success) {
    out._invalidConfidence = typeof out.confidence === 'number' ? out.confidence : typeof out.confidence;
    delete out.confidence;
  }
  return out;
}

export function decodeTelemetry(payload: Buffer, opts: DecodeOptions = {}): Decoded<Telemetry> {
  const json = decodeJsonObject(payload, opts);
  if (!json.ok) return json;
  // Thousands of readings a second are valid: those are taken as parsed, without the schema's copy of every object
  // (the garbage it made stalled alarms). Anything else goes through the schema, for its exact refusal.
  if (isValidTelemetry(json.value)) return { ok: true, value: json.value };
  return fromZod(telemetrySchema.safeParse(json.value));
}

/** What `telemetrySchema` accepts: battery and rssi each absent or a number in range, any other field. */
function isValidTelemetry(value: Record<string, unknown>): value is Telemetry {
  return optionalInRange(value.battery, 0, 100) && optionalInRange(value.rssi, -140, 0);
}

function optionalInRange(value: unknown, min: number, max: number): boolean {
  return value === undefined || (typeof value === 'number' && value >= min && value <= max);
}

/** Status is plain text, exactly `online` or `offline` (it is also the will, set once at CONNECT). */
export function decodeStatus(payload: Buffer, opts: DecodeOptions = {}): Decoded<DeviceStatus> {
  const sized = checkSize(payload, opts);
  if (!sized.ok) return sized;
  const text = payload.toString('latin1');
  if (text === 'online' || text === 'offline') return { ok: true, value: text };
  return fail('invalid_payload', `expected "online" or "offline", got ${JSON.stringify(text.slice(0, 32))}`);
}

/** Decodes a message on any channel under the device's own prefix. */
export function decodeMessage(kind: DeviceKind, channel: string, payload: Buffer, opts: DecodeOptions = {}): Decoded<DecodedMessage> {
  if (!isDeviceChannel(channel)) return fail('unknown_channel', `no channel "${channel.slice(0, 64)}"`);
  return decodeChannel(kind, channel, payload, opts);
}

function decodeChannel(kind: DeviceKind, channel: DeviceChannel, payload: Buffer, opts: DecodeOptions): Decoded<DecodedMessage> {
  switch (channel) {
    case 'event': {
      const r = decodeEvent(kind, payload, opts);
      return r.ok ? { ok: true, value: { channel, event: r.value } } : r;
    }
    case 'telemetry': {
      const r = decodeTelemetry(payload, opts);
      return r.ok ? { ok: true, value: { channel, telemetry: r.value } } : r;
    }
    case 'status': {
      const r = decodeStatus(payload, opts);
      return r.ok ? { ok: true, value: { channel, status: r.value } } : r;
    }
  }
}
