// A ChirpStack-shaped publisher: LoRaWAN devices' `up`, `status` and `join` events in ChirpStack v4's JSON integration format, published onto its broker, and the downlinks the gateway queues.
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';

export interface ChirpstackPublisherOptions {
  url: string;
  username?: string;
  password?: string;
  applicationId: string;
  applicationName?: string;
  /** Fixed client id (default: random); ChirpStack's own is `chirpstack_<random>`-like and clean. */
  clientId?: string;
  /**
   * Turn Nagle's algorithm off on the publisher's socket. Default false, as ChirpStack v4 ships: its MQTT
   * integration's client (Paho MQTT C) never sets TCP_NODELAY, so an uplink written while its PUBACK of a downlink is
   * still unacknowledged waits for the broker's delayed ACK (see docs/devices.md, "Bridge latency").
   */
  noDelay?: boolean;
}

export interface SimDevice {
  devEui: string;
  name?: string;
  profile?: string;
}

export interface UplinkOptions {
  fPort?: number;
  /** Raw FRMPayload; sent base64 as `data`. */
  bytes?: Buffer;
  /** The codec's output, as ChirpStack adds it when the device profile has a codec. */
  object?: Record<string, unknown>;
  /** Default: the device's next frame counter (it restarts at 0 after a join). */
  fCnt?: number;
  /** Default: a new UUID, as ChirpStack gives every received uplink; pass an old one to publish a copy. */
  deduplicationId?: string;
  /** Per receiving gateway: its RSSI (dBm) and SNR (dB). Default: one gateway at -90 / 7.5. */
  rx?: { gatewayId: string; rssi: number; snr: number }[];
  time?: Date;
  confirmed?: boolean;
}

/** A downlink as the gateway queued it on `…/command/down`. */
export interface QueuedDownlink {
  topic: string;
  devEui: string;
  confirmed: boolean;
  fPort: number;
  data?: string;
  object?: Record<string, unknown>;
}

/** Milesight WS101 uplink bytes (fPort 85): battery `01 75 <pct>`, then a press `FF 2E <1 short | 2 long | 3 double>`. */
export function ws101Bytes(opts: { battery?: number; press?: 1 | 2 | 3 }): Buffer {
  const parts: number[] = [];
  if (opts.battery !== undefined) parts.push(0x01, 0x75, opts.battery);
  if (opts.press !== undefined) parts.push(0xff, 0x2e, opts.press);
  return Buffer.from(parts);
}

export class ChirpstackPublisher {
  private client: MqttClient | null = null;
  private readonly fCnt = new Map<string, number>();
  private readonly downlinkHandlers = new Set<(d: QueuedDownlink) => void>();

  constructor(private readonly opts: ChirpstackPublisherOptions) {}

  async connect(): Promise<void> {
    if (this.client) return;
    const client = await mqtt.connectAsync(this.opts.url, {
      clientId: this.opts.clientId ?? `chirpstack-sim-${randomUUID().slice(0, 8)}`,
      ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
      protocolVersion: 4,
      reconnectPeriod: 250,
      connectTimeout: 5000,
    });
    // On every connection: a reconnect brings a new socket.
    const noDelay = (): void => {
      if (this.opts.noDelay && client.stream instanceof Socket) client.stream.setNoDelay(true);
    };
    noDelay();
    client.on('connect', noDelay);
    client.on('message', (topic, payload) => {
      if (!topic.endsWith('/command/down')) return;
      const body = JSON.parse(payload.toString('utf8')) as Omit<QueuedDownlink, 'topic'>;
      for (const h of this.downlinkHandlers) h({ topic, ...body });
    });
    await client.subscribeAsync(`application/${this.opts.applicationId}/device/+/command/down`, { qos: 1 });
    this.client = client;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync();
  }

  onDownlink(handler: (d: QueuedDownlink) => void): () => void {
    this.downlinkHandlers.add(handler);
    return () => this.downlinkHandlers.delete(handler);
  }

  /** Publishes an `up` event at QoS 1; resolves at the broker's PUBACK with the event's body. */
  async uplink(device: SimDevice, o: UplinkOptions = {}): Promise<Record<string, unknown>> {
    const fCnt = o.fCnt ?? this.fCnt.get(device.devEui) ?? 0;
    this.fCnt.set(device.devEui, fCnt + 1);
    const rx = o.rx ?? [{ gatewayId: '0016c001ff10a235', rssi: -90, snr: 7.5 }];
    const body: Record<string, unknown> = {
      deduplicationId: o.deduplicationId ?? randomUUID(),
      time: (o.time ?? new Date()).toISOString(),
      deviceInfo: this.deviceInfo(device),
      devAddr: '01fa2b3c',
      adr: true,
      dr: 5,
      fCnt,
      fPort: o.fPort ?? 85,
      confirmed: o.confirmed ?? false,
      ...(o.bytes ? { data: o.bytes.toString('base64') } : {}),
      ...(o.object ? { object: o.object } : {}),
      rxInfo: rx.map((r, i) => ({
        gatewayId: r.gatewayId,
        uplinkId: 1000 + i,
        rssi: r.rssi,
        snr: r.snr,
        context: 'AAAAAA==',
        metadata: {},
      })),
      txInfo: { frequency: 868100000, modulation: { lora: { bandwidth: 125000, spreadingFactor: 7, codeRate: 'CR_4_5' } } },
    };
    await this.publish(device, 'up', body);
    return body;
  }

  /** A DevStatusAns as ChirpStack reports it (`batteryLevel` in percent). */
  async status(
    device: SimDevice,
    o: { batteryLevel?: number; externalPowerSource?: boolean; margin?: number } = {},
  ): Promise<Record<string, unknown>> {
    const body: Record<string, unknown> = {
      deduplicationId: randomUUID(),
      time: new Date().toISOString(),
      deviceInfo: this.deviceInfo(device),
      margin: o.margin ?? 10,
      externalPowerSource: o.externalPowerSource ?? false,
      batteryLevelUnavailable: o.batteryLevel === undefined && !o.externalPowerSource,
      ...(o.batteryLevel !== undefined ? { batteryLevel: o.batteryLevel } : {}),
    };
    await this.publish(device, 'status', body);
    return body;
  }

  /** A (re)join: the device's frame counter starts again at 0. */
  async join(device: SimDevice): Promise<Record<string, unknown>> {
    this.fCnt.set(device.devEui, 0);
    const body = {
      deduplicationId: randomUUID(),
      time: new Date().toISOString(),
      deviceInfo: this.deviceInfo(device),
      devAddr: '01fa2b3d',
    };
    await this.publish(device, 'join', body);
    return body;
  }

  /** Publishes any payload on a device's event topic (bad input, a copy of an earlier event). */
  async raw(devEui: string, event: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    const client = this.require();
    await client.publishAsync(`application/${this.opts.applicationId}/device/${devEui}/event/${event}`, payload, {
      qos: 1,
      retain: opts.retain ?? false,
    });
  }

  private async publish(device: SimDevice, event: string, body: Record<string, unknown>): Promise<void> {
    await this.raw(device.devEui, event, JSON.stringify(body));
  }

  private deviceInfo(device: SimDevice): Record<string, unknown> {
    return {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      tenantName: 'ChirpStack',
      applicationId: this.opts.applicationId,
      applicationName: this.opts.applicationName ?? 'care-buttons',
      deviceProfileId: 'f4e9a7c1-2b1d-4f0e-9f5a-1c2d3e4f5a6b',
      deviceProfileName: device.profile ?? 'WS101 SOS',
      deviceName: device.name ?? device.devEui,
      devEui: device.devEui,
      deviceClassEnabled: 'CLASS_A',
      tags: {},
    };
  }

  private require(): MqttClient {
    if (!this.client) throw new Error('ChirpStack publisher not connected');
    return this.client;
  }
}
