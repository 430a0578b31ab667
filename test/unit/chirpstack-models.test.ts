// ChirpStack v4 event parsing and the LoRaWAN model table: topics, schema checks, DevEUI spoofing, the WS101 byte decoder and the codec model.
import { describe, expect, it } from 'vitest';
import { bestReception, chirpstackTopics, downlinkTopic, parseEvent, parseTopic } from '../../gateway/bridges/chirpstack/events.js';
import { decodeUplink, loraModel, LORA_MODELS, type Decoding } from '../../gateway/bridges/chirpstack/models.js';
import { ws101Bytes } from '../../simulators/bridges/chirpstack.js';

const APP = '7d4a0c1e-9f55-4b8e-a0f4-5b9f1c6e2a11';
const EUI = '24e124538b223311';
const info = { applicationId: APP, devEui: EUI, deviceName: 'btn' };
const up = (extra: Record<string, unknown>): Buffer =>
  Buffer.from(
    JSON.stringify({
      deduplicationId: '3d1f0e5e-1b7a-4c1d-9d7e-0c9f1f3a2b10',
      time: '2026-12-06T12:00:00.123456789+00:00',
      deviceInfo: info,
      ...extra,
    }),
  );

describe('ChirpStack topics', () => {
  it('subscribes to up, status and join of one application and queues downlinks on command/down', () => {
    expect(chirpstackTopics(APP)).toEqual([
      `application/${APP}/device/+/event/up`,
      `application/${APP}/device/+/event/status`,
      `application/${APP}/device/+/event/join`,
    ]);
    expect(downlinkTopic(APP, EUI)).toBe(`application/${APP}/device/${EUI}/command/down`);
  });

  it('parses an event topic, DevEUI in lower case, and refuses anything else', () => {
    expect(parseTopic(`application/${APP}/device/24E124538B223311/event/up`)).toEqual({ applicationId: APP, devEui: EUI, event: 'up' });
    expect(parseTopic(`application/${APP}/device/${EUI}/event/ack`)).toBeNull();
    expect(parseTopic(`application/${APP}/device/not-an-eui/event/up`)).toBeNull();
    expect(parseTopic(`application/${APP}/device/${EUI}/command/down`)).toBeNull();
  });
});

describe('ChirpStack event bodies', () => {
  const topic = { applicationId: APP, devEui: EUI, event: 'up' as const };

  it('takes an uplink with its codec object, fCnt and rxInfo', () => {
    const r = parseEvent(
      topic,
      up({
        fCnt: 7,
        fPort: 85,
        data: 'AXUQ/y4B',
        object: { battery: 16, press: 'short' },
        rxInfo: [{ gatewayId: 'a', rssi: -101, snr: 2 }],
      }),
    );
    expect(r.ok && r.value.event === 'up' && r.value.body.fCnt).toBe(7);
  });

  it('names malformed JSON and a missing deduplicationId clearly', () => {
    const bad = parseEvent(topic, Buffer.from('{"deduplicationId": '));
    expect(bad).toMatchObject({ ok: false, reason: 'malformed_json' });
    const missing = parseEvent(topic, Buffer.from(JSON.stringify({ deviceInfo: info })));
    expect(missing).toMatchObject({ ok: false, reason: 'invalid_payload' });
    expect(!missing.ok && missing.detail).toContain('deduplicationId');
  });

  it("refuses a body whose DevEUI is not the topic's (one device speaking for another)", () => {
    const r = parseEvent(topic, up({ deviceInfo: { ...info, devEui: '24e124538b229999' } }));
    expect(r).toMatchObject({ ok: false, reason: 'invalid_payload' });
    expect(!r.ok && r.detail).toContain('not the topic');
  });

  it('keeps the strongest reception: highest RSSI, then SNR', () => {
    expect(
      bestReception([
        { rssi: -110, snr: 9 },
        { rssi: -95, snr: 1, gatewayId: 'g2' },
        { rssi: -95, snr: 4, gatewayId: 'g3' },
      ]),
    ).toEqual({ rssi: -95, snr: 4, gatewayId: 'g3' });
    expect(bestReception([])).toBeNull();
  });
});

function failsWith(r: Decoding, text: string): void {
  expect(r.ok).toBe(false);
  expect(!r.ok && r.detail).toContain(text);
}

describe('LoRaWAN models', () => {
  const ws101 = loraModel('milesight_ws101_sos')!;

  it("decodes Milesight's published WS101 example 017510 FF2E01 (battery 16 %, short press) as an SOS", () => {
    expect(ws101.fromBytes(85, Buffer.from('017510ff2e01', 'hex'))).toEqual({ ok: true, reading: { event: 'sos', battery: 16 } });
    expect(decodeUplink(ws101, { fPort: 85, data: ws101Bytes({ battery: 80, press: 2 }).toString('base64') })).toEqual({
      ok: true,
      reading: { event: 'sos', battery: 80 },
    });
  });

  it('takes a periodic WS101 report (battery only) and the attributes after a join as no alarm', () => {
    expect(ws101.fromBytes(85, Buffer.from('017564', 'hex'))).toEqual({ ok: true, reading: { battery: 100 } });
    expect(ws101.fromBytes(85, Buffer.from('ff0101ff090110ff0a0110ff0f00', 'hex'))).toEqual({ ok: true, reading: {} });
  });

  it('refuses WS101 bytes it does not understand, naming where', () => {
    failsWith(ws101.fromBytes(85, Buffer.from('0175', 'hex')), 'truncated');
    failsWith(ws101.fromBytes(85, Buffer.from('ff2e07', 'hex')), 'press type 7');
    failsWith(ws101.fromBytes(85, Buffer.from('0367e100', 'hex')), 'unknown channel 03 67');
    failsWith(ws101.fromBytes(10, Buffer.from('017510', 'hex')), 'fPort 85');
  });

  it("reads both of Milesight's ChirpStack codec outputs", () => {
    expect(ws101.fromObject({ battery: 16, press: 'short' })).toEqual({ ok: true, reading: { event: 'sos', battery: 16 } });
    expect(ws101.fromObject({ battery: 16, button_event: { status: 'long press' } })).toEqual({
      ok: true,
      reading: { event: 'sos', battery: 16 },
    });
    expect(ws101.fromObject({ battery: 90 })).toEqual({ ok: true, reading: { battery: 90 } });
  });

  it('prefers the codec object to the bytes when the device profile produced one', () => {
    expect(
      decodeUplink(ws101, { fPort: 85, data: ws101Bytes({ battery: 50 }).toString('base64'), object: { battery: 50, press: 'short' } }),
    ).toEqual({ ok: true, reading: { event: 'sos', battery: 50 } });
  });

  it('the codec model maps { event } and { sos: true } and refuses other words', () => {
    const codec = loraModel(undefined)!;
    expect(codec.id).toBe('chirpstack_codec');
    expect(codec.fromObject({ event: 'fall', battery: 40 })).toEqual({ ok: true, reading: { event: 'fall', battery: 40 } });
    expect(codec.fromObject({ sos: true })).toEqual({ ok: true, reading: { event: 'sos' } });
    expect(codec.fromObject({ event: 'explode' })).toMatchObject({ ok: false });
    failsWith(codec.fromBytes(2, Buffer.from('01', 'hex')), 'codec');
  });

  it('sends responder_assigned down as an object for the codec, and not at all to a WS101', () => {
    const cmd = { type: 'responder_assigned' as const, incident: 'inc-1' };
    expect(loraModel('chirpstack_codec')!.downlink(cmd)).toEqual({
      fPort: 10,
      confirmed: true,
      object: { command: 'responder_assigned', incident: 'inc-1' },
    });
    const none = ws101.downlink(cmd);
    expect('none' in none && none.none).toContain('WS101');
    expect(loraModel('no_such_model')).toBeNull();
    expect(Object.keys(LORA_MODELS).sort()).toEqual(['chirpstack_codec', 'milesight_ws101_sos']);
  });
});
