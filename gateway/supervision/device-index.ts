// The supervised devices with their resident and places, rebuilt from the registry on each sweep, and the storm window per place.
import type { Device, DeviceHealth, Resident } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { buildingPlace, communityPlace } from './places.js';
import type { OutagePlace, SupervisionSettings } from './types.js';

export interface IndexedDevice {
  device: Device;
  resident: Resident;
  building: OutagePlace;
  community: OutagePlace;
}

/** What supervision reads of device health (the ingest's HealthBook). */
export interface HealthSource {
  healthOf(deviceId: string): DeviceHealth | null;
}

export class DeviceIndex {
  private devices = new Map<string, IndexedDevice>();
  private byPlace = new Map<string, string[]>();
  private communityNames = new Map<string, string>();

  constructor(private readonly deps: { store: Pick<Store, 'registry'>; health: HealthSource }) {}

  /** Re-reads devices, residents and communities (a registry import may have changed them). */
  async reload(): Promise<void> {
    const { registry } = this.deps.store;
    const [devices, residents, communities] = await Promise.all([
      registry.listDevices(),
      registry.listResidents(),
      registry.listCommunities(),
    ]);
    const residentById = new Map(residents.map((r) => [r.id, r]));
    const next = new Map<string, IndexedDevice>();
    const byPlace = new Map<string, string[]>();
    for (const device of devices) {
      const resident = residentById.get(device.resident);
      if (!resident) continue;
      const entry = { device, resident, building: buildingPlace(resident), community: communityPlace(resident.community) };
      next.set(device.id, entry);
      for (const place of [entry.building, entry.community]) {
        const list = byPlace.get(place.key);
        if (list) list.push(device.id);
        else byPlace.set(place.key, [device.id]);
      }
    }
    this.devices = next;
    this.byPlace = byPlace;
    this.communityNames = new Map(communities.map((c) => [c.id, c.name]));
  }

  get(deviceId: string): IndexedDevice | null {
    return this.devices.get(deviceId) ?? null;
  }

  all(): IndexedDevice[] {
    return [...this.devices.values()];
  }

  communityName(id: string): string | null {
    return this.communityNames.get(id) ?? null;
  }

  /**
   * Devices of the place that have ever reported: the denominator of a storm's share. A device never installed
   * cannot drop, so counting it would make a real power cut look smaller than it is.
   */
  reportingDevices(placeKey: string): number {
    let n = 0;
    for (const id of this.byPlace.get(placeKey) ?? []) if (this.deps.health.healthOf(id)?.lastSeen != null) n++;
    return n;
  }
}

/**
 * When each offline device of a place dropped. Keyed by device, so it never holds more than the place's devices; a
 * device leaves it when it comes back or an outage takes it in. Drop times may lie in the past (a timeout's drop is the
 * device's last message), so "together" means within the window of each other, not of now.
 */
export class StormWindow {
  private readonly drops = new Map<string, Map<string, number>>();

  constructor(private readonly settings: Pick<SupervisionSettings, 'stormWindowMs' | 'stormMinDevices' | 'stormMinShare'>) {}

  drop(place: OutagePlace, deviceId: string, at: number): void {
    let m = this.drops.get(place.key);
    if (!m) {
      m = new Map<string, number>();
      this.drops.set(place.key, m);
    }
    m.set(deviceId, at);
  }

  /** The device is back (or absorbed): it no longer counts towards a storm. */
  forget(place: OutagePlace, deviceId: string): void {
    const m = this.drops.get(place.key);
    m?.delete(deviceId);
    if (m?.size === 0) this.drops.delete(place.key);
  }

  /** Devices of the place that dropped within the window of `at`, before or after it. */
  recent(place: OutagePlace, at: number): string[] {
    const m = this.drops.get(place.key);
    if (!m) return [];
    const out: string[] = [];
    for (const [id, t] of m) if (Math.abs(at - t) <= this.settings.stormWindowMs) out.push(id);
    return out;
  }

  /** True when `dropped` devices of a place with `reporting` devices make a storm. */
  isStorm(dropped: number, reporting: number): boolean {
    return dropped >= this.settings.stormMinDevices && reporting > 0 && dropped / reporting >= this.settings.stormMinShare;
  }
}
