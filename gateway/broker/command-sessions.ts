// Tells the bus when a device's command subscription is in place on a new connection, so its incident state can be re-sent.
import type { Aedes, Client } from 'aedes';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Device } from '../core/types.js';
import type { IngestEvents } from '../ingest/events.js';
import { commandTopic } from '../../devices/topics.js';

export interface CommandSessionDeps {
  bus: EventBus<IngestEvents>;
  clock: Clock;
  /** The device an authenticated, current session belongs to; null for bridges, strangers and replaced sessions. */
  deviceOf(client: Client): Device | null;
}

/** SUBACK code of a refused subscription [MQTT-3.9.3]. */
const REFUSED = 128;

/**
 * Listens on aedes' events, which come after the packets are written (SUBACK, CONNACK and the queued messages), never in
 * its hooks: whoever acts on `deviceSessionStarted` cannot delay a device's sign-in or subscription.
 */
export function watchCommandSessions(broker: Aedes, deps: CommandSessionDeps): void {
  const told = new WeakSet<Client>();
  const restored = new WeakSet<Client>();
  const started = (client: Client, device: Device): void => {
    // Once per connection: a device that restores its session and subscribes again is told once.
    if (told.has(client)) return;
    told.add(client);
    deps.bus.emit('deviceSessionStarted', { deviceId: device.id, residentId: device.resident, at: deps.clock.now() });
  };
  // Only a granted subscription to the device's own command topic counts; one refused (0x80) starts nothing.
  broker.on('subscribe', (subs, client) => {
    const device = deps.deviceOf(client);
    if (!device) return;
    const topic = commandTopic(device.id);
    const granted = (s: { topic: string; qos: number }): boolean => s.topic === topic && s.qos !== REFUSED;
    if (subs.some(granted)) started(client, device);
  });
  // A persistent session found in the broker's store: the device does not subscribe again (its only permitted
  // subscription is its command topic, restored through the same ACL), so the session start is its CONNACK.
  broker.on('connackSent', (connack, client) => {
    if (connack.sessionPresent === true && connack.returnCode === 0) restored.add(client);
  });
  broker.on('clientReady', (client) => {
    if (!restored.has(client)) return;
    const device = deps.deviceOf(client);
    if (device) started(client, device);
  });
}
