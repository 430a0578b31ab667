// Fuzzing the device payload decoder and the signal built from it: no input throws, each is accepted as a valid event or rejected with a reason, and an alarm is never refused over an advisory field.
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { DEVICE_KINDS, type Device, type RejectionReason } from '../../gateway/core/types.js';
import { buildSignal, signalFromStored } from '../../gateway/ingest/signal.js';
import { DEVICE_KIND_DEFINITIONS, decodeMessage, parseDeviceTime, type DecodedMessage } from '../../devices/kinds.js';
import { anyJson, deviceTs, payloadBytes } from './arbitraries.js';
import { checkProperty, fuzzBudget } from './budget.js';

const REASONS: readonly RejectionReason[] = [
  'payload_too_large',
  'malformed_json',
  'invalid_payload',
  'unknown_type',
  'type_not_supported_by_kind',
  'unknown_channel',
  'impossible_value',
];
const MAX_BYTES = 512;
const NOW = Date.UTC(2026, 0, 15, 8, 0, 0);

const kind = fc.constantFrom(...DEVICE_KINDS);
const channel = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('event', 'telemetry', 'status') },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
);

function inRange(v: unknown, min: number, max: number): boolean {
  return v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max);
}

/** What an accepted message must be, checked without the decoder's own schema. */
function checkAccepted(deviceKind: Device['kind'], msg: DecodedMessage): void {
  switch (msg.channel) {
    case 'event': {
      const e = msg.event;
      expect(DEVICE_KIND_DEFINITIONS[deviceKind].events).toContain(e.type);
      expect(Number.isSafeInteger(e.seq) && e.seq >= 0).toBe(true);
      if (e.ts !== undefined) expect(Number.isFinite(parseDeviceTime(e.ts))).toBe(true);
      // Measurements the type defines are in range; on other types the same names are extra fields, kept as sent.
      if (e.type === 'heartbeat' || e.type === 'low_battery') expect(inRange(e.battery, 0, 100)).toBe(true);
      if (e.type === 'low_battery') expect(e.battery).toBeTypeOf('number');
      if (e.type === 'fall') expect(inRange(e.confidence, 0, 1)).toBe(true);
      return;
    }
    case 'telemetry':
      expect(inRange(msg.telemetry.battery, 0, 100) && inRange(msg.telemetry.rssi, -140, 0)).toBe(true);
      return;
    case 'status':
      expect(['online', 'offline']).toContain(msg.status);
  }
}

describe('device payload decoder (fuzz)', () => {
  const any = fuzzBudget(1000);
  it(
    'never throws; accepts a valid message or rejects it with a known reason and a detail',
    async () => {
      await checkProperty(
        'device payload: accepted or rejected with a reason',
        fc.property(kind, channel, payloadBytes, (deviceKind, ch, payload) => {
          const decoded = decodeMessage(deviceKind, ch, payload, { maxBytes: MAX_BYTES });
          if (!decoded.ok) {
            expect(REASONS).toContain(decoded.reason);
            expect(typeof decoded.detail).toBe('string');
            expect(decoded.detail.length).toBeGreaterThan(0);
            if (payload.length > MAX_BYTES && ['event', 'telemetry', 'status'].includes(ch))
              expect(decoded.reason).toBe('payload_too_large');
            return;
          }
          expect(payload.length).toBeLessThanOrEqual(MAX_BYTES);
          checkAccepted(deviceKind, decoded.value);
          if (decoded.value.channel !== 'event') return;
          // The accepted event becomes a signal, and the stored payload gives the same signal back after a restart.
          const device: Device = { id: 'dev-1', kind: deviceKind, resident: 'r-1', secretHash: 'x' };
          const signal = buildSignal({ eventId: 1, device, event: decoded.value.event, receivedAt: NOW });
          expect(signal).toMatchObject({
            deviceId: 'dev-1',
            residentId: 'r-1',
            type: decoded.value.event.type,
            seq: decoded.value.event.seq,
          });
          if (signal.deviceTs !== undefined) expect(Number.isFinite(parseDeviceTime(signal.deviceTs))).toBe(true);
          const again = signalFromStored(
            {
              id: 1,
              deviceId: 'dev-1',
              seq: signal.seq,
              type: signal.type,
              payload: payload.toString('utf8'),
              payloadHash: '',
              deviceTs: null,
              receivedAt: NOW,
              processed: false,
            },
            device,
          );
          expect(again).toEqual(signal);
        }),
        any,
      );
    },
    any.testTimeoutMs,
  );

  const alarms = fuzzBudget(500);
  it(
    'takes an sos, fall or cancel whatever its timestamp, confidence or extra fields',
    async () => {
      const alarmKind = fc.constantFrom(
        ...DEVICE_KINDS.filter((k) => DEVICE_KIND_DEFINITIONS[k].events.some((t) => t === 'sos' || t === 'fall')),
      );
      const extras = fc.dictionary(
        fc.string({ maxLength: 10 }).filter((k) => k !== 'type' && k !== 'seq'),
        anyJson,
        { maxKeys: 4 },
      );
      await checkProperty(
        'alarm payload: never refused over an advisory field',
        fc.property(
          alarmKind,
          fc.constantFrom('sos', 'fall', 'cancel'),
          fc.nat(),
          fc.option(deviceTs),
          fc.option(anyJson),
          extras,
          (deviceKind, type, seq, ts, confidence, extra) => {
            fc.pre(DEVICE_KIND_DEFINITIONS[deviceKind].events.some((t) => t === type));
            const body: Record<string, unknown> = { ...extra, type, seq };
            if (ts !== null) body.ts = ts;
            if (confidence !== null) body.confidence = confidence;
            const decoded = decodeMessage(deviceKind, 'event', Buffer.from(JSON.stringify(body), 'utf8'));
            expect(decoded.ok ? decoded.value : decoded).toMatchObject({ channel: 'event', event: { type, seq } });
          },
        ),
        alarms,
      );
    },
    alarms.testTimeoutMs,
  );
});
