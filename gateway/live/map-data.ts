// The offline map's data: residents with coordinates, grouped into buildings and communities, with alarm and device state.
import type { Community, DeviceHealth, Incident, Resident } from '../core/types.js';
import type { RegistryRepo } from '../storage/ports.js';

export interface MapSource {
  /** Everything in one community, or everywhere when `community` is null. */
  snapshot(community: string | null): Promise<MapModel>;
}

export interface MapResident {
  id: string;
  name: string;
  lat: number;
  lon: number;
  community: string;
  building: string;
  address: string;
  /** The resident's active incident, if any: the marker turns red. */
  activeIncident: { id: string; state: string; type: string } | null;
  /** Worst device state: 'offline', 'unknown' (never heard from), 'warning' (low battery), 'ok', or 'none' without devices. */
  deviceHealth: 'ok' | 'warning' | 'unknown' | 'offline' | 'none';
}

export interface MapBuilding {
  community: string;
  name: string;
  /** Mean position of its residents. */
  lat: number;
  lon: number;
  residents: string[];
}

export interface MapCommunity {
  id: string;
  name: string;
}

export interface MapModel {
  communities: MapCommunity[];
  buildings: MapBuilding[];
  residents: MapResident[];
}

export interface MapDataDeps {
  registry: Pick<RegistryRepo, 'listCommunities' | 'listResidents' | 'listDevices'>;
  incidents: { listActive(): Promise<Incident[]> };
  /** Live device health (the ingest's in-memory view); null for a device never heard from. */
  health(deviceId: string): DeviceHealth | null;
  /** Below this battery (percent) a marker shows a warning (device supervision's low-battery threshold). */
  lowBatteryPercent?: number;
}

export class MapData implements MapSource {
  constructor(private readonly deps: MapDataDeps) {}

  async snapshot(community: string | null): Promise<MapModel> {
    const { registry } = this.deps;
    const [communities, residents, devices, active] = await Promise.all([
      registry.listCommunities(),
      registry.listResidents(),
      registry.listDevices(),
      this.deps.incidents.listActive(),
    ]);
    const inScope = (c: string): boolean => community === null || c === community;
    const incidentOf = new Map(active.map((i) => [i.residentId, i]));
    const devicesOf = new Map<string, string[]>();
    for (const d of devices) devicesOf.set(d.resident, [...(devicesOf.get(d.resident) ?? []), d.id]);

    const placed: MapResident[] = [];
    for (const r of residents) {
      if (!inScope(r.community) || !r.location) continue;
      const incident = incidentOf.get(r.id);
      placed.push({
        id: r.id,
        name: r.name,
        lat: r.location.lat,
        lon: r.location.lon,
        community: r.community,
        building: buildingOf(r),
        address: r.address,
        activeIncident: incident ? { id: incident.id, state: incident.state, type: incident.type } : null,
        deviceHealth: this.worstHealth(devicesOf.get(r.id) ?? []),
      });
    }
    return {
      communities: communities.filter((c: Community) => inScope(c.id)).map((c) => ({ id: c.id, name: c.name })),
      buildings: groupBuildings(placed),
      residents: placed,
    };
  }

  private worstHealth(deviceIds: string[]): MapResident['deviceHealth'] {
    if (deviceIds.length === 0) return 'none';
    const low = this.deps.lowBatteryPercent ?? 20;
    const rank = { ok: 0, warning: 1, unknown: 2, offline: 3 } as const;
    let worst: keyof typeof rank = 'ok';
    for (const id of deviceIds) {
      const h = this.deps.health(id);
      const state: keyof typeof rank =
        !h || h.state === 'unknown'
          ? 'unknown'
          : h.state === 'offline'
            ? 'offline'
            : h.battery !== null && h.battery < low
              ? 'warning'
              : 'ok';
      if (rank[state] > rank[worst]) worst = state;
    }
    return worst;
  }
}

/** The registry fills `building` from the address at import; older rows fall back to the address itself. */
function buildingOf(r: Resident): string {
  return r.building ?? r.address;
}

/** One building per (community, building name), placed at the mean position of its residents. */
export function groupBuildings(residents: MapResident[]): MapBuilding[] {
  const groups = new Map<string, MapBuilding>();
  for (const r of residents) {
    const key = `${r.community}\u0000${r.building}`;
    const b = groups.get(key) ?? { community: r.community, name: r.building, lat: 0, lon: 0, residents: [] };
    b.residents.push(r.id);
    // Running mean, so no second pass is needed.
    b.lat += (r.lat - b.lat) / b.residents.length;
    b.lon += (r.lon - b.lon) / b.residents.length;
    groups.set(key, b);
  }
  return [...groups.values()];
}
