// The one entry point for bridged traffic: resolves a bridge's device, limits the bridge, and records its signals through the same ingest as direct devices.
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { GatewayError } from '../core/errors.js';
import type { Device, EventType, Rejection, SecurityEvent } from '../core/types.js';
import type { DeviceHealthRepo, SecurityEventRepo } from '../storage/ports.js';
import type { IngestEvents } from '../ingest/events.js';
import type { Ingest, IngestMeta } from '../ingest/ingest.js';
import { DeviceLimiter, type DeviceLimits } from '../ingest/device-limits.js';
import type { BridgeRepo } from './repo.js';

/** One of our event types, with its extra fields (`confidence`, `battery`, …) as the device protocol allows them. */
export interface BridgedEvent {
  type: EventType;
  fields?: Record<string, number | string | boolean>;
}

/**
 * What tells a redelivery of a bridged message apart from a new one:
 * - `key`: an id the upstream repeats on every redelivery and never reuses (ChirpStack's deduplicationId, a vendor's
 *   message id). The same key (and content) within the dedupe window is the same message, however it came back.
 * - `mqtt`: a PUBLISH as an MQTT connection delivered it. Only a copy flagged DUP with the same packet id and the
 *   same content is taken for a redelivery ([MQTT-3.3.1-1]: a resend MUST carry DUP); a PUBLISH without DUP is
 *   always new, so two real presses with equal payloads are never merged. QoS 0 has no packet id and no resends.
 */
export type BridgeDelivery = { kind: 'key'; key: string } | { kind: 'mqtt'; session: string; packetId: number | undefined; dup: boolean };

/** Numeric readings as the bridge reports them; each is checked as a direct device's telemetry is. */
export interface BridgedTelemetry {
  battery?: number;
  rssi?: number;
  /** Zigbee link quality, 0-255. */
  linkquality?: number;
  /** LoRaWAN signal-to-noise ratio, dB. */
  snr?: number;
}

export interface BridgeMessage {
  bridgeId: string;
  /** Upstream topic or path, for rejections and logs (e.g. `zigbee2mqtt/btn-101`). */
  source: string;
  delivery: BridgeDelivery;
  /** The device's (or the bridge's) own time of the reading, ISO 8601, when the upstream gives one. */
  deviceTime?: string;
  events?: readonly BridgedEvent[];
  telemetry?: BridgedTelemetry;
  /** Availability reported by the bridge: `offline` is the bridge speaking for a device it lost, like a will. */
  state?: 'online' | 'offline';
  /** Size of the upstream message, for the bridge's limits. */
  bytes: number;
  remoteAddress?: string | null;
  /** performance.now() when the message reached the gateway, for end-to-end latency. */
  arrivedHr?: number;
}

export interface BridgeSinkDeps {
  ingest: Pick<Ingest, 'handle' | 'rejectRelayed' | 'markState'>;
  registry: Pick<BridgeRepo, 'findBridgedDevice'>;
  store: { health: Pick<DeviceHealthRepo, 'recordRejection'>; security: Pick<SecurityEventRepo, 'record'> };
  bus: EventBus<Pick<IngestEvents, 'signalRejected' | 'securityEvent'>>;
  clock: Clock;
  log: Logger;
  /** Per-bridge limits on everything but alarms (default BRIDGE_LIMITS); the ingest's per-device limits apply too. */
  limits?: DeviceLimits;
}

/**
 * A faulty coordinator can repeat itself hundreds of times a second. A bridge of a hundred devices that each report
 * every few minutes sends well under one message a second; ten a second sustained, with a burst of 300 (a whole
 * network coming back after the coordinator restarts), leaves room. Alarms are never limited.
 */
export const BRIDGE_LIMITS: DeviceLimits = { ratePerMinute: 600, burst: 300, dailyMessages: 0, dailyBytes: 0, disconnectAfter: 600 };

const ALARM_TYPES: ReadonlySet<EventType> = new Set<EventType>(['sos', 'fall', 'cancel']);
const EXCERPT_CHARS = 200;

export class BridgeSink {
  private readonly limiter: DeviceLimiter;
  private readonly limits: DeviceLimits;
  private readonly counters = { accepted: 0, dropped: 0, unknownDevices: 0 };

  constructor(private readonly deps: BridgeSinkDeps) {
    this.limits = deps.limits ?? BRIDGE_LIMITS;
    this.limiter = new DeviceLimiter(this.limits);
  }

  /**
   * The device registered on the bridge as `externalId`. Null, with a rejection recorded under the bridge's id
   * (and the message acknowledged upstream, so the bridge does not resend it forever), when there is none.
   */
  async device(
    bridgeId: string,
    externalId: string | readonly string[],
    source: string,
    payload: Buffer | string = '',
  ): Promise<Device | null> {
    // Several names may stand for one device (zigbee2mqtt's friendly name, its IEEE address): the first registered wins.
    const ids = typeof externalId === 'string' ? [externalId] : externalId;
    for (const id of ids) {
      const device = await this.deps.registry.findBridgedDevice(bridgeId, id);
      if (device) return device;
    }
    this.counters.unknownDevices++;
    const at = this.deps.clock.now();
    // Limited like the bridge's other non-alarm traffic, so a coordinator full of unregistered devices cannot fill the log.
    if (!this.limiter.admit(bridgeId, Buffer.byteLength(payload), at).admit) return null;
    await this.reject({
      deviceId: bridgeId,
      topic: source,
      reason: 'unknown_device',
      detail: `no device registered on bridge "${bridgeId}" as ${ids.map((id) => `"${id.slice(0, 128)}"`).join(' or ')}: add it to the registry (bridge, externalId)`,
      receivedAt: at,
      payloadExcerpt: excerpt(payload),
    });
    return null;
  }

  /**
   * Records a bridged message for `device`. Resolves once every event in it is durably recorded (the upstream may
   * then be told it was received: PUBACK, HTTP 2xx); rejects when an event could not be recorded, so the upstream
   * keeps it and sends it again. Messages the bridge's or the device's limits drop, and messages the ingest
   * rejects, resolve at once: like a direct device's, they are acknowledged but not acted on.
   */
  async accept(device: Device, msg: BridgeMessage): Promise<void> {
    if (device.bridge !== msg.bridgeId) {
      throw new GatewayError('GW_ERR_UNKNOWN_DEVICE', `device ${device.id} is not on bridge ${msg.bridgeId}`);
    }
    const events = msg.events ?? [];
    const alarm = events.some((e) => ALARM_TYPES.has(e.type));
    const at = this.deps.clock.now();
    if (!alarm && !this.admit(msg.bridgeId, msg.bytes, at)) return;
    this.counters.accepted++;

    const meta = (delivery: BridgeDelivery | null): IngestMeta => ({
      remoteAddress: msg.remoteAddress ?? null,
      arrivedHr: msg.arrivedHr ?? 0,
      ...(delivery === null ? {} : deliveryMeta(msg.bridgeId, delivery)),
    });
    const seq = seqOf(msg.delivery);
    const work: Promise<void>[] = events.map((e) => {
      const body: Record<string, unknown> = { ...e.fields, type: e.type, seq, bridge: msg.bridgeId };
      if (msg.deviceTime !== undefined) body.ts = msg.deviceTime;
      return this.deps.ingest.handle(device.id, device, 'event', Buffer.from(JSON.stringify(body)), meta(msg.delivery));
    });
    const telemetry = definedOnly(msg.telemetry);
    if (telemetry) work.push(this.deps.ingest.handle(device.id, device, 'telemetry', Buffer.from(JSON.stringify(telemetry)), meta(null)));
    if (msg.state) {
      const state = this.deps.ingest.handle(device.id, device, 'status', Buffer.from(msg.state), {
        ...meta(null),
        will: msg.state === 'offline',
      });
      work.push(state);
    }
    // All at once, so the events of one message share one group commit; the first failure fails the message.
    await Promise.all(work);
  }

  /** A relayed message for `device` that could not be decoded: on its health record and in the rejection log. */
  rejectRelayed(
    device: Device,
    source: string,
    reason: 'malformed_json' | 'invalid_payload',
    detail: string,
    payload: Buffer | string,
    remoteAddress: string | null = null,
  ): void {
    this.deps.ingest.rejectRelayed(
      { deviceId: device.id, topic: source, reason, detail, receivedAt: this.deps.clock.now(), payloadExcerpt: excerpt(payload) },
      remoteAddress,
    );
  }

  /** The bridge lost these devices all at once (its coordinator or connection went away): offline now. */
  lost(devices: readonly Device[], at: number): void {
    for (const d of devices) this.deps.ingest.markState(d.id, 'offline', at);
  }

  /** A bridged device reports its case opened: a security event naming it and its bridge. */
  async tampered(device: Device, source: string): Promise<void> {
    await this.security({
      kind: 'device_tamper',
      at: this.deps.clock.now(),
      deviceId: device.id,
      clientId: device.bridge ?? null,
      remoteAddress: null,
      detail: `tamper reported on ${source}`,
    });
  }

  stats(): { accepted: number; dropped: number; unknownDevices: number } {
    return { ...this.counters };
  }

  /** True when the bridge's limits take a non-alarm message; a flood is reported once per run of drops. */
  private admit(bridgeId: string, bytes: number, at: number): boolean {
    const verdict = this.limiter.admit(bridgeId, bytes, at);
    if (verdict.admit) return true;
    this.counters.dropped++;
    if (verdict.disconnect || verdict.quotaReached) {
      const l = this.limits;
      const detail = `bridge over ${l.ratePerMinute} messages a minute (burst ${l.burst}): non-alarm messages dropped, alarms still taken`;
      this.deps.log.warn({ bridgeId, reason: verdict.reason }, 'bridge over its limits');
      void this.security({ kind: 'flooding', at, deviceId: null, clientId: bridgeId, remoteAddress: null, detail });
    }
    return false;
  }

  private async reject(rejection: Rejection): Promise<void> {
    this.deps.log.warn({ bridgeId: rejection.deviceId, reason: rejection.reason, detail: rejection.detail }, 'bridged message rejected');
    this.deps.bus.emit('signalRejected', rejection);
    try {
      await this.deps.store.health.recordRejection(rejection);
    } catch (err) {
      this.deps.log.error({ err, bridgeId: rejection.deviceId }, 'could not record a bridged rejection');
    }
  }

  private async security(event: SecurityEvent): Promise<void> {
    this.deps.log.warn({ security: event }, 'bridge security event');
    this.deps.bus.emit('securityEvent', event);
    try {
      await this.deps.store.security.record(event);
    } catch (err) {
      this.deps.log.error({ err, kind: event.kind }, 'could not record a security event');
    }
  }
}

/**
 * The seq an event is recorded with. A key becomes 48 bits of its SHA-256 (a safe integer; two keys of one device
 * colliding within the dedupe window is a 2^-48 chance); an MQTT message keeps its packet id (0 for QoS 0).
 */
export function seqOf(delivery: BridgeDelivery): number {
  if (delivery.kind === 'mqtt') return delivery.packetId ?? 0;
  return createHash('sha256').update(delivery.key, 'utf8').digest().readUIntBE(0, 6);
}

/**
 * The ingest matches a recorded event (same device, seq and payload, within the window) when the new copy is flagged
 * DUP, or came on the same session. A key is stable by definition: every copy counts as DUP. An MQTT copy counts as
 * DUP only when it says so, and a copy without DUP carries no session, so it never matches (see BridgeDelivery).
 */
function deliveryMeta(bridgeId: string, delivery: BridgeDelivery): Pick<IngestMeta, 'session' | 'dup'> {
  if (delivery.kind === 'key') return { session: `bridge:${bridgeId}`, dup: true };
  return delivery.dup ? { session: delivery.session, dup: true } : {};
}

function definedOnly(t: BridgedTelemetry | undefined): BridgedTelemetry | null {
  if (!t) return null;
  const out: BridgedTelemetry = {};
  if (t.battery !== undefined) out.battery = t.battery;
  if (t.rssi !== undefined) out.rssi = t.rssi;
  if (t.linkquality !== undefined) out.linkquality = t.linkquality;
  if (t.snr !== undefined) out.snr = t.snr;
  return Object.keys(out).length > 0 ? out : null;
}

function excerpt(payload: Buffer | string): string {
  const text = typeof payload === 'string' ? payload : payload.subarray(0, EXCERPT_CHARS * 4).toString('utf8');
  return text.slice(0, EXCERPT_CHARS);
}
