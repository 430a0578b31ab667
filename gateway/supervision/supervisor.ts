// Device supervision: the offline timeout sweep, never-reported devices, and the device-offline and low-battery care tasks.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { JobRunner } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { DeviceState, Signal } from '../core/types.js';
import type { IngestEvents } from '../ingest/events.js';
import type { Store } from '../storage/ports.js';
import type { DeviceIndex, HealthSource, IndexedDevice } from './device-index.js';
import type { OutageService } from './outages.js';
import type { CareTaskService } from './tasks.js';
import type { SupervisionSettings } from './types.js';
import { offlineAfterOf, parseSupervisionSection, SUPERVISION_SETTING, type OfflineAfterRules } from './offline-after.js';

/** The ingest as supervision uses it: read health, and set a device offline when it fell silent. */
export interface SupervisedHealth extends HealthSource {
  markState(deviceId: string, state: Exclude<DeviceState, 'unknown'>, at: number): void;
  /** Several nodes: takes the others' newer health records from the store; `announce` emits the state changes. */
  refreshFromStore?(announce: boolean): Promise<number>;
}

export interface DeviceSupervisorDeps {
  store: Pick<Store, 'registry'>;
  bus: EventBus<IngestEvents>;
  clock: Clock;
  log: Logger;
  health: SupervisedHealth;
  tasks: CareTaskService;
  outages: OutageService;
  index: DeviceIndex;
  settings: SupervisionSettings;
  /**
   * Given when several nodes share the database: each sweep round runs on one of them, after it has read the others'
   * device health, and re-read the open tasks and outages (`resync`) other nodes may have opened or closed.
   */
  cluster?: { slots: JobRunner; resync(): Promise<void> };
}

/** The offline sweep's job name in the job slots (one slot per sweep interval). */
export const SWEEP_JOB = 'supervision:sweep';

const MIN_SWEEP_MS = 5_000;
/**
 * A safety net only: the gateway emits registryChanged after each import, which reloads at once (reloadRegistry); this
 * catches a registry changed behind the gateway's back. Unknown ids are looked up at once either way.
 */
const INDEX_REFRESH_MS = 10 * 60_000;
const MAX_SWEEP_MS = 60_000;

/**
 * One periodic sweep over all devices rather than a timer per device: with ~600 devices each sending telemetry every
 * minute, per-device deadlines would be cancelled and re-armed ten times a second, while a sweep is one pass over an
 * in-memory map (well under a millisecond for 600) every offlineAfterSeconds/15 (60 s for the default 900 s). A device
 * is thus declared offline at most one sweep interval late (< 7 %). The silence is measured from the device's last
 * message or from this gateway's start, whichever is later: while the gateway was down nobody was listening, so a
 * restart never marks the whole fleet offline at once. For storm grouping a timed-out device counts as dropped at its
 * last message, so devices that died at different times before a restart do not look like one storm when they time out
 * in the same sweep, while a building that went quiet all at once (no wills: a switch that hangs) still groups.
 */
export class DeviceSupervisor {
  private startedAt = 0;
  /** The shortest silence limit of any device: the sweep runs often enough for it. */
  private offlineAfterMs = 0;
  private rules: OfflineAfterRules = { globalSeconds: 0, byKind: {}, bridges: new Map() };
  private readonly firstKnown = new Map<string, number>();
  /** Device-offline tasks waiting out the storm window, so that a storm can absorb them first. */
  private readonly pendingOffline = new Map<string, TimerHandle>();
  /** Devices the sweep just marked offline, with their last message: that, not the sweep, is when they went quiet. */
  private readonly silentSince = new Map<string, number>();
  private sweepTimer: TimerHandle | null = null;
  private indexLoadedAt = 0;
  private running = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** Steps queued on the chain or under way. */
  private queued = 0;

  constructor(private readonly deps: DeviceSupervisorDeps) {}

  async start(): Promise<void> {
    if (this.running) return;
    const { bus, clock, index, health, tasks, outages } = this.deps;
    this.running = true;
    this.startedAt = clock.now();
    await index.reload();
    this.indexLoadedAt = this.startedAt;
    for (const d of index.all()) this.firstKnown.set(d.device.id, this.startedAt);
    await this.refreshSettings();
    bus.on(this, 'deviceStatusChanged', (e) =>
      this.serial(() =>
        e.state === 'offline'
          ? this.onOffline(e.deviceId, e.at)
          : e.state === 'online'
            ? this.onOnline(e.deviceId, e.at)
            : Promise.resolve(),
      ),
    );
    bus.on(this, 'telemetryReceived', (t) => (t.battery === null ? undefined : this.onBatteryReading(t.deviceId, t.battery, t.at)));
    bus.on(this, 'signalReceived', (s) => this.onSignal(s));
    // Offline devices without a task (the gateway stopped inside their storm window) get their wait again.
    for (const d of index.all()) {
      const h = health.healthOf(d.device.id);
      if (
        h?.state === 'offline' &&
        h.lastSeen !== null &&
        !outages.isAbsorbed(d.device.id) &&
        !tasks.isOpen('device_offline', d.resident.id, d.device.id)
      ) {
        this.schedulePending(d, this.startedAt);
      }
    }
    this.armSweep();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.bus.removeAll(this);
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    for (const t of this.pendingOffline.values()) t.cancel();
    this.pendingOffline.clear();
    await this.chain;
  }

  /** Resolves when the work queued so far (event handling, sweeps, due tasks) is done. */
  async idle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain;
      await this.deps.tasks.idle();
      await this.deps.outages.idle();
      if (chain === this.chain) return;
    }
  }

  /**
   * A registry import finished: re-reads devices, residents and places, and offlineAfterSeconds, and re-arms the sweep,
   * whose interval follows the timeout. Queued behind event handling, so no sweep runs half on the old registry.
   */
  reloadRegistry(): Promise<void> {
    return this.serial(async () => {
      const before = this.offlineAfterMs;
      await this.deps.index.reload();
      await this.refreshSettings();
      this.indexLoadedAt = this.deps.clock.now();
      if (this.offlineAfterMs !== before && this.running) {
        this.sweepTimer?.cancel();
        this.armSweep();
      }
      this.deps.log.info(
        { devices: this.deps.index.all().length, offlineAfterSeconds: this.offlineAfterMs / 1000 },
        'supervision reloaded the registry',
      );
    });
  }

  /** The shortest timeout in force (ms), as last read from the registry; offlineAfterFor() gives a device's own. */
  offlineAfter(): number {
    return this.offlineAfterMs;
  }

  /** The device's timeout (ms): its own value, its bridge's, its kind's, its transport's default, else the registry-wide one. */
  offlineAfterFor(device: IndexedDevice['device']): number {
    return offlineAfterOf(device, this.rules).seconds * 1000;
  }

  /**
   * Devices an outage let go of (closed as stale or by hand) while they were still offline: each gets its own
   * device-offline task now. Not queued on this supervisor's chain: it is called from the outage service's queue,
   * which this chain may itself be waiting on.
   */
  async releaseFromOutage(deviceIds: string[], at: number): Promise<void> {
    const { index, health, outages } = this.deps;
    for (const id of deviceIds) {
      const d = index.get(id);
      if (d && health.healthOf(id)?.state === 'offline' && !outages.isAbsorbed(id)) await this.openOfflineTask(d, at);
    }
  }

  /**
   * Marks silent devices offline and opens never-reported tasks; returns how many devices it marked offline. With
   * several nodes, one of them sweeps each interval (the others take the health it writes, quietly, and answer 0):
   * each node only hears its own devices, so before sweeping the node reads what the others heard.
   */
  sweep(): Promise<number> {
    const cluster = this.deps.cluster;
    if (!cluster) return this.serial(() => this.sweepHere());
    return this.serial(async () => {
      const { clock, health } = this.deps;
      const now = clock.now();
      const every = this.sweepEvery();
      const outcome = await cluster.slots.run(
        SWEEP_JOB,
        now - (now % every),
        async () => {
          await cluster.resync();
          await health.refreshFromStore?.(true);
          return this.sweepHere();
        },
        { mode: 'idempotent' },
      );
      if (outcome.ran) return outcome.value;
      await health.refreshFromStore?.(false);
      return 0;
    });
  }

  private async sweepHere(): Promise<number> {
    const { index, health, clock, tasks } = this.deps;
    const now = clock.now();
    // Re-reading the registry costs more than the pass itself (~15 ms against ~1 ms for 600 devices): not every sweep.
    if (now - this.indexLoadedAt >= INDEX_REFRESH_MS) {
      await index.reload();
      await this.refreshSettings();
      this.indexLoadedAt = now;
    }
    let marked = 0;
    for (const d of index.all()) {
      const id = d.device.id;
      const known = this.firstKnown.get(id) ?? now;
      this.firstKnown.set(id, known);
      const h = health.healthOf(id);
      const limit = this.offlineAfterFor(d.device);
      if (h?.lastSeen == null) {
        if (now - known < limit) continue;
        await tasks.open(
          {
            kind: 'never_reported',
            residentId: d.resident.id,
            deviceId: id,
            detail: { deviceKind: d.device.kind, knownSince: new Date(known).toISOString() },
          },
          now,
        );
        if (h?.state !== 'offline') {
          health.markState(id, 'offline', now);
          marked++;
        }
      } else if (h.state !== 'offline' && now - Math.max(h.lastSeen, this.startedAt) >= limit) {
        // Emits deviceStatusChanged, which queues the offline handling behind this sweep.
        this.silentSince.set(id, h.lastSeen);
        health.markState(id, 'offline', now);
        marked++;
      }
    }
    if (marked > 0) this.deps.log.info({ marked }, 'silent devices marked offline');
    return marked;
  }

  private sweepEvery(): number {
    return this.deps.settings.sweepIntervalMs ?? Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, this.offlineAfterMs / 15));
  }

  private armSweep(): void {
    if (!this.running) return;
    const every = this.sweepEvery();
    this.sweepTimer = this.deps.clock.setTimer(every, () => {
      this.armSweep();
      this.sweep().catch((err: unknown) => this.deps.log.error({ err }, 'supervision sweep failed; it runs again next time'));
    });
  }

  private async refreshSettings(): Promise<void> {
    const { registry } = this.deps.store;
    const [escalation, section, bridges] = await Promise.all([
      registry.escalationSettings(),
      registry.getSetting(SUPERVISION_SETTING),
      registry.listBridges(),
    ]);
    this.rules = {
      globalSeconds: escalation.offlineAfterSeconds,
      byKind: parseSupervisionSection(section).offlineAfterSeconds ?? {},
      bridges: new Map(bridges.map((b) => [b.id, b])),
    };
    let shortest = this.rules.globalSeconds * 1000;
    for (const d of this.deps.index.all()) shortest = Math.min(shortest, this.offlineAfterFor(d.device));
    this.offlineAfterMs = shortest;
  }

  private async device(id: string): Promise<IndexedDevice | null> {
    const found = this.deps.index.get(id);
    if (found) return found;
    // Registered since the last sweep (a registry import): look again once.
    await this.deps.index.reload();
    return this.deps.index.get(id);
  }

  private async onOffline(deviceId: string, at: number): Promise<void> {
    const { health, outages, tasks } = this.deps;
    const droppedAt = this.silentSince.get(deviceId) ?? at;
    this.silentSince.delete(deviceId);
    const d = await this.device(deviceId);
    const h = health.healthOf(deviceId);
    // A device that never reported has its own task (never_reported), and cannot be part of a storm.
    if (!d || h?.lastSeen == null || h.state !== 'offline') return;
    const result = await outages.onOffline(d, at, droppedAt);
    for (const id of result.absorbed) {
      this.cancelPending(id);
      const other = this.deps.index.get(id);
      if (other) await tasks.clear('device_offline', other.resident.id, id, 'grouped into an outage', at);
    }
    if (result.grouped) {
      this.cancelPending(deviceId);
      return;
    }
    this.schedulePending(d, at);
  }

  private async onOnline(deviceId: string, at: number): Promise<void> {
    const { tasks, outages, health, clock } = this.deps;
    this.cancelPending(deviceId);
    const d = await this.device(deviceId);
    if (!d) return;
    await tasks.clear('device_offline', d.resident.id, deviceId, 'device back online', at);
    await tasks.clear('never_reported', d.resident.id, deviceId, 'first message received', at);
    // Devices still down when their outage closed are on their own now, and have been down long enough for a task.
    for (const id of await outages.onOnline(d, at)) {
      const other = this.deps.index.get(id);
      if (other && health.healthOf(id)?.state === 'offline') await this.openOfflineTask(other, clock.now());
    }
  }

  private onSignal(s: Signal): Promise<void> | undefined {
    const battery = typeof s.payload.battery === 'number' ? s.payload.battery : null;
    if (s.type === 'low_battery') return this.serial(() => this.onBattery(s.deviceId, battery, s.receivedAt, true));
    if (s.type === 'heartbeat' && battery !== null) return this.serial(() => this.onBattery(s.deviceId, battery, s.receivedAt, false));
    return undefined;
  }

  /**
   * A battery level from telemetry, which every device sends every minute or so: queued only when it can open or close a
   * task. Most readings change nothing, and a queued step per reading was a chain of promises per message.
   */
  private onBatteryReading(deviceId: string, battery: number, at: number): Promise<void> | undefined {
    const { settings, index, tasks } = this.deps;
    const d = battery >= settings.lowBatteryPercent ? index.get(deviceId) : null;
    if (d) {
      if (battery < settings.batteryReplacedPercent) return undefined;
      // A clear must follow any step queued before it (an open among them), so it is skipped only with nothing queued.
      if (this.queued === 0 && tasks.isSettledClear('low_battery', d.resident.id, deviceId)) return undefined;
    }
    return this.serial(() => this.onBattery(deviceId, battery, at, false));
  }

  /** Below lowBatteryPercent (or a `low_battery` event) opens; at batteryReplacedPercent or more closes: the gap stops flapping. */
  private async onBattery(deviceId: string, battery: number | null, at: number, lowEvent: boolean): Promise<void> {
    const { settings, tasks } = this.deps;
    const d = await this.device(deviceId);
    if (!d) return;
    if (lowEvent || (battery !== null && battery < settings.lowBatteryPercent)) {
      await tasks.open({ kind: 'low_battery', residentId: d.resident.id, deviceId, detail: { deviceKind: d.device.kind, battery } }, at);
    } else if (battery !== null && battery >= settings.batteryReplacedPercent) {
      await tasks.clear('low_battery', d.resident.id, deviceId, 'battery replaced', at);
    }
  }

  private schedulePending(d: IndexedDevice, since: number): void {
    const id = d.device.id;
    if (this.pendingOffline.has(id) || !this.running) return;
    const wait = Math.max(0, since + this.deps.settings.stormWindowMs - this.deps.clock.now());
    this.pendingOffline.set(
      id,
      this.deps.clock.setTimer(wait, () => {
        this.pendingOffline.delete(id);
        this.serial(async () => {
          const h = this.deps.health.healthOf(id);
          if (h?.state === 'offline' && !this.deps.outages.isAbsorbed(id)) await this.openOfflineTask(d, this.deps.clock.now(), since);
        }).catch(() => undefined);
      }),
    );
  }

  private async openOfflineTask(d: IndexedDevice, at: number, since?: number): Promise<void> {
    const lastSeen = this.deps.health.healthOf(d.device.id)?.lastSeen ?? null;
    const detail = {
      deviceKind: d.device.kind,
      lastSeen: lastSeen === null ? null : new Date(lastSeen).toISOString(),
      offlineSince: new Date(since ?? at).toISOString(),
    };
    await this.deps.tasks.open({ kind: 'device_offline', residentId: d.resident.id, deviceId: d.device.id, detail }, at);
  }

  private cancelPending(deviceId: string): void {
    this.pendingOffline.get(deviceId)?.cancel();
    this.pendingOffline.delete(deviceId);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.chain.then(work);
    this.chain = run.then(
      () => {
        this.queued--;
      },
      (err: unknown) => {
        this.queued--;
        this.deps.log.error({ err }, 'device supervision step failed');
      },
    );
    return run;
  }
}
