// Storm grouping: many devices of one building or community dropping together become one outage, paged once and closed with a summary.
import type { Clock, TimerHandle } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Resident } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import { rankOnDutyWorkers } from '../paging/selection.js';
import { localTime } from '../paging/shifts.js';
import type { Store } from '../storage/ports.js';
import type { DeviceIndex, IndexedDevice, StormWindow } from './device-index.js';
import { outageClosedText, outagePageText, outageSummary } from './messages.js';
import { bridgePlace, placeLabel } from './places.js';
import type { TaskCloser } from './tasks.js';
import type { SupervisionEvents } from './events.js';
import type { Outage, OutageCloseReason, OutageFilter, OutagePage, OutagePlace, OutagePlaceKind, SupervisionSettings } from './types.js';

export interface OutageServiceDeps {
  store: Pick<Store, 'registry' | 'supervision' | 'transaction'>;
  bus: EventBus<SupervisionEvents>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  sms: SmsQueue;
  index: DeviceIndex;
  window: StormWindow;
  settings: SupervisionSettings;
  /** How long a new outage waits before its page, so a building outage can grow into a community one and page once. */
  pageDelayMs: number;
  /**
   * Devices still offline when an outage closed by the stale rule or by hand: they are on their own now and need
   * tasks. Called outside this service's queue, so it may wait on the task service freely.
   */
  release(deviceIds: string[], at: number): Promise<void>;
}

/** What /healthz and /metrics read of the open outages. */
export interface OpenOutageSummary {
  open: number;
  byPlaceKind: Record<OutagePlaceKind, number>;
  oldestOpenedAt: number | null;
}

interface CloseHow {
  reason: Exclude<OutageCloseReason, 'merged'>;
  by: string;
  note: string | null;
}

export class OutageService {
  /** Open outages by place key, and the open outage each device belongs to. */
  private readonly open = new Map<string, Outage>();
  private readonly ofDevice = new Map<string, Outage>();
  private readonly pageTimers = new Map<string, TimerHandle>();
  private readonly staleTimers = new Map<string, TimerHandle>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: OutageServiceDeps) {}

  /** Loads the open outages; one opened before a restart and not yet paged is paged now (or when its delay ends). */
  async start(): Promise<void> {
    for (const o of await this.deps.store.supervision.listOpenOutages()) {
      this.track(o);
      if (!o.page) this.armPage(o);
    }
  }

  /**
   * Several nodes: takes in the open outages other nodes opened (so a device joining or coming back updates them, and
   * no task of its own is opened for a device they hold) and lets go of those closed elsewhere. One that has waited
   * three page delays without a page lost its node before the page: it is paged here.
   */
  resync(): Promise<void> {
    return this.serial(async () => {
      const stored = await this.deps.store.supervision.listOpenOutages();
      const openIds = new Set(stored.map((o) => o.id));
      for (const o of [...this.open.values()]) if (!openIds.has(o.id)) this.untrack(o);
      const now = this.deps.clock.now();
      for (const o of stored) {
        const mine = this.open.get(o.place.key);
        if (mine?.id === o.id) {
          // Devices another node added or saw come back.
          mine.devices = o.devices;
          for (const d of o.devices) this.ofDevice.set(d.deviceId, mine);
          if (!mine.page && o.page) mine.page = o.page;
          continue;
        }
        if (mine) this.untrack(mine);
        this.track(o);
        if (!o.page && now - o.openedAt >= 3 * this.deps.pageDelayMs) this.armPage(o);
      }
    });
  }

  stop(): void {
    for (const t of [...this.pageTimers.values(), ...this.staleTimers.values()]) t.cancel();
    this.pageTimers.clear();
    this.staleTimers.clear();
  }

  async idle(): Promise<void> {
    await this.chain;
  }

  isAbsorbed(deviceId: string): boolean {
    return this.ofDevice.has(deviceId);
  }

  list(filter: OutageFilter): Promise<Outage[]> {
    return this.deps.store.supervision.listOutages(filter);
  }

  /** From memory: cheap enough for every /healthz and scrape. */
  summary(): OpenOutageSummary {
    const byPlaceKind: Record<OutagePlaceKind, number> = { building: 0, community: 0, bridge: 0 };
    let oldestOpenedAt: number | null = null;
    for (const o of this.open.values()) {
      byPlaceKind[o.place.kind]++;
      if (oldestOpenedAt === null || o.openedAt < oldestOpenedAt) oldestOpenedAt = o.openedAt;
    }
    return { open: this.open.size, byPlaceKind, oldestOpenedAt };
  }

  /**
   * Closes an open outage by hand with a note; its devices still offline get device-offline tasks. Throws
   * GW_ERR_OUTAGE_NOT_FOUND, GW_ERR_FORBIDDEN (another community's) or GW_ERR_OUTAGE_NOT_OPEN.
   */
  async closeByHand(id: string, by: TaskCloser, note: string): Promise<Outage> {
    const { outage, still } = await this.serial(async () => {
      const o = [...this.open.values()].find((x) => x.id === id) ?? (await this.deps.store.supervision.getOutage(id));
      if (!o) throw new GatewayError('GW_ERR_OUTAGE_NOT_FOUND', `no outage ${id}`);
      if (by.community !== null && o.place.communityId !== by.community)
        throw new GatewayError('GW_ERR_FORBIDDEN', 'the outage belongs to another community');
      if (o.closedAt !== null)
        throw new GatewayError('GW_ERR_OUTAGE_NOT_OPEN', `outage ${id} was closed at ${new Date(o.closedAt).toISOString()}`);
      const at = this.deps.clock.now();
      return { outage: o, still: await this.close(o, at, { reason: 'closed_by_hand', by: by.name, note }) };
    });
    await this.deps.release(still, outage.closedAt ?? this.deps.clock.now());
    return outage;
  }

  /**
   * The stale rule: an outage open for outageStaleMs closes as partially recovered. Whatever kept its devices down
   * is no longer one event that will clear by itself, so each device still offline becomes a task of its own.
   */
  private armStale(o: Outage): void {
    const delay = Math.max(0, o.openedAt + this.deps.settings.outageStaleMs - this.deps.clock.now());
    this.staleTimers.set(
      o.id,
      this.deps.clock.setTimer(delay, () => {
        this.staleTimers.delete(o.id);
        const at = this.deps.clock.now();
        void this.serial(async () =>
          this.open.get(o.place.key) === o ? this.close(o, at, { reason: 'partially_recovered', by: 'system', note: null }) : [],
        )
          .then((still) => this.deps.release(still, at))
          .catch((err: unknown) => this.deps.log.error({ err, outageId: o.id }, 'stale outage could not be closed'));
      }),
    );
  }

  /**
   * A device went offline. True when an outage holds it (already open for its place, or opened now because it
   * completed a storm); then it gets no task of its own. `absorbed` lists other devices the new outage took in.
   * `droppedAt` is when it went quiet: `at` for a will or status, its last message for the offline timeout.
   */
  onOffline(d: IndexedDevice, at: number, droppedAt: number = at): Promise<{ grouped: boolean; absorbed: string[] }> {
    return this.serial(async () => {
      const { window } = this.deps;
      const id = d.device.id;
      const held = this.ofDevice.get(id);
      if (held) {
        const entry = held.devices.find((x) => x.deviceId === id);
        if (entry) entry.backAt = null;
        await this.save(held, 'updated', at);
        return { grouped: true, absorbed: [] };
      }
      // The community window counts every drop, also those a building outage took in, so a cut across buildings is seen.
      window.drop(d.community, id, droppedAt);
      const communityOutage = this.open.get(d.community.key);
      if (communityOutage) {
        await this.join(communityOutage, d, at);
        return { grouped: true, absorbed: [] };
      }
      let grouped = false;
      let absorbed: string[] = [];
      const buildingOutage = this.open.get(d.building.key);
      if (buildingOutage) {
        await this.join(buildingOutage, d, at);
        grouped = true;
      } else {
        // The building first: the narrowest place that explains the drops names the cause best (its power, its switch).
        window.drop(d.building, id, droppedAt);
        const recent = window.recent(d.building, droppedAt);
        if (window.isStorm(recent.length, this.deps.index.reportingDevices(d.building.key))) {
          absorbed = await this.openOutage(d.building, this.members(recent), at);
          grouped = true;
        }
      }
      const wide = await this.communityStorm(d, at, droppedAt);
      if (wide) return { grouped: true, absorbed: wide };
      return { grouped, absorbed: absorbed.filter((x) => x !== id) };
    });
  }

  /**
   * The community is a storm when enough of its devices dropped within the window and they span two buildings or more:
   * drops confined to one building are that building's outage, however large a share of the community it holds.
   */
  private async communityStorm(d: IndexedDevice, at: number, droppedAt: number): Promise<string[] | null> {
    const { window, index } = this.deps;
    const recent = window.recent(d.community, droppedAt);
    if (!window.isStorm(recent.length, index.reportingDevices(d.community.key))) return null;
    const members = this.members(recent);
    if (new Set(members.map((m) => m.building.key)).size < 2) return null;
    return (await this.openOutage(d.community, members, at)).filter((x) => x !== d.device.id);
  }

  private members(ids: string[]): IndexedDevice[] {
    return ids.map((x) => this.deps.index.get(x)).filter((x): x is IndexedDevice => x !== null);
  }

  private async join(o: Outage, d: IndexedDevice, at: number): Promise<void> {
    o.devices.push({ deviceId: d.device.id, residentId: d.resident.id, droppedAt: at, backAt: null });
    this.ofDevice.set(d.device.id, o);
    this.deps.window.forget(d.building, d.device.id);
    await this.save(o, 'updated', at);
  }

  /**
   * A bridge lost (its coordinator or its connection): its devices go offline together for one cause, so they form one
   * outage, paged once, instead of a task each. Devices already held by another outage stay there. Resolves with the
   * devices taken in; none when the bridge already has an open outage.
   */
  openForBridge(bridgeId: string, deviceIds: readonly string[], at: number): Promise<string[]> {
    return this.serial(async () => {
      const members = this.members([...deviceIds]);
      if (members.length === 0) return [];
      const existing = this.open.get(`bridge:${bridgeId}`);
      if (existing) return [];
      // Paged to the community that holds most of the bridge's devices (a coordinator serves one neighbourhood).
      const counts = new Map<string, number>();
      for (const m of members) counts.set(m.resident.community, (counts.get(m.resident.community) ?? 0) + 1);
      const community =
        [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? members[0]?.resident.community ?? '';
      return this.openOutage(bridgePlace(bridgeId, community), members, at);
    });
  }

  /** A device is back. Resolves with the devices left offline when this closed their outage: they now need their own tasks. */
  onOnline(d: IndexedDevice, at: number): Promise<string[]> {
    return this.serial(async () => {
      this.deps.window.forget(d.building, d.device.id);
      this.deps.window.forget(d.community, d.device.id);
      const o = this.ofDevice.get(d.device.id);
      if (!o) return [];
      const entry = o.devices.find((x) => x.deviceId === d.device.id);
      if (entry && entry.backAt === null) entry.backAt = at;
      const back = o.devices.filter((x) => x.backAt !== null).length;
      if (back / o.devices.length < this.deps.settings.outageRecoveredShare) {
        await this.save(o, 'updated', at);
        return [];
      }
      return this.close(o, at, { reason: 'recovered', by: 'system', note: null });
    });
  }

  private async openOutage(place: OutagePlace, members: IndexedDevice[], at: number): Promise<string[]> {
    const { store, log } = this.deps;
    const outage: Outage = {
      id: newId('out', at),
      place,
      devices: members
        .filter((m) => !this.ofDevice.has(m.device.id))
        .map((m) => ({ deviceId: m.device.id, residentId: m.resident.id, droppedAt: at, backAt: null })),
      openedAt: at,
      closedAt: null,
      summary: null,
      page: null,
      closedBy: null,
      closeReason: null,
      closeNote: null,
      updatedAt: at,
    };
    // A community outage swallows the community's building outages (their devices move over); with the page delay a
    // broadband cut that first shows as one building pages once, for the community.
    if (place.kind === 'community') {
      for (const b of [...this.open.values()].filter((x) => x.place.kind === 'building' && x.place.communityId === place.communityId)) {
        for (const dev of b.devices) if (!outage.devices.some((x) => x.deviceId === dev.deviceId)) outage.devices.push({ ...dev });
        await this.closeMerged(b, outage, at);
      }
    }
    // Taken in: no longer counted towards a building storm; the community window keeps them until one opens there.
    for (const m of members) {
      this.deps.window.forget(m.building, m.device.id);
      if (place.kind === 'community') this.deps.window.forget(m.community, m.device.id);
    }
    if (!(await store.supervision.insertOutage(outage))) return [];
    this.track(outage);
    log.warn({ outageId: outage.id, place: place.key, devices: outage.devices.length }, 'grouped outage opened');
    this.deps.bus.emit('outageChanged', outage, 'opened');
    this.armPage(outage);
    return outage.devices.map((x) => x.deviceId);
  }

  private async closeMerged(b: Outage, into: Outage, at: number): Promise<void> {
    this.untrack(b);
    b.closedAt = at;
    b.closedBy = 'system';
    b.closeReason = 'merged';
    b.summary = outageSummary({
      place: this.label(b.place),
      total: b.devices.length,
      back: 0,
      minutes: 0,
      stillOffline: [],
      mergedInto: into.id,
    });
    await this.save(b, 'closed', at);
  }

  /**
   * Closes the outage and returns its devices still offline. Only a recovery sends the all-clear: a stale close may
   * fall at night and is no recovery (its devices reach the worker as tasks in the digest), and a hand close is made
   * by the people acting on it.
   */
  private async close(o: Outage, at: number, how: CloseHow): Promise<string[]> {
    this.untrack(o);
    const still = o.devices.filter((x) => x.backAt === null).map((x) => x.deviceId);
    const minutes = Math.max(1, Math.round((at - o.openedAt) / 60_000));
    const back = o.devices.length - still.length;
    o.closedAt = at;
    o.closedBy = how.by;
    o.closeReason = how.reason;
    o.closeNote = how.note;
    o.summary = outageSummary({
      place: this.label(o.place),
      total: o.devices.length,
      back,
      minutes,
      stillOffline: still,
      reason: how.reason,
    });
    const page = o.page;
    await this.deps.store.transaction(async () => {
      // The all-clear goes to whoever was paged; an outage that healed before its page went out tells nobody.
      if (page && how.reason === 'recovered') {
        const to = await this.phoneOf(page);
        if (to)
          await this.deps.sms.enqueue({
            to,
            priority: 'routine',
            intent: outageClosedText(this.label(o.place), back, o.devices.length, minutes),
            purpose: 'outage',
            incidentId: null,
            step: null,
            role: page.role,
            personId: page.personId,
            context: null,
          });
      }
      await this.save(o, 'closed', at);
    });
    this.deps.log.info({ outageId: o.id, back, total: o.devices.length, reason: how.reason }, 'grouped outage closed');
    return still;
  }

  private armPage(o: Outage): void {
    const delay = Math.max(0, o.openedAt + this.deps.pageDelayMs - this.deps.clock.now());
    this.pageTimers.set(
      o.id,
      this.deps.clock.setTimer(delay, () => void this.serial(() => this.page(o.id)).catch(() => undefined)),
    );
  }

  /** Pages the community's on-duty worker nearest the affected homes, else the station's duty phone; once per outage. */
  private async page(outageId: string): Promise<void> {
    this.pageTimers.delete(outageId);
    const o = [...this.open.values()].find((x) => x.id === outageId);
    if (!o || o.page) return;
    const { store, clock, timeZone, log } = this.deps;
    const now = clock.now();
    const workers = (await store.registry.listWorkers()).filter((w) => w.community === o.place.communityId);
    const ranked = rankOnDutyWorkers(this.centre(o), workers, now, timeZone)[0];
    const community = await store.registry.getCommunity(o.place.communityId);
    const duty = community?.dutyContacts[0];
    const target = ranked
      ? { role: 'worker' as const, personId: ranked.id, phone: ranked.phone }
      : duty
        ? { role: 'duty_contact' as const, personId: `duty:${o.place.communityId}:0`, phone: duty.phone }
        : null;
    if (!target) {
      log.error({ outageId: o.id, community: o.place.communityId }, 'grouped outage: nobody on duty and no station phone to page');
      return;
    }
    const intent = outagePageText(this.label(o.place), o.devices.length, localTime(o.openedAt, timeZone).hhmm);
    await store.transaction(async () => {
      const msg = await this.deps.sms.enqueue({
        to: target.phone,
        intent,
        priority: 'routine',
        purpose: 'outage',
        incidentId: null,
        step: null,
        role: target.role,
        personId: target.personId,
        context: null,
      });
      o.page = { role: target.role, personId: target.personId, smsId: msg.id };
      await this.save(o, 'updated', now);
    });
    log.warn({ outageId: o.id, role: target.role, personId: target.personId }, 'grouped outage paged');
  }

  /** A stand-in resident at the centre of the affected homes, so the usual nearest-worker ranking applies. */
  private centre(o: Outage): Resident {
    const homes = o.devices.map((x) => this.deps.index.get(x.deviceId)?.resident.location).filter((l) => l !== undefined);
    const location = homes.length
      ? { lat: homes.reduce((s, l) => s + l.lat, 0) / homes.length, lon: homes.reduce((s, l) => s + l.lon, 0) / homes.length }
      : undefined;
    return { id: `outage:${o.id}`, name: '', community: o.place.communityId, address: '', family: [], ...(location ? { location } : {}) };
  }

  private async phoneOf(page: OutagePage): Promise<string | null> {
    if (page.role === 'worker') return (await this.deps.store.registry.getWorker(page.personId))?.phone ?? null;
    const [, community, i] = page.personId.split(':');
    return (await this.deps.store.registry.getCommunity(community ?? ''))?.dutyContacts[Number(i)]?.phone ?? null;
  }

  private label(place: OutagePlace): string {
    return placeLabel(place, this.deps.index.communityName(place.communityId));
  }

  private track(o: Outage): void {
    this.open.set(o.place.key, o);
    for (const d of o.devices) this.ofDevice.set(d.deviceId, o);
    this.armStale(o);
  }

  private untrack(o: Outage): void {
    this.open.delete(o.place.key);
    for (const d of o.devices) if (this.ofDevice.get(d.deviceId) === o) this.ofDevice.delete(d.deviceId);
    this.pageTimers.get(o.id)?.cancel();
    this.pageTimers.delete(o.id);
    this.staleTimers.get(o.id)?.cancel();
    this.staleTimers.delete(o.id);
  }

  private async save(o: Outage, change: 'updated' | 'closed', at: number): Promise<void> {
    o.updatedAt = at;
    await this.deps.store.supervision.saveOutage(o);
    this.deps.bus.emit('outageChanged', o, change);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch((err: unknown) => this.deps.log.error({ err }, 'outage bookkeeping failed'));
    return run;
  }
}
