// One simulated fixture over MQTT, speaking the device protocol: its own credentials, a will, its seq counter and battery, and ways to misbehave on purpose.
import mqtt, { type MqttClient } from 'mqtt';
import type { EventType } from '../../gateway/core/types.js';
import type { SimDeviceSpec } from '../common/registry.js';
import type { FleetStats, SentKind } from './stats.js';

export type BadInput = 'malformed_json' | 'unknown_type' | 'oversized' | 'spoofed_topic' | 'wrong_secret';
export const BAD_INPUTS: readonly BadInput[] = ['malformed_json', 'unknown_type', 'oversized', 'spoofed_topic', 'wrong_secret'];

export interface SimDeviceDeps {
  url: string;
  spec: SimDeviceSpec;
  stats: FleetStats;
  /** Battery at start, 0-100. */
  battery: number;
  /** Pause before reconnecting after the gateway closed the connection; 0 = never reconnect. */
  reconnectMs: number;
  /** A QoS 1 publish not acknowledged by then counts as an error (the promise rejects). */
  ackTimeoutMs: number;
  keepaliveSeconds?: number;
}

const topic = (id: string, channel: string): string => `care/v1/${id}/${channel}`;

export class SimDevice {
  battery: number;
  private client: MqttClient | null = null;
  private seq = 0;
  private state: 'idle' | 'online' | 'dropped' | 'stopped' = 'idle';
  // Whether this device is counted in the stats' "connected" right now.
  private up = false;

  constructor(private readonly deps: SimDeviceDeps) {
    this.battery = deps.battery;
  }

  get id(): string {
    return this.deps.spec.id;
  }

  get spec(): SimDeviceSpec {
    return this.deps.spec;
  }

  /** Connected now (not cut, not stopped, socket up). */
  get online(): boolean {
    return this.state === 'online' && this.client?.connected === true;
  }

  get dropped(): boolean {
    return this.state === 'dropped';
  }

  /** Connects with client id = username = device id and its secret, then says `online` (retained). */
  async start(): Promise<void> {
    const { spec, stats } = this.deps;
    const client = await mqtt.connectAsync(
      this.deps.url,
      {
        clientId: spec.id,
        username: spec.id,
        password: spec.secret,
        protocolVersion: 4,
        clean: true,
        keepalive: this.deps.keepaliveSeconds ?? 60,
        reconnectPeriod: this.deps.reconnectMs,
        connectTimeout: 30_000,
        queueQoSZero: false,
        will: { topic: topic(spec.id, 'status'), payload: Buffer.from('offline'), qos: 1, retain: true },
      },
      false,
    );
    this.client = client;
    this.state = 'online';
    this.markUp(false);
    client.on('connect', () => {
      this.markUp(true);
      void this.sayOnline();
    });
    client.on('close', () => this.markDown());
    client.on('offline', () => undefined);
    client.on('error', (err) => stats.error(`${spec.id}: ${err.message}`));
    client.on('message', () => stats.command());
    await client.subscribeAsync(topic(spec.id, 'command'), { qos: 1 });
    await this.sayOnline();
  }

  /** Publishes an event with the next seq and the device's clock; resolves once the gateway acknowledged it. */
  async event(type: EventType, extra: Record<string, unknown> = {}): Promise<void> {
    this.seq++;
    const payload = JSON.stringify({ type, seq: this.seq, ts: new Date().toISOString(), ...extra });
    await this.publish('event', payload, 1, type);
  }

  /** Telemetry at QoS 0: battery and signal; it also counts as a heartbeat. */
  async telemetry(rssi: number): Promise<void> {
    await this.publish('telemetry', JSON.stringify({ battery: Math.round(this.battery), rssi }), 0, 'telemetry');
  }

  /** Sends one kind of bad input. Resolves when the gateway reacted as the contract says, rejects when it did not. */
  async misbehave(kind: BadInput, other: SimDeviceSpec | null): Promise<void> {
    switch (kind) {
      case 'malformed_json':
        this.seq++;
        return this.publish('event', `{"type":"sos","seq":${this.seq},`, 1, 'bad_input');
      case 'unknown_type':
        this.seq++;
        return this.publish('event', JSON.stringify({ type: 'self_destruct', seq: this.seq }), 1, 'bad_input');
      case 'oversized':
        this.seq++;
        return this.publish('event', JSON.stringify({ type: 'heartbeat', seq: this.seq, padding: 'x'.repeat(20 * 1024) }), 1, 'bad_input');
      case 'spoofed_topic':
        return this.spoof(other);
      case 'wrong_secret':
        return this.wrongSecret();
      default: {
        const never: never = kind;
        throw new Error(`unknown bad input ${String(never)}`);
      }
    }
  }

  /** Power gone: the socket is destroyed without DISCONNECT, so the broker publishes the will. No reconnect. */
  drop(): void {
    if (this.state !== 'online' || !this.client) return;
    this.state = 'dropped';
    this.markDown();
    this.deps.stats.dropped();
    this.client.end(true);
  }

  /** Power back: a fresh connection, as the fixture boots again. */
  async restore(): Promise<void> {
    if (this.state !== 'dropped') return;
    this.state = 'idle';
    await this.start();
  }

  /** A clean goodbye: `offline` (retained), then DISCONNECT, so no will is needed. */
  async stop(): Promise<void> {
    const client = this.client;
    const wasOnline = this.state === 'online';
    this.state = 'stopped';
    this.markDown();
    if (!client) return;
    if (wasOnline && client.connected) {
      await withTimeout(client.publishAsync(topic(this.id, 'status'), 'offline', { qos: 1, retain: true }), 2000).catch(() => undefined);
    }
    await withTimeout(client.endAsync(!client.connected), 2000).catch(() => client.end(true));
  }

  private markUp(again: boolean): void {
    if (this.up) return;
    this.up = true;
    this.deps.stats.connected(again);
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.deps.stats.disconnected();
  }

  private async sayOnline(): Promise<void> {
    await this.publish('status', 'online', 1, 'status', true).catch(() => undefined);
  }

  private async publish(channel: string, payload: string, qos: 0 | 1, kind: SentKind, retain = false): Promise<void> {
    const client = this.client;
    if (!client || this.state !== 'online') throw new Error(`${this.id} is not connected`);
    const { stats } = this.deps;
    stats.sent(kind);
    try {
      await withTimeout(client.publishAsync(topic(this.id, channel), payload, { qos, retain }), this.deps.ackTimeoutMs);
      if (qos === 1) stats.acked();
    } catch (err) {
      const message = `${this.id}: ${kind} on ${channel} not acknowledged: ${err instanceof Error ? err.message : String(err)}`;
      stats.error(message);
      throw new Error(message, { cause: err });
    }
  }

  /**
   * Publishes under another device's topic. QoS 0 on purpose: the gateway refuses by closing the connection
   * without PUBACK, and a QoS 1 packet would sit in the outgoing store and be resent on every reconnect.
   */
  private async spoof(other: SimDeviceSpec | null): Promise<void> {
    const client = this.client;
    if (!client || this.state !== 'online') throw new Error(`${this.id} is not connected`);
    const victim = other?.id ?? `${this.id}-twin`;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    this.deps.stats.sent('bad_input');
    client.publish(topic(victim, 'event'), JSON.stringify({ type: 'sos', seq: 1 }), { qos: 0 });
    try {
      await withTimeout(closed, this.deps.ackTimeoutMs);
      this.deps.stats.refusedAsExpected();
    } catch {
      this.deps.stats.error(`${this.id}: spoofed publish to ${victim} was not refused (connection still open)`);
      throw new Error(`${this.id}: spoofed publish to ${victim} was not refused`);
    }
  }

  /** A second client logs in as this device with a wrong secret; the gateway must refuse the CONNECT. */
  private async wrongSecret(): Promise<void> {
    const { spec, stats } = this.deps;
    stats.sent('bad_input');
    let impostor: MqttClient | null = null;
    try {
      impostor = await mqtt.connectAsync(
        this.deps.url,
        {
          clientId: spec.id,
          username: spec.id,
          password: `${spec.secret}-wrong`,
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        },
        false,
      );
    } catch {
      stats.refusedAsExpected();
      return;
    }
    await impostor.endAsync(true).catch(() => undefined);
    stats.error(`${spec.id}: a wrong secret was accepted`);
    throw new Error(`${spec.id}: a wrong secret was accepted`);
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
