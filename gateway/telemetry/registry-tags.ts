// A small cache of registry placements (device -> resident, community, building) so points can be tagged without a query per event.
import type { Resident } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { deviceTags, residentTags, type DeviceTags, type ResidentTags } from './points.js';

export interface RegistryTagsDeps {
  store: Store;
}

/**
 * Sync reads for the bus listeners (a hit costs one Map lookup), async fills for the flush loop.
 * The whole registry is reloaded now and then, so a resident who moves building is tagged anew.
 */
export class RegistryTags {
  private devices = new Map<string, DeviceTags>();
  private residents = new Map<string, ResidentTags>();

  constructor(private readonly deps: RegistryTagsDeps) {}

  cachedDevice(id: string): DeviceTags | undefined {
    return this.devices.get(id);
  }

  cachedResident(id: string): ResidentTags | undefined {
    return this.residents.get(id);
  }

  /** Loads every device and resident in two queries, replacing the cache. */
  async reload(): Promise<void> {
    const [devices, residents] = await Promise.all([this.deps.store.registry.listDevices(), this.deps.store.registry.listResidents()]);
    const byId = new Map<string, Resident>(residents.map((r) => [r.id, r]));
    this.residents = new Map(residents.map((r) => [r.id, residentTags(r)]));
    this.devices = new Map(devices.map((d) => [d.id, deviceTags(d, byId.get(d.resident) ?? null)]));
  }

  /** The device's tags, from the cache or the store; null when the registry does not know it. */
  async device(id: string): Promise<DeviceTags | null> {
    const cached = this.devices.get(id);
    if (cached) return cached;
    const device = await this.deps.store.registry.getDevice(id);
    if (!device) return null;
    const resident = await this.deps.store.registry.getResident(device.resident);
    const tags = deviceTags(device, resident);
    this.devices.set(id, tags);
    if (resident) this.residents.set(resident.id, residentTags(resident));
    return tags;
  }

  async resident(id: string): Promise<ResidentTags | null> {
    const cached = this.residents.get(id);
    if (cached) return cached;
    const resident = await this.deps.store.registry.getResident(id);
    if (!resident) return null;
    const tags = residentTags(resident);
    this.residents.set(id, tags);
    return tags;
  }
}
