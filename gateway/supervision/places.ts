// Where a device is (its building and community, as outage places) and who looks after its resident (the grid worker).
import type { Resident, Worker } from '../core/types.js';
import { distanceM } from '../paging/selection.js';
import { deriveBuilding } from '../registry/schema.js';
import type { OutagePlace } from './types.js';

/** The resident's building: the registry's `building`, else parsed from the address ("安达里3号楼2门401" -> "安达里3号楼"). */
export function buildingOf(resident: Pick<Resident, 'address' | 'building'>): string {
  return resident.building ?? deriveBuilding(resident.address);
}

export function buildingPlace(resident: Pick<Resident, 'community' | 'address' | 'building'>): OutagePlace {
  const building = buildingOf(resident);
  return { kind: 'building', key: `building:${resident.community}:${building}`, communityId: resident.community, building };
}

export function communityPlace(communityId: string): OutagePlace {
  return { kind: 'community', key: `community:${communityId}`, communityId, building: null };
}

/** The devices of one bridge, paged to the community where most of them are. */
export function bridgePlace(bridgeId: string, communityId: string): OutagePlace {
  return { kind: 'bridge', key: `bridge:${bridgeId}`, communityId, building: null };
}

/** How a place is named in SMS and summaries: the building, the bridge, or the community's name. */
export function placeLabel(place: OutagePlace, communityName: string | null): string {
  if (place.kind === 'bridge') return `${communityName ?? place.communityId}网关 ${place.key.slice('bridge:'.length)}`;
  return place.building ?? communityName ?? place.communityId;
}

/**
 * The resident's grid worker for care tasks: the nearest worker of the resident's community who works any shift
 * at all (a worker with no shifts is not on the roster), else the nearest of the community. Unlike paging, the
 * duty state now does not matter: a task waits for the digest, so it should stay with the same person all day.
 */
export function careWorker(resident: Resident, workers: Worker[]): Worker | null {
  const home = resident.location;
  const ranked = workers
    .filter((w) => w.community === resident.community)
    .map((w) => ({ w, off: w.shifts.length > 0 ? 0 : 1, d: home && w.location ? distanceM(home, w.location) : Infinity }))
    .sort((a, b) => a.off - b.off || a.d - b.d || (a.w.id < b.w.id ? -1 : a.w.id > b.w.id ? 1 : 0));
  return ranked[0]?.w ?? null;
}
