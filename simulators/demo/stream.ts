// The live demo's slow stream of events over a running fleet: SOS presses, falls (some cancelled), dying batteries and building power cuts.
import type { Random } from '../common/random.js';
import type { SimRegistry } from '../common/registry.js';
import type { Fleet } from '../fleet/fleet.js';

/** How often each kind of event comes, in real milliseconds at speed 1; each gap is jittered by ±30 %. */
export interface StreamTiming {
  sosEveryMs: number;
  fallEveryMs: number;
  /** Share (0..1) of falls the resident cancels before the gateway's fall window closes. */
  fallCancelRatio: number;
  batteryEveryMs: number;
  /** A device whose battery died gets a fresh one (and reconnects) this long after. */
  batteryReplacedAfterMs: number;
  powerCutEveryMs: number;
  powerOutMs: number;
}

export const DEMO_TIMING: StreamTiming = {
  sosEveryMs: 45_000,
  fallEveryMs: 90_000,
  fallCancelRatio: 0.5,
  batteryEveryMs: 300_000,
  batteryReplacedAfterMs: 120_000,
  powerCutEveryMs: 240_000,
  powerOutMs: 60_000,
};

/** Every interval divided by `speed` (a speed of 30 makes the SOS come every 1.5 s). */
export function scaledTiming(t: StreamTiming, speed: number): StreamTiming {
  const s = (ms: number): number => Math.max(50, Math.round(ms / speed));
  return {
    sosEveryMs: s(t.sosEveryMs),
    fallEveryMs: s(t.fallEveryMs),
    fallCancelRatio: t.fallCancelRatio,
    batteryEveryMs: s(t.batteryEveryMs),
    batteryReplacedAfterMs: s(t.batteryReplacedAfterMs),
    powerCutEveryMs: s(t.powerCutEveryMs),
    powerOutMs: s(t.powerOutMs),
  };
}

export interface DemoStreamDeps {
  fleet: Fleet;
  registry: SimRegistry;
  random: Random;
  timing: StreamTiming;
  /** The gateway's fall window: a cancel must come well inside it to count. */
  fallCancelMs: number;
  /** One human-readable line per event. */
  say: (line: string) => void;
}

type Kind = 'sos' | 'fall' | 'battery' | 'power';

export interface StreamCounts {
  sos: number;
  fall: number;
  cancelled: number;
  battery: number;
  power: number;
}

// The first of each kind comes after this share of its interval, so a visitor sees an SOS soon after the start.
const FIRST_AT: Record<Kind, number> = { sos: 0.25, fall: 0.5, battery: 0.8, power: 0.6 };

export class DemoStream {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly residents: Map<string, { name: string; address: string }>;
  private readonly cutBuildings = new Set<string>();
  private running = false;
  private readonly counts: StreamCounts = { sos: 0, fall: 0, cancelled: 0, battery: 0, power: 0 };

  constructor(private readonly deps: DemoStreamDeps) {
    this.residents = new Map(deps.registry.doc.residents.map((r) => [r.id, { name: r.name, address: r.address }]));
  }

  start(): void {
    this.running = true;
    const t = this.deps.timing;
    this.every('sos', t.sosEveryMs, () => this.sos());
    this.every('fall', t.fallEveryMs, () => this.fall());
    this.every('battery', t.batteryEveryMs, () => this.dyingBattery());
    this.every('power', t.powerCutEveryMs, () => this.powerCut());
  }

  /** Stops scheduling, and waits for the events already under way (a power restore due later is dropped). */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
  }

  /** What the stream has done so far. */
  stats(): StreamCounts {
    return { ...this.counts };
  }

  private every(kind: Kind, intervalMs: number, fire: () => Promise<void>): void {
    const schedule = (delay: number): void => {
      this.later(delay, async () => {
        if (!this.running) return;
        schedule(this.jitter(intervalMs));
        await fire();
      });
    };
    schedule(Math.round(intervalMs * FIRST_AT[kind]));
  }

  private jitter(ms: number): number {
    return Math.round(ms * this.deps.random.between(0.7, 1.3));
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const work = fn().catch((err: unknown) => this.deps.say(`stream: ${err instanceof Error ? err.message : String(err)}`));
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
    }, ms);
    this.timers.add(timer);
  }

  private who(residentId: string): string {
    const r = this.residents.get(residentId);
    return r ? `${r.name}, ${r.address}` : residentId;
  }

  /** An online device of one of these kinds, or undefined when none is connected. */
  private pickOnline(kinds: readonly string[]): { id: string; resident: string } | undefined {
    const able = this.deps.registry.devices.filter((d) => kinds.includes(d.kind) && this.deps.fleet.device(d.id)?.online === true);
    return this.deps.random.pickOrNone(able);
  }

  private async sos(): Promise<void> {
    const device = this.pickOnline(['sos_button', 'pull_cord']);
    if (!device) return;
    this.counts.sos++;
    this.deps.say(`SOS      ${device.id} pressed (${this.who(device.resident)})`);
    await this.deps.fleet.raise(device.id, 'sos');
  }

  private async fall(): Promise<void> {
    const device = this.pickOnline(['fall_sensor']);
    if (!device) return;
    this.counts.fall++;
    const cancel = this.deps.random.chance(this.deps.timing.fallCancelRatio);
    // Well inside the window, and never sooner than half a second: a person getting up takes a moment.
    const cancelAfter = cancel ? Math.round(this.deps.random.between(0.2, 0.6) * Math.max(1000, this.deps.fallCancelMs)) : null;
    this.deps.say(
      `FALL     ${device.id} detected a fall (${this.who(device.resident)})${cancel ? `; the resident will cancel it in ${((cancelAfter ?? 0) / 1000).toFixed(1)} s` : ''}`,
    );
    if (cancelAfter !== null) this.counts.cancelled++;
    await this.deps.fleet.raise(device.id, 'fall', cancelAfter);
  }

  private async dyingBattery(): Promise<void> {
    const device = this.pickOnline(['motion_sensor', 'presence_sensor', 'door_sensor', 'sos_button', 'pull_cord', 'fall_sensor']);
    if (!device) return;
    this.counts.battery++;
    this.deps.say(`BATTERY  ${device.id} reports 3 % and goes silent (${this.who(device.resident)})`);
    await this.deps.fleet.dyingBattery(device.id);
    this.later(this.deps.timing.batteryReplacedAfterMs, async () => {
      const sim = this.deps.fleet.device(device.id);
      if (!this.running || !sim?.dropped) return;
      sim.battery = 100;
      await sim.restore();
      this.deps.say(`BATTERY  ${device.id} has a new battery and is back`);
    });
  }

  private async powerCut(): Promise<void> {
    const buildings = this.deps.registry.buildings().filter((b) => b !== '' && !this.cutBuildings.has(b));
    const building = this.deps.random.pickOrNone(buildings);
    if (!building) return;
    const down = this.deps.fleet.powerCut(building);
    if (down === 0) return;
    this.counts.power++;
    this.cutBuildings.add(building);
    this.deps.say(
      `POWER    ${building} loses power: ${down} devices drop off (back in ${Math.round(this.deps.timing.powerOutMs / 1000)} s)`,
    );
    this.later(this.deps.timing.powerOutMs, async () => {
      this.cutBuildings.delete(building);
      if (!this.running) return;
      const back = await this.deps.fleet.powerRestore(building);
      this.deps.say(`POWER    ${building} has power again: ${back} devices reconnecting`);
    });
  }
}
