// fast-check generators shared by the fuzz properties: device payloads near and far from valid, and MQTT topic shapes.
import fc from 'fast-check';
import { EVENT_TYPES } from '../../gateway/core/types.js';

/** A value of any JSON type, including the awkward ones (huge, negative, fractional, nested, unicode). */
export const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Timestamps as firmware sends them, well-formed or not. */
export const deviceTs = fc.oneof(
  fc
    .date({ noInvalidDate: true, min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z') })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-13-01T00:00:00Z',
    '2026-02-30T10:00',
    '0000-01-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01t08:00+0800',
    '2026-01-01T08:00:00.123456789-05',
  ),
  fc.string({ maxLength: 40 }),
  anyJson,
);

const fieldValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -5, max: 2 ** 31 }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: anyJson },
);

/** Objects shaped like device events: a known or unknown type, a seq, and optional fields with any values. */
export const eventLike = fc.record(
  {
    type: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...EVENT_TYPES) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      { weight: 1, arbitrary: anyJson },
    ),
    seq: fc.oneof({ weight: 6, arbitrary: fc.nat() }, { weight: 1, arbitrary: fieldValue }),
    ts: deviceTs,
    battery: fieldValue,
    rssi: fieldValue,
    confidence: fc.oneof(fc.double({ min: -1, max: 2 }), fieldValue),
    extra: anyJson,
    ['__proto__']: anyJson,
    constructor: anyJson,
  },
  { requiredKeys: [] },
);

/** The bytes of a device payload: event-like JSON, any JSON, JSON cut short, random bytes, the status words. */
export const payloadBytes = fc.oneof(
  { weight: 6, arbitrary: eventLike.map((o) => Buffer.from(JSON.stringify(o), 'utf8')) },
  { weight: 2, arbitrary: anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null', 'utf8')) },
  {
    weight: 1,
    arbitrary: eventLike.chain((o) => {
      const text = JSON.stringify(o);
      return fc.nat({ max: text.length }).map((n) => Buffer.from(text.slice(0, n), 'utf8'));
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }).map((s) => Buffer.from(s, 'utf8')) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('online', 'offline', 'Online', 'online\n', '', ' ', '{}', '[]', 'null', '\u0000')
      .map((s) => Buffer.from(s, 'utf8')),
  },
);
