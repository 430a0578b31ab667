// The cluster broker's message emitter: device uplinks, which nobody anywhere may subscribe to, stay in this process; everything else crosses Redis through mqemitter-redis.
import { EventEmitter } from 'node:events';
import { DEVICE_CHANNELS, TOPIC_ROOT } from '../../devices/topics.js';

/** A message as aedes hands it to its emitter. */
export interface EmittedMessage {
  topic: string;
  [key: string]: unknown;
}

export type EmitterListener = (message: EmittedMessage, done: () => void) => void;

/** The part of mqemitter that aedes calls (aedes.js: on, removeListener, emit, close). */
export interface MessageEmitter {
  on(topic: string, listener: EmitterListener, done?: () => void): unknown;
  removeListener(topic: string, listener: EmitterListener, done?: () => void): unknown;
  emit(message: EmittedMessage, done?: (err?: Error) => void): unknown;
  close(done: () => void): unknown;
}

/** mqemitter-redis: its `emit` publishes to Redis; `_emit` is mqemitter's own, which delivers to this process's listeners. */
interface RedisEmitter extends MessageEmitter {
  state: EventEmitter;
  _emit(message: EmittedMessage, done?: (err?: Error) => void): unknown;
}

const UPLINK_SUFFIXES = DEVICE_CHANNELS.map((c) => `/${c}`);
const ROOT = `${TOPIC_ROOT}/`;

/**
 * Whether a topic is a device uplink (`care/v1/<deviceId>/event|telemetry|status`). No client may subscribe to one:
 * a device only to its own `…/command`, a bridge only under its own base topic, which is never under `care/`
 * (broker.ts authorizeSubscribe, registry schema). A topic under `care/v1/` ending in another channel (a device's
 * unknown channel) is not one: it might equal another device's command topic, so it goes through Redis.
 */
export function isDeviceUplink(topic: string): boolean {
  if (!topic.startsWith(ROOT)) return false;
  for (const suffix of UPLINK_SUFFIXES) {
    if (topic.length > ROOT.length + suffix.length && topic.endsWith(suffix)) return true;
  }
  return false;
}

/**
 * Wraps mqemitter-redis so a device uplink is delivered only in this process (to nobody, by the ACL) instead of being
 * published to Redis and decoded by every node: at 2,000 msg/s of telemetry that was one Redis PUBLISH per message
 * and one msgpack decode per message on each node. Subscriptions, and every other topic (`$SYS/…`, which aedes uses
 * for heartbeats and for closing a device's older session on another node; command topics; bridge trees; anything
 * unknown), still go through Redis. Retained statuses and QoS 1 offline queues are the persistence's (Redis), not the
 * emitter's, so they are shared as before.
 */
export class LocalUplinkEmitter implements MessageEmitter {
  private localMessages = 0;

  private constructor(private readonly redis: RedisEmitter) {}

  /** Wraps an mqemitter-redis instance; throws when it lacks what this relies on (an unsupported version). */
  static wrap(redis: unknown): LocalUplinkEmitter {
    if (!isRedisEmitter(redis)) throw new Error('mqemitter-redis has no local _emit: an unsupported version');
    return new LocalUplinkEmitter(redis);
  }

  /** mqemitter-redis' connection events (errors included), which cluster.ts listens to. */
  get state(): EventEmitter {
    return this.redis.state;
  }

  /** Uplinks delivered in this process only, since start. */
  get localCount(): number {
    return this.localMessages;
  }

  on(topic: string, listener: EmitterListener, done?: () => void): this {
    this.redis.on(topic, listener, done);
    return this;
  }

  removeListener(topic: string, listener: EmitterListener, done?: () => void): this {
    this.redis.removeListener(topic, listener, done);
    return this;
  }

  emit(message: EmittedMessage, done?: (err?: Error) => void): this {
    if (isDeviceUplink(message.topic)) {
      this.localMessages++;
      this.redis._emit(message, done);
    } else {
      this.redis.emit(message, done);
    }
    return this;
  }

  close(done: () => void): this {
    this.redis.close(done);
    return this;
  }
}

function isRedisEmitter(value: unknown): value is RedisEmitter {
  if (typeof value !== 'object' || value === null) return false;
  const methods = ['on', 'removeListener', 'emit', 'close', '_emit'];
  return methods.every((m) => typeof Reflect.get(value, m) === 'function') && Reflect.get(value, 'state') instanceof EventEmitter;
}
