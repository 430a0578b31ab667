import { describe, expect, it } from 'vitest';
import { DEVICE_KINDS, type DeviceKind, type EventType } from '../../gateway/core/types.js';
import {
  decodeEvent,
  decodeMessage,
  decodeStatus,
  decodeTelemetry,
  DEVICE_KIND_DEFINITIONS,
  parseDeviceTime,
  supportsEvent,
  telemetrySchema,
  type Decoded,
} from '../../devices/kinds.js';
import { channelUnder, commandTopic, deviceTopic } from '../../devices/topics.js';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function reason<T>(d: Decoded<T>): string {
  return d.ok ? 'ok' : d.reason;
}

describe('device kinds', () => {
  it('defines the events of every kind', () => {
    const expected: Record<DeviceKind, EventType[]> = {
      sos_button: ['sos', 'cancel', 'heartbeat', 'low_battery'],
      pull_cord: ['sos', 'cancel', 'heartbeat', 'low_battery'],
      fall_sensor: ['fall', 'cancel', 'heartbeat', 'low_battery'],
      motion_sensor: ['motion', 'heartbeat', 'low_battery'],
      presence_sensor: ['motion', 'heartbeat', 'low_battery'],
      door_sensor: ['motion', 'heartbeat', 'low_battery'],
    };
    for (const kind of DEVICE_KINDS) {
      expect([...DEVICE_KIND_DEFINITIONS[kind].events].sort()).toEqual([...expected[kind]].sort());
    }
    expect(supportsEvent('pull_cord', 'sos')).toBe(true);
    expect(supportsEvent('motion_sensor', 'sos')).toBe(false);
  });

  it('decodes a valid event of each supported type, keeping extra fields', () => {
    const sos = decodeEvent('sos_button', json({ type: 'sos', seq: 7, ts: '2026-11-26T10:00:00+08:00', fw: '1.2.3' }));
    expect(sos).toEqual({ ok: true, value: { type: 'sos', seq: 7, ts: '2026-11-26T10:00:00+08:00', fw: '1.2.3' } });
    expect(reason(decodeEvent('fall_sensor', json({ type: 'fall', seq: 0, confidence: 0.93 })))).toBe('ok');
    expect(reason(decodeEvent('fall_sensor', json({ type: 'fall', seq: 1 })))).toBe('ok');
    expect(reason(decodeEvent('door_sensor', json({ type: 'motion', seq: 1 })))).toBe('ok');
    expect(reason(decodeEvent('pull_cord', json({ type: 'heartbeat', seq: 3 })))).toBe('ok');
    expect(reason(decodeEvent('pull_cord', json({ type: 'heartbeat', seq: 3, battery: 88 })))).toBe('ok');
    expect(reason(decodeEvent('presence_sensor', json({ type: 'low_battery', seq: 4, battery: 9 })))).toBe('ok');
    expect(reason(decodeEvent('fall_sensor', json({ type: 'cancel', seq: 5 })))).toBe('ok');
  });

  it('tells the rejection reasons apart', () => {
    expect(reason(decodeEvent('sos_button', Buffer.from('{"type":"sos",')))).toBe('malformed_json');
    expect(reason(decodeEvent('sos_button', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).toBe('malformed_json');
    expect(reason(decodeEvent('sos_button', json([1, 2])))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json('sos')))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ seq: 1 })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 5, seq: 1 })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'panic', seq: 1 })))).toBe('unknown_type');
    expect(reason(decodeEvent('sos_button', json({ type: 'fall', seq: 1 })))).toBe('type_not_supported_by_kind');
    expect(reason(decodeEvent('motion_sensor', json({ type: 'cancel', seq: 1 })))).toBe('type_not_supported_by_kind');
    expect(reason(decodeEvent('sos_button', json({ type: 'sos' })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'sos', seq: -1 })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'sos', seq: 1.5 })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'sos', seq: '1' })))).toBe('invalid_payload');
    expect(reason(decodeEvent('motion_sensor', json({ type: 'motion', seq: 1, ts: 'yesterday' })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'low_battery', seq: 1 })))).toBe('invalid_payload');
    expect(reason(decodeEvent('sos_button', json({ type: 'low_battery', seq: 1, battery: 250 })))).toBe('impossible_value');
    expect(reason(decodeEvent('sos_button', json({ type: 'heartbeat', seq: 1, battery: -3 })))).toBe('impossible_value');
    // 1e999 parses to Infinity: not a number a sensor can report.
    expect(reason(decodeEvent('sos_button', Buffer.from('{"type":"heartbeat","seq":1,"battery":1e999}')))).toBe('invalid_payload');
  });

  it('never refuses an alarm over a bad clock or confidence: sets them aside and notes it', () => {
    expect(decodeEvent('sos_button', json({ type: 'sos', seq: 1, ts: 'yesterday' }))).toEqual({
      ok: true,
      value: { type: 'sos', seq: 1, _invalidTs: 'yesterday' },
    });
    expect(decodeEvent('fall_sensor', json({ type: 'fall', seq: 1, confidence: 1.5, ts: 42 }))).toEqual({
      ok: true,
      value: { type: 'fall', seq: 1, _invalidConfidence: 1.5, _invalidTs: 'number' },
    });
    // The counter that drops redeliveries is still required.
    expect(reason(decodeEvent('sos_button', json({ type: 'sos', ts: 'yesterday' })))).toBe('invalid_payload');
  });

  it('rejects oversized payloads before parsing them', () => {
    const big = Buffer.from(JSON.stringify({ type: 'sos', seq: 1, pad: 'x'.repeat(17 * 1024) }));
    const r = decodeEvent('sos_button', big);
    expect(reason(r)).toBe('payload_too_large');
    expect(r.ok ? '' : r.detail).toContain(String(big.length));
    expect(reason(decodeEvent('sos_button', big, { maxBytes: 64 * 1024 }))).toBe('ok');
    expect(reason(decodeStatus(Buffer.alloc(17 * 1024, 0x61)))).toBe('payload_too_large');
  });

  it('accepts the ISO 8601 forms fixtures send', () => {
    for (const ts of [
      '2026-11-26T10:00:00Z',
      '2026-11-26T10:00:00.123+08:00',
      '2026-11-26T10:00+0800',
      '2026-11-26T02:00:00+00',
      '2026-11-26T10:00:00',
    ]) {
      expect(reason(decodeEvent('sos_button', json({ type: 'sos', seq: 1, ts }))), ts).toBe('ok');
    }
    expect(parseDeviceTime('2026-11-26T10:00+0800')).toBe(Date.UTC(2026, 10, 26, 2, 0, 0));
    expect(parseDeviceTime('2026-11-26T02:00:00+00')).toBe(Date.UTC(2026, 10, 26, 2, 0, 0));
    expect(parseDeviceTime('2026-13-01T00:00:00Z')).toBeNaN();
    expect(parseDeviceTime('1764122400')).toBeNaN();
  });

  it('validates telemetry ranges', () => {
    expect(decodeTelemetry(json({ battery: 77, rssi: -71, temp: 21.5 }))).toEqual({
      ok: true,
      value: { battery: 77, rssi: -71, temp: 21.5 },
    });
    expect(reason(decodeTelemetry(json({})))).toBe('ok');
    expect(reason(decodeTelemetry(json({ battery: 250 })))).toBe('impossible_value');
    expect(reason(decodeTelemetry(json({ rssi: 40 })))).toBe('impossible_value');
    expect(reason(decodeTelemetry(json({ rssi: -141 })))).toBe('impossible_value');
    expect(reason(decodeTelemetry(json({ battery: 'full' })))).toBe('invalid_payload');
    expect(reason(decodeTelemetry(json({ battery: 250, rssi: 'x' })))).toBe('invalid_payload');
    expect(reason(decodeTelemetry(Buffer.from('battery=77')))).toBe('malformed_json');
  });

  it('decodes every telemetry reading exactly as its schema does, the everyday ones without the schema', () => {
    const cases: unknown[] = [
      {},
      { battery: 0, rssi: 0 },
      { battery: 100, rssi: -140 },
      { battery: 55.5, rssi: -70, temp: 21.5, extra: { nested: [1, 2] } },
      { battery: -0.01 },
      { battery: 100.01 },
      { rssi: 0.5 },
      { rssi: -140.5 },
      { battery: null },
      { rssi: null },
      { battery: '80' },
      { battery: true },
      { battery: [80] },
      { battery: 80, rssi: { dbm: -60 } },
      { battery: 1e308 },
    ];
    for (const value of cases) {
      const schema = telemetrySchema.safeParse(value);
      const decoded = decodeTelemetry(json(value));
      expect({ value, ok: decoded.ok }).toEqual({ value, ok: schema.success });
      if (decoded.ok && schema.success) expect(decoded.value).toEqual(schema.data);
    }
  });

  it('accepts exactly online and offline as status', () => {
    expect(decodeStatus(Buffer.from('online'))).toEqual({ ok: true, value: 'online' });
    expect(decodeStatus(Buffer.from('offline'))).toEqual({ ok: true, value: 'offline' });
    for (const bad of ['Online', 'online\n', '"online"', '', '{"status":"online"}']) {
      expect(reason(decodeStatus(Buffer.from(bad))), bad).toBe('invalid_payload');
    }
  });

  it('routes by channel and knows the topic layout', () => {
    expect(decodeMessage('sos_button', 'status', Buffer.from('online'))).toEqual({
      ok: true,
      value: { channel: 'status', status: 'online' },
    });
    expect(reason(decodeMessage('sos_button', 'debug', Buffer.from('{}')))).toBe('unknown_channel');
    expect(reason(decodeMessage('sos_button', 'command', Buffer.from('{}')))).toBe('unknown_channel');
    expect(deviceTopic('btn-001', 'event')).toBe('care/v1/btn-001/event');
    expect(commandTopic('btn-001')).toBe('care/v1/btn-001/command');
    expect(channelUnder('btn-001', 'care/v1/btn-001/telemetry')).toBe('telemetry');
    expect(channelUnder('btn-001', 'care/v1/btn-0011/event')).toBeNull();
    expect(channelUnder('btn-001', 'care/v1/btn-002/event')).toBeNull();
    expect(channelUnder('btn-001', 'care/v1/btn-001/')).toBeNull();
    expect(channelUnder('btn-001', '$SYS/broker/clients')).toBeNull();
  });
});
