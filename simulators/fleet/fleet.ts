// A fleet of simulated fixtures: connects them, keeps them talking (heartbeats, telemetry, motion, alarms, bad input) and cuts their power on request.
import { supportsEvent } from '../../devices/kinds.js';
import type { EventType } from '../../gateway/core/types.js';
import type { Random } from '../common/random.js';
import type { SimDeviceSpec } from '../common/registry.js';
import { SimDevice, type BadInput } from './device.js';
import { SimulatedDay, crossedLowLevel, motionShare } from './rhythm.js';
import type { FleetStats } from './stats.js';

/** What the fleet does on its own; every rate is 0 (off) unless asked for. */
export interface FleetPlan {
  /** Interval of each device's `heartbeat` event; 0 = none. */
  heartbeatMs: number;
  /** Interval of each device's telemetry (battery, RSSI); 0 = none. */
  telemetryMs: number;
  /** Motion events per hour per activity sensor at the busiest time of day; the daily rhythm scales it. */
  motionPerHour: number;
  /** Battery percent lost per hour of real time. */
  drainPerHour: number;
  /** Simulated day runs this many times faster than real time (1440: a day per minute). */
  daySpeed: number;
  /** Simulated local hour at the start; default the real local time. */
  startHour?: number;
  /** SOS presses per second across the fleet. */
  sosPerSecond: number;
  /** Falls per second across the fleet. */
  fallPerSecond: number;
  /** Share (0..1) of alarms followed by a `cancel`. */
  cancelRatio: number;
  /** A cancel comes at a random moment up to this long after its alarm. */
  cancelWithinMs: number;
  /** Bad inputs per second across the fleet, each of a kind drawn from `badKinds`. */
  badPerSecond: number;
  badKinds: readonly BadInput[];
}

export const QUIET_PLAN: FleetPlan = {
  heartbeatMs: 0,
  telemetryMs: 0,
  motionPerHour: 0,
  drainPerHour: 0,
  daySpeed: 1,
  sosPerSecond: 0,
  fallPerSecond: 0,
  cancelRatio: 0,
  cancelWithinMs: 10_000,
  badPerSecond: 0,
  badKinds: [],
};

export interface FleetDeps {
  url: string;
  devices: readonly SimDeviceSpec[];
  plan: FleetPlan;
  random: Random;
  stats: FleetStats;
  timeZone: string;
  /** Handshakes in flight at once while connecting (scrypt on the gateway is the limit). */
  connectConcurrency?: number;
  reconnectMs?: number;
  ackTimeoutMs?: number;
  tickMs?: number;
  now?: () => number;
}

const ACTIVITY_KINDS = new Set(['motion_sensor', 'presence_sensor', 'door_sensor']);

interface Schedule {
  nextHeartbeat: number;
  nextTelemetry: number;
}

export class Fleet {
  private readonly devices = new Map<string, SimDevice>();
  private readonly schedules = new Map<string, Schedule>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private ticker: NodeJS.Timeout | null = null;
  private lastTick = 0;
  private day: SimulatedDay | null = null;

  constructor(private readonly deps: FleetDeps) {}

  private get now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Connects every device (bounded concurrency), then starts the plan's behaviour. Failed logins are counted, not thrown. */
  async start(): Promise<void> {
    const { random, plan } = this.deps;
    for (const spec of this.deps.devices) {
      this.devices.set(
        spec.id,
        new SimDevice({
          url: this.deps.url,
          spec,
          stats: this.deps.stats,
          battery: random.between(60, 100),
          reconnectMs: this.deps.reconnectMs ?? 2000,
          ackTimeoutMs: this.deps.ackTimeoutMs ?? 15_000,
        }),
      );
    }
    const queue = [...this.devices.values()][Symbol.iterator]();
    const connectNext = async (): Promise<void> => {
      for (let next = queue.next(); !next.done; next = queue.next()) {
        const device = next.value;
        await device
          .start()
          .catch((err: unknown) =>
            this.deps.stats.error(`${device.id}: connect failed: ${err instanceof Error ? err.message : String(err)}`),
          );
      }
    };
    const lanes = Math.max(1, Math.min(this.deps.connectConcurrency ?? 50, this.devices.size));
    await Promise.all(Array.from({ length: lanes }, connectNext));

    const now = this.now;
    this.day = new SimulatedDay({
      realStart: now,
      speed: plan.daySpeed,
      timeZone: this.deps.timeZone,
      ...(plan.startHour === undefined ? {} : { startHour: plan.startHour }),
    });
    for (const id of this.devices.keys()) {
      this.schedules.set(id, {
        nextHeartbeat: now + random.next() * plan.heartbeatMs,
        nextTelemetry: now + random.next() * plan.telemetryMs,
      });
    }
    this.lastTick = now;
    const tickMs = this.deps.tickMs ?? 250;
    this.ticker = setInterval(() => this.tick(), tickMs);
  }

  /** Stops the behaviour, waits for messages in flight, and says goodbye cleanly from every device still connected. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
    await Promise.all([...this.devices.values()].map((d) => d.stop()));
  }

  get size(): number {
    return this.devices.size;
  }

  device(id: string): SimDevice | undefined {
    return this.devices.get(id);
  }

  onlineCount(): number {
    return [...this.devices.values()].filter((d) => d.online).length;
  }

  /** Sends one event from one device; resolves when acknowledged. */
  async send(deviceId: string, type: EventType, extra: Record<string, unknown> = {}): Promise<void> {
    const device = this.need(deviceId);
    if (!supportsEvent(device.spec.kind, type)) throw new Error(`${deviceId} is a ${device.spec.kind}, which cannot send "${type}"`);
    await device.event(type, extra);
  }

  /** An alarm, followed by a `cancel` after `cancelAfterMs` when given. */
  async raise(deviceId: string, type: 'sos' | 'fall', cancelAfterMs: number | null = null): Promise<void> {
    await this.send(deviceId, type, type === 'fall' ? { confidence: Number(this.deps.random.between(0.7, 0.99).toFixed(2)) } : {});
    if (cancelAfterMs !== null) this.later(cancelAfterMs, () => this.send(deviceId, 'cancel'));
  }

  /** Every device of the building loses power at once: sockets destroyed, wills fire. Returns how many went down. */
  powerCut(building: string): number {
    const hit = this.inBuilding(building).filter((d) => d.online);
    for (const d of hit) d.drop();
    return hit.length;
  }

  /** Power back in the building: its dropped devices boot and connect again. */
  async powerRestore(building: string): Promise<number> {
    const back = this.inBuilding(building).filter((d) => d.dropped);
    await Promise.all(
      back.map((d) => d.restore().catch((err: unknown) => this.deps.stats.error(`${d.id}: reconnect failed: ${String(err)}`))),
    );
    return back.length;
  }

  /** A battery gives out: `low_battery` at 3 %, then the device goes silent without a goodbye. */
  async dyingBattery(deviceId: string): Promise<void> {
    const device = this.need(deviceId);
    device.battery = 3;
    await device.event('low_battery', { battery: 3 }).catch(() => undefined);
    device.drop();
  }

  /** One bad input from `deviceId` (or a random connected device). */
  async badInput(kind: BadInput, deviceId?: string): Promise<void> {
    const online = [...this.devices.values()].filter((d) => d.online);
    const device = deviceId ? this.need(deviceId) : this.deps.random.pickOrNone(online);
    if (!device) throw new Error('no connected device to send bad input from');
    const other = this.deps.random.pickOrNone(this.deps.devices.filter((d) => d.id !== device.id)) ?? null;
    await device.misbehave(kind, other);
  }

  private need(deviceId: string): SimDevice {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`no device "${deviceId}" in this fleet`);
    return device;
  }

  private inBuilding(building: string): SimDevice[] {
    return [...this.devices.values()].filter((d) => d.spec.building === building);
  }

  /** Fire-and-forget work that stop() still waits for; failures are already counted by the device. */
  private track(work: Promise<unknown>): void {
    const p = work.catch(() => undefined);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.track(fn());
    }, ms);
    this.timers.add(t);
  }

  private tick(): void {
    const { plan, random } = this.deps;
    const now = this.now;
    const dtMs = now - this.lastTick;
    this.lastTick = now;
    const online = [...this.devices.values()].filter((d) => d.online);
    const share = this.day ? motionShare(this.day.hourAt(now)) : 0;
    const motionChance = ((plan.motionPerHour * share) / 3_600_000) * dtMs;
    for (const device of online) {
      const schedule = this.schedules.get(device.id);
      if (!schedule) continue;
      const before = device.battery;
      device.battery = Math.max(0, before - (plan.drainPerHour * dtMs) / 3_600_000);
      const low = crossedLowLevel(before, device.battery);
      if (low !== null) this.track(device.event('low_battery', { battery: Math.round(device.battery) }));
      if (plan.heartbeatMs > 0 && now >= schedule.nextHeartbeat) {
        schedule.nextHeartbeat = now + plan.heartbeatMs;
        this.track(device.event('heartbeat', { battery: Math.round(device.battery) }));
      }
      if (plan.telemetryMs > 0 && now >= schedule.nextTelemetry) {
        schedule.nextTelemetry = now + plan.telemetryMs;
        this.track(device.telemetry(random.int(-95, -55)));
      }
      if (ACTIVITY_KINDS.has(device.spec.kind) && random.chance(motionChance)) this.track(device.event('motion'));
    }
    this.alarms('sos', plan.sosPerSecond, dtMs, online);
    this.alarms('fall', plan.fallPerSecond, dtMs, online);
    for (let n = random.poisson((plan.badPerSecond * dtMs) / 1000); n > 0; n--) {
      const kind = random.pickOrNone(plan.badKinds);
      if (kind) this.track(this.badInput(kind));
    }
  }

  private alarms(type: 'sos' | 'fall', perSecond: number, dtMs: number, online: SimDevice[]): void {
    const { random, plan } = this.deps;
    const able = online.filter((d) => supportsEvent(d.spec.kind, type));
    for (let n = random.poisson((perSecond * dtMs) / 1000); n > 0; n--) {
      const device = random.pickOrNone(able);
      if (!device) return;
      const cancelAfter = random.chance(plan.cancelRatio) ? random.between(500, Math.max(500, plan.cancelWithinMs)) : null;
      this.track(this.raise(device.id, type, cancelAfter));
    }
  }
}
