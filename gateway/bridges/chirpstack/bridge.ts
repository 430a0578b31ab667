// The ChirpStack v4 bridge: subscribes to an application's device events on ChirpStack's broker, turns them into bridged signals, and sends device commands down as downlinks.
import type { Logger } from '../../core/logger.js';
import type { Device, Rejection } from '../../core/types.js';
import type { ChirpstackBridge as ChirpstackBridgeConfig } from '../../core/bridges.js';
import type { DeviceCommand } from '../../../devices/commands.js';
import type { Clock } from '../../core/clock.js';
import { ExternalBrokerClient, type Backoff, type ExternalBrokerState, type ExternalMessageMeta } from '../external-broker.js';
import type { BridgedEvent, BridgedTelemetry, BridgeMessage } from '../sink.js';
import {
  bestReception,
  chirpstackTopics,
  downlinkTopic,
  parseEvent,
  parseTopic,
  type ChirpstackJoin,
  type ChirpstackStatus,
  type ChirpstackUplink,
} from './events.js';
import { decodeUplink, loraModel } from './models.js';

/** What the bridge needs of the shared bridge sink, and of the ingest for what it cannot turn into a signal. */
export interface ChirpstackSink {
  device(bridgeId: string, externalId: string, source: string, payload?: Buffer | string): Promise<Device | null>;
  accept(device: Device, msg: BridgeMessage): Promise<void>;
  /** Noted on the device's health record; `alive` when the device itself was heard. */
  rejectBridged(rejection: Omit<Rejection, 'receivedAt'>, alive: boolean): void;
}

export interface ChirpstackBridgeDeps {
  bridge: ChirpstackBridgeConfig;
  sink: ChirpstackSink;
  clock: Clock;
  log: Logger;
  /** Makes the broker client id unique per gateway node (default: one node). */
  nodeId?: string;
  backoff?: Partial<Backoff>;
  /** The link to ChirpStack's broker came up or went down (supervision opens or closes the bridge's outage). */
  onLinkChange?: (state: ExternalBrokerState) => void;
}

const EXCERPT_CHARS = 200;

export class ChirpstackBridgeClient {
  private readonly client: ExternalBrokerClient;
  private readonly counters = { uplinks: 0, statuses: 0, joins: 0, rejected: 0, retainedIgnored: 0, downlinks: 0 };

  constructor(private readonly deps: ChirpstackBridgeDeps) {
    const b = deps.bridge;
    this.client = new ExternalBrokerClient({
      bridgeId: b.id,
      url: b.url,
      ...(b.username !== undefined ? { username: b.username } : {}),
      ...(b.password !== undefined ? { password: b.password } : {}),
      clientId: `care-gateway-${deps.nodeId ? `${deps.nodeId}-` : ''}${b.id}`,
      topics: chirpstackTopics(b.applicationId),
      onMessage: (topic, payload, meta) => this.onMessage(topic, payload, meta),
      // A device's join, status and uplinks in the order ChirpStack published them; other devices' meanwhile.
      orderKey: (topic) => parseTopic(topic)?.devEui ?? topic,
      ...(deps.onLinkChange ? { onStateChange: deps.onLinkChange } : {}),
      clock: deps.clock,
      log: deps.log,
      ...(deps.backoff ? { backoff: deps.backoff } : {}),
    });
  }

  get bridgeId(): string {
    return this.deps.bridge.id;
  }

  start(): void {
    this.client.start();
  }

  stop(): Promise<void> {
    return this.client.stop();
  }

  /** The link to ChirpStack's broker, for /healthz. */
  link(): ExternalBrokerState {
    return this.client.state();
  }

  stats(): typeof this.counters {
    return { ...this.counters };
  }

  /**
   * Queues the command as a downlink on ChirpStack (delivered at the device's next receive window). Resolves at the
   * broker's PUBACK, or at once when the model cannot show it; rejects while ChirpStack's broker is unreachable.
   */
  async sendCommand(device: Device, command: DeviceCommand): Promise<void> {
    const model = loraModel(device.model);
    const devEui = device.externalId;
    if (!model || !devEui) throw new Error(`device ${device.id}: no LoRaWAN model or DevEUI to send "${command.type}" with`);
    const down = model.downlink(command);
    if ('none' in down) {
      this.deps.log.info(
        { deviceId: device.id, model: model.id, command: command.type, why: down.none },
        'command not sent to a LoRaWAN device that cannot show it',
      );
      return;
    }
    const item = {
      devEui,
      confirmed: down.confirmed,
      fPort: down.fPort,
      ...('data' in down ? { data: down.data.toString('base64') } : { object: down.object }),
    };
    await this.client.publish(downlinkTopic(this.deps.bridge.applicationId, devEui), JSON.stringify(item));
    this.counters.downlinks++;
  }

  /** Resolves when the broker may have its PUBACK: recorded, or rejected and noted; rejects when not recorded. */
  private async onMessage(topic: string, payload: Buffer, meta: ExternalMessageMeta): Promise<void> {
    const b = this.deps.bridge;
    const parsed = parseTopic(topic);
    // Only a DevEUI that is not 16 hex digits gets here unparsed (the subscriptions fix the rest): the sink records
    // it under the bridge as a device it does not know.
    const device = await this.deps.sink.device(b.id, parsed?.devEui ?? topic.split('/')[3] ?? topic, topic, payload);
    if (!device || !parsed) {
      this.counters.rejected++;
      return;
    }
    // ChirpStack never retains events; a retained one is a stale copy someone left on the broker, replayed on every
    // subscribe: acting on it would raise an old alarm again.
    if (meta.retain) {
      this.counters.retainedIgnored++;
      return this.reject(
        device.id,
        topic,
        'invalid_payload',
        'retained message ignored: ChirpStack events are never retained, so this is a stale replay',
        payload,
        false,
      );
    }
    const event = parseEvent(parsed, payload);
    if (!event.ok) return this.reject(device.id, topic, event.reason, event.detail, payload);
    const base = { bridgeId: b.id, source: topic, bytes: payload.length, arrivedHr: meta.arrivedHr, remoteAddress: null };
    switch (event.value.event) {
      case 'up':
        return this.onUplink(device, event.value.body, base, payload);
      case 'status':
        this.counters.statuses++;
        return this.deps.sink.accept(device, statusMessage(event.value.body, base));
      case 'join':
        this.counters.joins++;
        return this.deps.sink.accept(device, joinMessage(event.value.body, base));
    }
  }

  private async onUplink(device: Device, up: ChirpstackUplink, base: MessageBase, payload: Buffer): Promise<void> {
    const model = loraModel(device.model);
    if (!model) return this.reject(device.id, base.source, 'invalid_payload', `unknown LoRaWAN model "${device.model ?? ''}"`, payload);
    const decoded = decodeUplink(model, up);
    if (!decoded.ok) return this.reject(device.id, base.source, 'invalid_payload', `${model.id}: ${decoded.detail}`, payload);
    this.counters.uplinks++;
    const { event, battery } = decoded.reading;
    const fields = { fCnt: up.fCnt ?? 0, deduplicationId: up.deduplicationId, ...(battery !== undefined ? { battery } : {}) };
    // A report with a battery level is a heartbeat carrying it, which is what supervision's battery tasks read.
    const events: BridgedEvent[] = event ? [{ type: event, fields }] : battery !== undefined ? [{ type: 'heartbeat', fields }] : [];
    const rx = bestReception(up.rxInfo);
    const telemetry: BridgedTelemetry = {
      ...(battery !== undefined ? { battery } : {}),
      ...(rx ? { rssi: rx.rssi, ...(rx.snr !== null ? { snr: rx.snr } : {}) } : {}),
    };
    const msg: BridgeMessage = {
      ...base,
      delivery: { kind: 'key', key: up.deduplicationId },
      ...(up.time ? { deviceTime: up.time } : {}),
      events,
      ...(Object.keys(telemetry).length > 0 ? { telemetry } : {}),
      // Any uplink is a sign of life, even an empty one (a LinkCheck, a report the model has nothing to say about).
      ...(events.length === 0 && Object.keys(telemetry).length === 0 ? { state: 'online' as const } : {}),
    };
    return this.deps.sink.accept(device, msg);
  }

  /** Acknowledged (so the broker does not resend it forever) and noted on the device's health record. */
  private reject(deviceId: string, topic: string, reason: Rejection['reason'], detail: string, payload: Buffer, alive = true): void {
    this.counters.rejected++;
    this.deps.sink.rejectBridged(
      {
        deviceId,
        topic,
        reason,
        detail,
        payloadExcerpt: payload
          .subarray(0, EXCERPT_CHARS * 4)
          .toString('utf8')
          .slice(0, EXCERPT_CHARS),
      },
      alive,
    );
  }
}

type MessageBase = Pick<BridgeMessage, 'bridgeId' | 'source' | 'bytes' | 'arrivedHr' | 'remoteAddress'>;

/**
 * A DevStatusAns: the battery as a heartbeat (for the low-battery task) and in the health record. A device on mains
 * power, or one that cannot measure, reports no level: a sign of life only.
 */
function statusMessage(s: ChirpstackStatus, base: MessageBase): BridgeMessage {
  const battery = s.externalPowerSource || s.batteryLevelUnavailable ? undefined : s.batteryLevel;
  const msg: BridgeMessage = { ...base, delivery: { kind: 'key', key: s.deduplicationId }, ...(s.time ? { deviceTime: s.time } : {}) };
  if (battery === undefined) return { ...msg, state: 'online' };
  const level = Math.round(battery);
  return {
    ...msg,
    events: [{ type: 'heartbeat', fields: { battery: level, deduplicationId: s.deduplicationId } }],
    telemetry: { battery: level },
  };
}

/** A (re)join: the device is alive and has a new session (its fCnt restarts, which seq does not depend on). */
function joinMessage(j: ChirpstackJoin, base: MessageBase): BridgeMessage {
  return { ...base, delivery: { kind: 'key', key: j.deduplicationId }, ...(j.time ? { deviceTime: j.time } : {}), state: 'online' };
}
