// A bridge's client to an external MQTT broker (ChirpStack's Mosquitto, a remote zigbee2mqtt): persistent QoS 1 session, PUBACK only after the durable record, reconnects with backoff.
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { InOrderAcks, pubackPacket } from './in-order-acks.js';

/** What the handler learns of one PUBLISH besides its topic and payload. */
export interface ExternalMessageMeta {
  /** The broker marked it DUP: it may have been delivered before (e.g. sent again after a reconnect). */
  dup: boolean;
  /** A retained message replayed on subscribe, not a fresh one. */
  retain: boolean;
  /** performance.now() when the PUBLISH reached this client, for end-to-end latency. */
  arrivedHr: number;
  /** The packet id of a QoS 1/2 PUBLISH: a resend after a reconnect carries the same one, with DUP. */
  messageId?: number;
}

/**
 * Handles one message. Resolves when the broker may be told it was received (the event is durably recorded, or the
 * message was rejected and noted so it is not resent forever); rejects when it could not be recorded, and then
 * no PUBACK is sent. Messages of different order keys (ExternalBrokerDeps.orderKey) are handled concurrently, so
 * their records share group commits; those of one key one at a time, in arrival order.
 */
export type ExternalMessageHandler = (topic: string, payload: Buffer, meta: ExternalMessageMeta) => Promise<void>;

export interface ExternalBrokerState {
  bridgeId: string;
  /** The broker's URL without credentials. */
  url: string;
  connected: boolean;
  /** Since when `connected` has had its current value (null before the first attempt ended). */
  since: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** Connections made since start (1 after the first); more means the link was lost and came back. */
  connections: number;
  /** Messages whose record failed since start: each was left unacknowledged for the broker to send again. */
  recordFailures: number;
  /** The MQTT version in use: 5, or 3.1.1 after the broker refused 5 (an older Mosquitto, aedes). */
  protocol: '5' | '3.1.1';
}

export interface Backoff {
  /** First delay after a lost connection or a failed record (default 500 ms). */
  minMs: number;
  /** Largest delay (default 30 s). */
  maxMs: number;
}

export interface ExternalBrokerDeps {
  bridgeId: string;
  url: string;
  username?: string;
  password?: string;
  /** Stable across restarts, so the broker keeps the session and its queued messages while the gateway is away. */
  clientId: string;
  /** Subscribed at QoS 1 on every connection (a kept session has them already; subscribing again is harmless). */
  topics: string[];
  onMessage: ExternalMessageHandler;
  /**
   * Messages with the same key are handled one at a time, in arrival order (default: the topic). A bridge gives the
   * device its topic names, so that one device's messages never overtake each other while other devices' go on.
   */
  orderKey?: (topic: string) => string;
  /** Called on every connect and disconnect, after the state changed. */
  onStateChange?: (state: ExternalBrokerState) => void;
  clock: Clock;
  log: Logger;
  backoff?: Partial<Backoff>;
  keepaliveSeconds?: number;
}

/** A week: the broker keeps what arrives while the gateway is down for that long (then it is an outage long past). */
const SESSION_EXPIRY_S = 7 * 24 * 3600;
const DEFAULT_BACKOFF: Backoff = { minMs: 500, maxMs: 30_000 };
/** Below the keepalive of ChirpStack's own client (30 s): a dead broker is noticed within about a minute. */
const DEFAULT_KEEPALIVE_S = 30;
/**
 * What the handler of a QoS 1 PUBLISH calls mqtt.js back with: an error makes mqtt.js send no PUBACK and go on to the
 * next packet at once; ours follows from InOrderAcks once the message is recorded.
 */
const PUBACK_DEFERRED = new Error('PUBACK deferred until the message is recorded');

/** A message whose order key's previous message was not recorded: not handled, so that it cannot overtake that one. */
class BehindFailedRecord extends Error {}

export class ExternalBrokerClient {
  private client: MqttClient | null = null;
  private stopped = true;
  /** A real timer, like the recording guard's: reconnecting is no part of domain time, which a test's clock may hold still. */
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  /** Set when a record failed on the current connection: the rest of it is not acknowledged either (see onPublish). */
  private poisoned = false;
  /** Per order key, the last message handed to the handler: the next one of that key starts when it has settled. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly current: ExternalBrokerState;
  private readonly backoff: Backoff;

  constructor(private readonly deps: ExternalBrokerDeps) {
    this.backoff = { ...DEFAULT_BACKOFF, ...deps.backoff };
    this.current = {
      bridgeId: deps.bridgeId,
      url: redactUrl(deps.url),
      connected: false,
      since: null,
      lastError: null,
      lastErrorAt: null,
      connections: 0,
      recordFailures: 0,
      protocol: '5',
    };
  }

  /** Starts connecting in the background: an unreachable broker is reported in state() and retried, never awaited. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Ends the connection; the broker keeps the session and queues what arrives meanwhile. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true).catch(() => undefined);
    this.tails.clear();
    this.setConnected(false);
  }

  state(): ExternalBrokerState {
    return { ...this.current };
  }

  /** Publishes at QoS 1; resolves at the broker's PUBACK. Fails at once while disconnected (the caller decides what to keep). */
  async publish(topic: string, payload: string | Buffer): Promise<void> {
    const client = this.client;
    if (!client || !this.current.connected)
      throw new Error(`bridge ${this.deps.bridgeId}: external broker ${this.current.url} not connected`);
    await client.publishAsync(topic, payload, { qos: 1, retain: false });
  }

  private connect(): void {
    if (this.stopped) return;
    const v5 = this.current.protocol === '5';
    // A v5 CONNECT refused for its version is no lost link: the next attempt, with 3.1.1, is the real first one.
    let versionRefused = false;
    const client = mqtt.connect(this.deps.url, {
      clientId: this.deps.clientId,
      ...(this.deps.username !== undefined ? { username: this.deps.username } : {}),
      ...(this.deps.password !== undefined ? { password: this.deps.password } : {}),
      // Clean Start off and a session that outlives the connection [MQTT-3.1.2-23]: the broker keeps the
      // subscriptions and queues QoS 1 messages while the gateway is away (restart, network cut). On 3.1.1 the
      // session has no expiry to ask for: the broker keeps it (Clean Session 0) until its own limit.
      ...(v5 ? { protocolVersion: 5 as const, properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : { protocolVersion: 4 as const }),
      clean: false,
      keepalive: this.deps.keepaliveSeconds ?? DEFAULT_KEEPALIVE_S,
      // Reconnects are ours (with backoff); mqtt.js' fixed period would hammer a broker that refuses us.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      resubscribe: false,
    });
    // Nagle's algorithm would hold a PUBACK (4 bytes) or a downlink written while an earlier small write is still
    // unacknowledged, until the broker's delayed ACK (40 ms and more on Linux): mosquitto has nothing to answer a PUBACK with.
    if (client.stream instanceof Socket) client.stream.setNoDelay(true);
    // mqtt.js would parse the next PUBLISH only once the handler of this one has called back, which sends its PUBACK:
    // each message would wait for the previous one's disk sync. The handler calls back at once instead (with an error
    // for QoS 1, so mqtt.js sends no PUBACK), and the PUBACKs follow from `acks`, in order, after each record.
    const acks = new InOrderAcks({ send: (messageId) => this.sendPuback(client, messageId) });
    client.handleMessage = (packet, callback) => this.onPublish(client, acks, packet, callback);
    this.client = client;
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      // After a failed record the delay keeps growing until a record succeeds: reconnecting cures a lost link, not a full disk.
      if (!this.poisoned) this.attempt = 0;
      this.poisoned = false;
      this.current.connections++;
      this.deps.log.info(
        { bridge: this.deps.bridgeId, url: this.current.url, sessionPresent: connack.sessionPresent },
        'bridge connected to its external broker',
      );
      this.setConnected(true);
      client.subscribeAsync(this.deps.topics, { qos: 1 }).then(
        (granted) => {
          const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length > 0) this.fail(client, `subscription refused by the broker (ACL?): ${refused.join(', ')}`);
        },
        (err: unknown) => this.fail(client, `subscribe failed: ${errorMessage(err)}`),
      );
    });
    client.on('error', (err) => {
      if (this.client !== client) return;
      if (v5 && refusesProtocol(err)) {
        versionRefused = true;
        return this.downgrade();
      }
      this.noteError(err.message);
    });
    client.on('close', () => {
      // What is still unacknowledged stays with the broker, which sends it again on the next connection.
      acks.stop();
      if (this.client !== client) return;
      if (versionRefused && !this.stopped) {
        // Straight back with 3.1.1: this attempt learnt the broker's version; it says nothing about the link.
        this.client = null;
        client.end(true, () => this.connect());
        return;
      }
      if (this.current.connected)
        this.deps.log.warn({ bridge: this.deps.bridgeId, url: this.current.url }, 'bridge lost its external broker');
      this.setConnected(false);
      this.scheduleReconnect(client);
    });
  }

  /**
   * mqtt.js hands each PUBLISH here, in arrival order, before it would send the PUBACK. A QoS 1 message is acknowledged
   * by `acks` once it is recorded and every earlier one has been; a failed record gets no PUBACK at all (a PUBACK with
   * an error reason code would end the broker's delivery just the same), nor does anything after it. After a failure
   * the rest of the connection is refused too and the connection is closed (after the backoff), because a broker
   * resends unacknowledged messages only on a new connection [MQTT-4.4.0-1].
   */
  private onPublish(client: MqttClient, acks: InOrderAcks, packet: IPublishPacket, done: (error?: Error) => void): void {
    const topic = packet.topic;
    const message = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const meta: ExternalMessageMeta = {
      dup: packet.dup === true,
      retain: packet.retain === true,
      arrivedHr: performance.now(),
      ...(packet.qos > 0 && packet.messageId !== undefined ? { messageId: packet.messageId } : {}),
    };
    if (this.poisoned) {
      done(new Error('an earlier record failed on this connection; left for the broker to send again'));
      return;
    }
    const recorded = this.handleInOrder(topic, message, meta);
    recorded.then(
      () => {
        this.attempt = 0;
      },
      (err: unknown) => this.recordFailed(client, topic, err),
    );
    if (packet.qos === 2) {
      // Never subscribed to (the broker sends at most the subscription's QoS 1); mqtt.js' own PUBREC/PUBCOMP flow
      // then acknowledges after the record, one message at a time.
      recorded.then(
        () => done(),
        (err: unknown) => done(err instanceof Error ? err : new Error(errorMessage(err))),
      );
      return;
    }
    acks.track(packet.qos === 1 ? packet.messageId : undefined, recorded);
    done(packet.qos === 1 ? PUBACK_DEFERRED : undefined);
  }

  /** Starts the handler for this message now, or after the previous message of its order key has settled. */
  private handleInOrder(topic: string, payload: Buffer, meta: ExternalMessageMeta): Promise<void> {
    const start = (): Promise<void> => {
      try {
        return this.deps.onMessage(topic, payload, meta);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(errorMessage(err)));
      }
    };
    const key = this.deps.orderKey?.(topic) ?? topic;
    const previous = this.tails.get(key);
    const run = previous
      ? previous.then(start, () => {
          throw new BehindFailedRecord(`an earlier message of ${key} was not recorded`);
        })
      : start();
    this.tails.set(key, run);
    const forget = (): void => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  private recordFailed(client: MqttClient, topic: string, err: unknown): void {
    // A record of a connection already gone (records outlive it): the broker sends its messages again anyway, and the
    // current connection must not be refused for it, since nothing would then reconnect it.
    if (this.client === client) this.poisoned = true;
    // Only the message that failed counts; those of its order key behind it were left to the broker unhandled.
    if (!(err instanceof BehindFailedRecord)) {
      this.current.recordFailures++;
      this.deps.log.error({ bridge: this.deps.bridgeId, topic, err: errorMessage(err) }, 'bridged message not recorded; no PUBACK');
      this.noteError(`record failed, not acknowledged (the broker will send it again): ${errorMessage(err)}`);
    }
    this.scheduleReconnect(client);
  }

  /** Writes a PUBACK on `client`'s connection while it is the current one; after that the broker sends the message again. */
  private sendPuback(client: MqttClient, messageId: number): void {
    if (this.client !== client || !client.connected || client.stream.destroyed) return;
    client.stream.write(pubackPacket(messageId));
  }

  /**
   * The broker speaks only MQTT 3.1.1 (Mosquitto before 1.6, aedes) and refused the v5 CONNECT: the next attempt (at
   * once, when the broker has closed this connection) uses 3.1.1, which keeps every guarantee that matters
   * here (a persistent session, PUBACK only after the record). It stays on 3.1.1 until the gateway restarts.
   */
  private downgrade(): void {
    this.current.protocol = '3.1.1';
    this.deps.log.warn({ bridge: this.deps.bridgeId, url: this.current.url }, 'external broker refused MQTT 5: using MQTT 3.1.1 with it');
  }

  private fail(client: MqttClient, reason: string): void {
    this.noteError(reason);
    this.deps.log.error({ bridge: this.deps.bridgeId, url: this.current.url, reason }, 'external broker problem');
    this.scheduleReconnect(client);
  }

  /** Closes `client` (if still open) and connects again after the next backoff delay; once per lost connection. */
  private scheduleReconnect(client: MqttClient): void {
    if (this.stopped || this.client !== client || this.retryTimer) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** this.attempt);
    // Up to a fifth shorter, so that many gateways cut off together do not come back in step.
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.2));
    this.attempt = Math.min(this.attempt + 1, 30);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stopped || this.client !== client) return;
      this.client = null;
      this.setConnected(false);
      client.end(true, () => this.connect());
    }, jittered);
    this.retryTimer.unref();
  }

  private noteError(message: string): void {
    this.current.lastError = message;
    this.current.lastErrorAt = this.deps.clock.now();
  }

  private setConnected(connected: boolean): void {
    if (this.current.connected === connected && this.current.since !== null) return;
    this.current.connected = connected;
    this.current.since = this.deps.clock.now();
    this.deps.onStateChange?.(this.state());
  }
}

/** A CONNACK refusing the protocol version: 1 from a 3.1.1 broker, 0x84 (Unsupported Protocol Version) from a v5 one. */
function refusesProtocol(err: Error): boolean {
  const code = 'code' in err ? err.code : undefined;
  return code === 1 || code === 0x84;
}

/** The URL as safe to show in /healthz and logs: no user or password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}
