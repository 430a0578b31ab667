// zigbee2mqtt: reads a bridge's topic tree (device states, availability, bridge state) and hands what it means to the bridge sink.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Zigbee2mqttBridge } from '../../core/bridges.js';
import type { Device } from '../../core/types.js';
import type { BridgeLevelRepo, BridgeRepo } from '../repo.js';
import type { BridgeDelivery, BridgeSink } from '../sink.js';
import { availabilityOf, decodeZigbee2mqtt } from './decode.js';
import { GENERIC_RULES, rulesFor } from './models.js';

/** Where a lost bridge's devices become one outage (supervision). */
export interface BridgeOutages {
  bridgeLost(bridgeId: string, deviceIds: readonly string[], at: number): Promise<unknown>;
}

export interface Zigbee2mqttAdapterDeps {
  sink: Pick<BridgeSink, 'device' | 'accept' | 'rejectRelayed' | 'lost' | 'tampered'>;
  registry: Pick<BridgeRepo, 'listBridgedDevices'>;
  levels: BridgeLevelRepo;
  outages: BridgeOutages;
  clock: Clock;
  log: Logger;
}

/** One PUBLISH on a zigbee2mqtt bridge's tree, as our broker or an external broker delivered it. */
export interface Zigbee2mqttMessage {
  bridge: Zigbee2mqttBridge;
  topic: string;
  payload: Buffer;
  /**
   * The broker replayed a retained message on (re)subscription: an old state, never a live press. Only an external
   * broker does this to the gateway; on our broker every PUBLISH zigbee2mqtt sends is live, retained or not.
   */
  replay: boolean;
  delivery: BridgeDelivery;
  remoteAddress: string | null;
  arrivedHr: number;
}

export interface Zigbee2mqttStats {
  messages: number;
  replaysIgnored: number;
  bridgeLost: number;
}

/** The part of a topic under the base topic, or null when it is outside the bridge's tree. */
export function topicUnder(baseTopic: string, topic: string): string | null {
  return topic.startsWith(`${baseTopic}/`) && topic.length > baseTopic.length + 1 ? topic.slice(baseTopic.length + 1) : null;
}

export class Zigbee2mqttAdapter {
  private readonly levels = new Map<string, string>();
  /** Per device, the message being handled: edges are decided one message at a time, in arrival order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly counters: Zigbee2mqttStats = { messages: 0, replaysIgnored: 0, bridgeLost: 0 };

  constructor(private readonly deps: Zigbee2mqttAdapterDeps) {}

  /** Loads the remembered levels, so a restart neither raises an alarm for a level already true nor misses a new one. */
  async start(): Promise<void> {
    for (const l of await this.deps.levels.listLevels()) this.levels.set(levelKey(l.deviceId, l.field), l.value);
  }

  stats(): Zigbee2mqttStats {
    return { ...this.counters };
  }

  /**
   * Handles one message of the bridge's tree. Resolves when it may be acknowledged upstream: an alarm once it is
   * durably recorded; anything rejected or ignored at once. Rejects when an event could not be recorded.
   */
  async handle(m: Zigbee2mqttMessage): Promise<void> {
    const rest = topicUnder(m.bridge.baseTopic, m.topic);
    if (rest === null) return;
    this.counters.messages++;
    if (rest === 'bridge/state') return this.bridgeState(m);
    // bridge/info, bridge/devices, bridge/logging, bridge/event...: zigbee2mqtt's own business.
    if (rest.startsWith('bridge/')) return;
    if (rest.endsWith('/availability')) return this.availability(m, rest.slice(0, -'/availability'.length));
    // Commands (…/set, …/get) are for zigbee2mqtt, not from a device.
    const last = rest.slice(rest.lastIndexOf('/') + 1);
    if (last === 'set' || last === 'get' || rest.includes('/set/')) return;
    return this.deviceMessage(m, rest);
  }

  /** The bridge's connection to the broker is gone (its will may say so too): the same as `bridge/state` offline. */
  async connectionLost(bridge: Zigbee2mqttBridge): Promise<void> {
    await this.lose(bridge, 'connection lost');
  }

  private async bridgeState(m: Zigbee2mqttMessage): Promise<void> {
    const state = availabilityOf(m.payload);
    if (state === null) {
      this.deps.log.warn(
        { bridgeId: m.bridge.id, payload: m.payload.toString('utf8').slice(0, 64) },
        'zigbee2mqtt bridge state not understood',
      );
      return;
    }
    // Online: the devices come back one by one, by their own availability or messages.
    if (state === 'online') this.deps.log.info({ bridgeId: m.bridge.id }, 'zigbee2mqtt bridge online');
    else await this.lose(m.bridge, 'bridge/state offline');
  }

  private async lose(bridge: Zigbee2mqttBridge, why: string): Promise<void> {
    const at = this.deps.clock.now();
    const devices = await this.deps.registry.listBridgedDevices(bridge.id);
    this.counters.bridgeLost++;
    this.deps.log.warn({ bridgeId: bridge.id, devices: devices.length, why }, 'zigbee2mqtt bridge lost: its devices cannot raise alarms');
    // The outage first, so that no device of it gets an offline task of its own.
    await this.deps.outages.bridgeLost(
      bridge.id,
      devices.map((d) => d.id),
      at,
    );
    this.deps.sink.lost(devices, at);
  }

  private async availability(m: Zigbee2mqttMessage, name: string): Promise<void> {
    const state = availabilityOf(m.payload);
    const device = await this.deps.sink.device(m.bridge.id, name, m.topic, m.payload);
    if (!device) return;
    if (state === null) {
      this.deps.sink.rejectRelayed(
        device,
        m.topic,
        'invalid_payload',
        'availability: expected {"state":"online"|"offline"} or online/offline',
        m.payload,
        m.remoteAddress,
      );
      return;
    }
    await this.deps.sink.accept(device, {
      bridgeId: m.bridge.id,
      source: m.topic,
      delivery: m.delivery,
      state,
      bytes: m.payload.length,
      remoteAddress: m.remoteAddress,
      arrivedHr: m.arrivedHr,
    });
  }

  private async deviceMessage(m: Zigbee2mqttMessage, name: string): Promise<void> {
    let json: Record<string, unknown> | null = null;
    let problem: string | null = null;
    try {
      const parsed: unknown = JSON.parse(m.payload.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = Object.fromEntries(Object.entries(parsed));
      else problem = 'expected a JSON object';
    } catch (err) {
      problem = err instanceof Error ? err.message : 'not JSON';
    }
    // With include_device_information, zigbee2mqtt names the IEEE address too: a device registered by it is found.
    const info = json?.device;
    const ieee =
      typeof info === 'object' && info !== null && 'ieeeAddr' in info && typeof info.ieeeAddr === 'string' ? info.ieeeAddr : null;
    const device = await this.deps.sink.device(m.bridge.id, ieee ? [name, ieee] : [name], m.topic, m.payload);
    if (!device) return;
    if (!json) {
      this.deps.sink.rejectRelayed(
        device,
        m.topic,
        problem === 'expected a JSON object' ? 'invalid_payload' : 'malformed_json',
        problem ?? 'not JSON',
        m.payload,
        m.remoteAddress,
      );
      return;
    }
    if (m.replay) {
      // A retained state replayed on subscription: acting on its `action` would raise a false alarm, and its levels
      // may be hours old, so neither events nor levels are taken from it.
      this.counters.replaysIgnored++;
      return;
    }
    const body = json;
    await this.serial(device.id, () => this.record(m, device, body));
  }

  private async record(m: Zigbee2mqttMessage, device: Device, json: Record<string, unknown>): Promise<void> {
    let rules = rulesFor(device.model);
    if (!rules) {
      this.deps.log.warn(
        { deviceId: device.id, model: device.model },
        'zigbee2mqtt model not in the mapping table; using the generic mapping',
      );
      rules = GENERIC_RULES;
    }
    const decoded = decodeZigbee2mqtt(json, rules, (field) => this.levels.get(levelKey(device.id, field)));
    await this.deps.sink.accept(device, {
      bridgeId: m.bridge.id,
      source: m.topic,
      delivery: m.delivery,
      events: decoded.events,
      telemetry: decoded.telemetry,
      ...(decoded.deviceTime !== undefined ? { deviceTime: decoded.deviceTime } : {}),
      bytes: m.payload.length,
      remoteAddress: m.remoteAddress,
      arrivedHr: m.arrivedHr,
    });
    // Only once the events are recorded: a level remembered for an event that was not would swallow its edge when
    // zigbee2mqtt sends the message again.
    const at = this.deps.clock.now();
    for (const l of decoded.levels) {
      this.levels.set(levelKey(device.id, l.field), l.value);
      await this.deps.levels.saveLevel({ deviceId: device.id, field: l.field, value: l.value }, at);
    }
    if (decoded.tampered) await this.deps.sink.tampered(device, m.topic);
  }

  private serial(deviceId: string, work: () => Promise<void>): Promise<void> {
    const run = (this.chains.get(deviceId) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => undefined);
    this.chains.set(deviceId, settled);
    void settled.then(() => {
      if (this.chains.get(deviceId) === settled) this.chains.delete(deviceId);
    });
    return run;
  }
}

function levelKey(deviceId: string, field: string): string {
  return `${deviceId}\u0000${field}`;
}
