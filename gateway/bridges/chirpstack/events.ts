// ChirpStack v4 integration events as its MQTT integration publishes them in JSON (`json=true`): topics, `up`, `status`, `join`, parsed and checked.
import { z } from 'zod';

export const CHIRPSTACK_EVENTS = ['up', 'status', 'join'] as const;
export type ChirpstackEventName = (typeof CHIRPSTACK_EVENTS)[number];

/** The subscriptions of one application: ChirpStack's default `event_topic` template. */
export function chirpstackTopics(applicationId: string): string[] {
  return CHIRPSTACK_EVENTS.map((e) => `application/${applicationId}/device/+/event/${e}`);
}

/** ChirpStack's default `command_topic` for a device's downlink queue. */
export function downlinkTopic(applicationId: string, devEui: string): string {
  return `application/${applicationId}/device/${devEui}/command/down`;
}

export interface ChirpstackTopic {
  applicationId: string;
  devEui: string;
  event: ChirpstackEventName;
}

const TOPIC = /^application\/([^/]+)\/device\/([0-9a-fA-F]{16})\/event\/(up|status|join)$/;

/** The parts of an event topic, or null for anything else. */
export function parseTopic(topic: string): ChirpstackTopic | null {
  const m = TOPIC.exec(topic);
  if (!m?.[1] || !m[2] || !m[3]) return null;
  return { applicationId: m[1], devEui: m[2].toLowerCase(), event: m[3] as ChirpstackEventName };
}

const devEui = z.string().regex(/^[0-9a-fA-F]{16}$/, 'expected a DevEUI (16 hex digits)');
// ChirpStack prints Timestamps as RFC 3339 with nanoseconds ("2026-12-06T12:00:00.123456789+00:00").
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 timestamp');

const deviceInfo = z
  .object({
    applicationId: z.string(),
    devEui,
    deviceName: z.string().optional(),
    deviceProfileName: z.string().optional(),
  })
  .loose();

const rxInfo = z.object({ gatewayId: z.string().optional(), rssi: z.number().optional(), snr: z.number().optional() }).loose();

const common = {
  deduplicationId: z.string().min(1),
  time: timestamp.optional(),
  deviceInfo,
};

/** Proto3 JSON leaves out zero values: `fCnt` 0, `fPort` 0 (no application payload) and empty `data` may be absent. */
export const uplinkSchema = z
  .object({
    ...common,
    fCnt: z.number().int().min(0).optional(),
    fPort: z.number().int().min(0).max(255).optional(),
    confirmed: z.boolean().optional(),
    data: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64')
      .optional(),
    // Set only when the device profile has a codec; a codec error leaves it out (and ChirpStack logs the error).
    object: z.record(z.string(), z.unknown()).optional(),
    rxInfo: z.array(rxInfo).optional(),
  })
  .loose();
export type ChirpstackUplink = z.infer<typeof uplinkSchema>;

export const statusSchema = z
  .object({
    ...common,
    margin: z.number().optional(),
    externalPowerSource: z.boolean().optional(),
    batteryLevelUnavailable: z.boolean().optional(),
    batteryLevel: z.number().min(0).max(100).optional(),
  })
  .loose();
export type ChirpstackStatus = z.infer<typeof statusSchema>;

export const joinSchema = z.object({ ...common, devAddr: z.string().optional() }).loose();
export type ChirpstackJoin = z.infer<typeof joinSchema>;

export type ParsedEvent =
  { event: 'up'; body: ChirpstackUplink } | { event: 'status'; body: ChirpstackStatus } | { event: 'join'; body: ChirpstackJoin };

export type ParseResult = { ok: true; value: ParsedEvent } | { ok: false; reason: 'malformed_json' | 'invalid_payload'; detail: string };

const SCHEMAS = { up: uplinkSchema, status: statusSchema, join: joinSchema } as const;

/** Parses one event body; the DevEUI inside must be the topic's, so one device cannot speak for another. */
export function parseEvent(topic: ChirpstackTopic, payload: Buffer): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'malformed_json', detail: err instanceof Error ? err.message : 'not JSON' };
  }
  const parsed = SCHEMAS[topic.event].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: 'invalid_payload',
      detail: `${topic.event}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
    };
  }
  const body = parsed.data;
  if (body.deviceInfo.devEui.toLowerCase() !== topic.devEui) {
    return {
      ok: false,
      reason: 'invalid_payload',
      detail: `deviceInfo.devEui ${body.deviceInfo.devEui} is not the topic's ${topic.devEui}`,
    };
  }
  if (body.deviceInfo.applicationId !== topic.applicationId) {
    return {
      ok: false,
      reason: 'invalid_payload',
      detail: `deviceInfo.applicationId ${body.deviceInfo.applicationId} is not the topic's ${topic.applicationId}`,
    };
  }
  switch (topic.event) {
    case 'up':
      return { ok: true, value: { event: 'up', body: uplinkSchema.parse(body) } };
    case 'status':
      return { ok: true, value: { event: 'status', body: statusSchema.parse(body) } };
    case 'join':
      return { ok: true, value: { event: 'join', body: joinSchema.parse(body) } };
  }
}

/** The strongest gateway reception: highest RSSI, then SNR; null without any. */
export function bestReception(rx: ChirpstackUplink['rxInfo']): { rssi: number; snr: number | null; gatewayId: string | null } | null {
  let best: { rssi: number; snr: number | null; gatewayId: string | null } | null = null;
  for (const r of rx ?? []) {
    if (r.rssi === undefined) continue;
    const snr = r.snr ?? null;
    if (!best || r.rssi > best.rssi || (r.rssi === best.rssi && (snr ?? -Infinity) > (best.snr ?? -Infinity)))
      best = { rssi: r.rssi, snr, gatewayId: r.gatewayId ?? null };
  }
  return best;
}
