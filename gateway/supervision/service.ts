// Device supervision assembled: offline sweep, care tasks, grouped outages and the digest, with the views the HTTP API shows.
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { JobRunner } from '../core/jobs.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { IngestEvents } from '../ingest/events.js';
import type { SmsQueue } from '../paging/pager.js';
import type { Store } from '../storage/ports.js';
import { CareDigest } from './digest.js';
import { DeviceIndex, StormWindow } from './device-index.js';
import { OutageService } from './outages.js';
import { placeLabel } from './places.js';
import { DeviceSupervisor, type SupervisedHealth } from './supervisor.js';
import { CareTaskService, type TaskCloser } from './tasks.js';
import {
  DEFAULT_SUPERVISION,
  type OutageCloseReason,
  type CareTask,
  type CareTaskFilter,
  type Outage,
  type OutageFilter,
  type OutagePlaceKind,
  type SupervisionSettings,
} from './types.js';
import type { SupervisionEvents } from './events.js';

export interface SupervisionDeps {
  store: Pick<Store, 'registry' | 'supervision' | 'transaction'>;
  bus: EventBus<IngestEvents & SupervisionEvents>;
  clock: Clock;
  log: Logger;
  /** Local zone of digest times and SMS times (config TZ). */
  timeZone: string;
  /** The outbound SMS queue (the gateway's SmsDispatcher). */
  sms: SmsQueue;
  /** The ingest: device health, and markState for the offline timeout. */
  health: SupervisedHealth;
  settings?: Partial<SupervisionSettings>;
  /** 'cron' (default) or 'manual' (tests drive digest.runDue()). */
  digestTriggers?: 'cron' | 'manual';
  /** Wait before a new outage pages (default 30 s), so a building outage growing into a community one pages once. */
  outagePageDelayMs?: number;
  /** Only when nodes share one database: each offline sweep and digest slot runs on one of them. */
  slots?: JobRunner;
}

/** A care task as the API shows it: times in ISO 8601, names resolved. */
export interface CareTaskView {
  id: string;
  kind: CareTask['kind'];
  state: CareTask['state'];
  resident: string;
  residentName: string | null;
  community: string;
  device: string | null;
  worker: string | null;
  workerName: string | null;
  detail: Record<string, unknown> | null;
  openedAt: string;
  closedAt: string | null;
  closedBy: string | null;
  closeReason: string | null;
  closeNote: string | null;
}

export interface OutageView {
  id: string;
  state: 'open' | 'closed';
  place: { kind: Outage['place']['kind']; community: string; building: string | null; label: string };
  devices: { id: string; resident: string; droppedAt: string; backAt: string | null }[];
  openedAt: string;
  closedAt: string | null;
  summary: string | null;
  paged: { role: string; personId: string } | null;
  /** 'system' for a close by rule, else who closed it by hand. */
  closedBy: string | null;
  closeReason: OutageCloseReason | null;
  closeNote: string | null;
}

/** What the Prometheus gauges read at scrape time (registerSupervisionMetrics in health.ts). */
export interface SupervisionMetricsSnapshot {
  tasksByKind: Record<CareTask['kind'], number>;
  outagesByPlace: Record<OutagePlaceKind, number>;
  /** 0 when no outage is open. */
  oldestOutageAgeSeconds: number;
}

/** Open outages and tasks, for /healthz (see supervisionHealthComponent in health.ts). */
export interface SupervisionHealth {
  openOutages: number;
  openTasks: number;
  /** ISO 8601; null when no outage is open. */
  oldestOpenOutageAt: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class Supervision {
  readonly settings: SupervisionSettings;
  readonly index: DeviceIndex;
  readonly tasks: CareTaskService;
  readonly outages: OutageService;
  readonly supervisor: DeviceSupervisor;
  readonly digest: CareDigest;
  /** Registry reloads run one at a time; a burst of imports reloads once more after the one under way. */
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SupervisionDeps) {
    this.settings = { ...DEFAULT_SUPERVISION, ...deps.settings };
    const core = { store: deps.store, clock: deps.clock, log: deps.log };
    this.index = new DeviceIndex({ store: deps.store, health: deps.health });
    this.tasks = new CareTaskService({ ...core, bus: deps.bus });
    this.outages = new OutageService({
      ...core,
      bus: deps.bus,
      timeZone: deps.timeZone,
      sms: deps.sms,
      index: this.index,
      window: new StormWindow(this.settings),
      settings: this.settings,
      pageDelayMs: deps.outagePageDelayMs ?? 30_000,
      // The supervisor exists by the time an outage can close.
      release: (ids, at) => this.supervisor.releaseFromOutage(ids, at),
    });
    this.supervisor = new DeviceSupervisor({
      ...core,
      bus: deps.bus,
      health: deps.health,
      tasks: this.tasks,
      outages: this.outages,
      index: this.index,
      settings: this.settings,
      ...(deps.slots
        ? { cluster: { slots: deps.slots, resync: async () => void (await Promise.all([this.tasks.resync(), this.outages.resync()])) } }
        : {}),
    });
    this.digest = new CareDigest({
      ...core,
      timeZone: deps.timeZone,
      sms: deps.sms,
      triggers: deps.digestTriggers ?? 'cron',
      ...(deps.slots ? { slots: deps.slots } : {}),
    });
  }

  /** Start after the ingest (health loaded) and the SMS dispatcher, before the broker takes devices. */
  async start(): Promise<void> {
    await this.tasks.start();
    await this.outages.start();
    await this.supervisor.start();
    await this.digest.start();
    this.deps.bus.on(this, 'registryChanged', () => this.reloadRegistry().catch(() => undefined));
  }

  async stop(): Promise<void> {
    this.deps.bus.removeAll(this);
    await this.reloading;
    await this.digest.stop();
    await this.supervisor.stop();
    this.outages.stop();
    await this.outages.idle();
    await this.tasks.idle();
  }

  /** Resolves when event handling, sweeps and the task and outage work they queued are done (tests). */
  async idle(): Promise<void> {
    await this.reloading;
    await this.supervisor.idle();
  }

  /**
   * Reloads what supervision caches from the registry (devices and places, offlineAfterSeconds, digest times), on the
   * gateway's registryChanged event after an import. Failures are logged; the 10-minute refresh in the sweep remains.
   */
  reloadRegistry(): Promise<void> {
    const run = this.reloading.then(async () => {
      await this.supervisor.reloadRegistry();
      await this.digest.reload();
    });
    this.reloading = run.catch((err: unknown) =>
      this.deps.log.error({ err: errorMessage(err) }, 'supervision could not reload the registry; it retries within 10 minutes'),
    );
    return run;
  }

  /**
   * A bridge went away (coordinator down, zigbee2mqtt gone, its connection lost): its devices form one outage, paged
   * once. Call it before they are marked offline, so none of them gets a task of its own.
   */
  bridgeLost(bridgeId: string, deviceIds: readonly string[], at: number): Promise<string[]> {
    return this.outages.openForBridge(bridgeId, deviceIds, at);
  }

  metricsSnapshot(): SupervisionMetricsSnapshot {
    const { byPlaceKind, oldestOpenedAt } = this.outages.summary();
    const age = oldestOpenedAt === null ? 0 : Math.max(0, (this.deps.clock.now() - oldestOpenedAt) / 1000);
    return { tasksByKind: this.tasks.openCounts(), outagesByPlace: byPlaceKind, oldestOutageAgeSeconds: age };
  }

  /** Open outages and tasks, from memory (no query): cheap enough for every /healthz. */
  health(): SupervisionHealth {
    const outages = this.outages.summary();
    const openTasks = Object.values(this.tasks.openCounts()).reduce((a, b) => a + b, 0);
    return { openOutages: outages.open, openTasks, oldestOpenOutageAt: iso(outages.oldestOpenedAt) };
  }

  // ---- the API (gateway/http/routes/tasks.ts) ----

  async listTasks(filter: CareTaskFilter): Promise<CareTaskView[]> {
    return this.taskViews(await this.tasks.list(filter));
  }

  async closeTask(id: string, by: TaskCloser, note: string): Promise<CareTaskView> {
    const [view] = await this.taskViews([await this.tasks.closeByHand(id, by, note)]);
    if (!view) throw new Error('closed task has no view');
    return view;
  }

  /** Throws GW_ERR_OUTAGE_NOT_FOUND, GW_ERR_FORBIDDEN or GW_ERR_OUTAGE_NOT_OPEN. */
  async closeOutage(id: string, by: TaskCloser, note: string): Promise<OutageView> {
    const [view] = await this.outageViews([await this.outages.closeByHand(id, by, note)]);
    if (!view) throw new Error('closed outage has no view');
    return view;
  }

  async listOutages(filter: OutageFilter): Promise<OutageView[]> {
    return this.outageViews(await this.outages.list(filter));
  }

  private async outageViews(outages: Outage[]): Promise<OutageView[]> {
    const communities = new Map((await this.deps.store.registry.listCommunities()).map((c) => [c.id, c.name]));
    return outages.map((o) => ({
      id: o.id,
      state: o.closedAt === null ? 'open' : 'closed',
      place: {
        kind: o.place.kind,
        community: o.place.communityId,
        building: o.place.building,
        label: placeLabel(o.place, communities.get(o.place.communityId) ?? null),
      },
      devices: o.devices.map((d) => ({
        id: d.deviceId,
        resident: d.residentId,
        droppedAt: new Date(d.droppedAt).toISOString(),
        backAt: iso(d.backAt),
      })),
      openedAt: new Date(o.openedAt).toISOString(),
      closedAt: iso(o.closedAt),
      summary: o.summary,
      paged: o.page ? { role: o.page.role, personId: o.page.personId } : null,
      closedBy: o.closedBy ?? null,
      closeReason: o.closeReason ?? null,
      closeNote: o.closeNote ?? null,
    }));
  }

  private async taskViews(tasks: CareTask[]): Promise<CareTaskView[]> {
    const { registry } = this.deps.store;
    const [residents, workers] = await Promise.all([registry.listResidents(), registry.listWorkers()]);
    const residentName = new Map(residents.map((r) => [r.id, r.name]));
    const workerName = new Map(workers.map((w) => [w.id, w.name]));
    return tasks.map((t) => ({
      id: t.id,
      kind: t.kind,
      state: t.state,
      resident: t.residentId,
      residentName: residentName.get(t.residentId) ?? null,
      community: t.communityId,
      device: t.deviceId,
      worker: t.workerId,
      workerName: t.workerId ? (workerName.get(t.workerId) ?? null) : null,
      detail: t.detail,
      openedAt: new Date(t.openedAt).toISOString(),
      closedAt: iso(t.closedAt),
      closedBy: t.closedBy,
      closeReason: t.closeReason,
      closeNote: t.closeNote,
    }));
  }
}
