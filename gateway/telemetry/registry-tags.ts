// A small cache of registry placements (device -> resident, community, building; incident -> resident; worker -> community) so points can be tagged without a query per event.
import type { OutboundSms, Resident } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { deviceTags, residentTags, type DeviceTags, type PageTags, type ResidentTags } from './points.js';

/** Incidents remembered for tagging their pages: delivery receipts arrive within minutes, rarely hours, of the page. */
const MAX_INCIDENTS = 5000;

export interface RegistryTagsDeps {
  store: Pick<Store, 'registry' | 'incidents'>;
}

/**
 * Sync reads for the bus listeners (a hit costs one Map lookup), async fills for the flush loop.
 * The whole registry is reloaded now and then, so a resident who moves building is tagged anew.
 */
export class RegistryTags {
  private devices = new Map<string, DeviceTags>();
  private residents = new Map<string, ResidentTags>();
  private workerCommunity = new Map<string, string>();
  /** Insertion-ordered, so the oldest incident goes first when it is full. */
  private readonly incidentResident = new Map<string, string>();

  constructor(private readonly deps: RegistryTagsDeps) {}

  cachedDevice(id: string): DeviceTags | undefined {
    return this.devices.get(id);
  }

  cachedResident(id: string): ResidentTags | undefined {
    return this.residents.get(id);
  }

  /** Loads every device, resident and worker in three queries, replacing the cache. */
  async reload(): Promise<void> {
    const { registry } = this.deps.store;
    const [devices, residents, workers] = await Promise.all([registry.listDevices(), registry.listResidents(), registry.listWorkers()]);
    const byId = new Map<string, Resident>(residents.map((r) => [r.id, r]));
    this.residents = new Map(residents.map((r) => [r.id, residentTags(r)]));
    this.devices = new Map(devices.map((d) => [d.id, deviceTags(d, byId.get(d.resident) ?? null)]));
    this.workerCommunity = new Map(workers.map((w) => [w.id, w.community]));
  }

  /** Remembers an incident's resident as its changes pass by, so its pages are tagged without a query. */
  noteIncident(incidentId: string, residentId: string): void {
    if (this.incidentResident.has(incidentId)) return;
    if (this.incidentResident.size >= MAX_INCIDENTS) {
      const oldest = this.incidentResident.keys().next().value;
      if (oldest !== undefined) this.incidentResident.delete(oldest);
    }
    this.incidentResident.set(incidentId, residentId);
  }

  /**
   * An SMS's tags from the cache: an incident's page gets its resident's; a message to a worker or a station's duty
   * phone (digest, outage) gets the community. undefined: an incident not seen yet, to be looked up by pageTags().
   */
  cachedPage(msg: OutboundSms): PageTags | undefined {
    if (msg.incidentId) {
      const residentId = this.incidentResident.get(msg.incidentId);
      return residentId ? this.residents.get(residentId) : undefined;
    }
    return this.recipientCommunity(msg);
  }

  /** As cachedPage, with the store asked for what the cache lacks; {} when nothing places the SMS. */
  async pageTags(msg: OutboundSms): Promise<PageTags> {
    const cached = this.cachedPage(msg);
    if (cached) return cached;
    if (!msg.incidentId) return {};
    const incident = await this.deps.store.incidents.get(msg.incidentId);
    if (!incident) return {};
    this.noteIncident(incident.id, incident.residentId);
    return (await this.resident(incident.residentId)) ?? { community: incident.communityId };
  }

  private recipientCommunity(msg: OutboundSms): PageTags {
    if (msg.role === 'worker' && msg.personId) {
      const community = this.workerCommunity.get(msg.personId);
      return community ? { community } : {};
    }
    // Station duty phones are named `duty:<community>:<index>` by the outage pager.
    const duty = msg.role === 'duty_contact' && msg.personId?.startsWith('duty:') ? msg.personId.split(':')[1] : undefined;
    return duty ? { community: duty } : {};
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
