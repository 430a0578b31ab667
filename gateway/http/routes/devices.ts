// /api/devices: each device's health (online/offline, last seen, battery, signal, last rejected message), by community and state.
import type { FastifyPluginAsync } from 'fastify';
import { communityScope } from '../../access/scope.js';
import { requireRole } from '../auth.js';
import { GatewayError } from '../../core/errors.js';
import { buildingOf } from '../../supervision/places.js';
import type { Device, DeviceKind, DeviceState, RejectionReason, Resident } from '../../core/types.js';
import type { DeviceDirectory, HttpDeps } from '../deps.js';
import { idParams, type IdParams } from './schemas.js';

const DEVICE_STATES: readonly DeviceState[] = ['online', 'offline', 'unknown'];

/** A device as the API shows it; times are ISO 8601, null when never seen. */
export interface DeviceView {
  id: string;
  kind: DeviceKind;
  resident: string;
  residentName: string | null;
  /** The resident's community and building (for filtering and for spotting a building-wide outage). */
  community: string | null;
  building: string | null;
  state: DeviceState;
  lastSeen: string | null;
  lastStatusAt: string | null;
  battery: number | null;
  rssi: number | null;
  lastRejection: { reason: RejectionReason; detail: string; at: string } | null;
  rejectedCount: number;
}

interface ListQuery {
  state?: DeviceState;
  resident?: string;
  community?: string;
}

const listQuerySchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...DEVICE_STATES] },
    resident: { type: 'string', minLength: 1, maxLength: 100 },
    community: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function toView(device: Device, directory: DeviceDirectory, resident: Resident | null): DeviceView {
  // The secret hash stays out: the view lists only what an operator needs to see.
  const health = directory.health(device.id);
  return {
    id: device.id,
    kind: device.kind,
    resident: device.resident,
    residentName: resident?.name ?? null,
    community: resident?.community ?? null,
    building: resident ? buildingOf(resident) : null,
    state: health?.state ?? 'unknown',
    lastSeen: iso(health?.lastSeen ?? null),
    lastStatusAt: iso(health?.lastStatusAt ?? null),
    battery: health?.battery ?? null,
    rssi: health?.rssi ?? null,
    lastRejection: health?.lastRejection
      ? { reason: health.lastRejection.reason, detail: health.lastRejection.detail, at: new Date(health.lastRejection.at).toISOString() }
      : null,
    rejectedCount: health?.rejectedCount ?? 0,
  };
}

export const deviceRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  // Device health and care tasks are for staff and grid workers; a volunteer sees only her visits.
  app.addHook('onRequest', requireRole('admin', 'duty_officer', 'worker'));
  const directory = deps.devices;

  app.get<{ Querystring: ListQuery }>('/devices', { schema: { querystring: listQuerySchema } }, async (request) => {
    const { state, resident } = request.query;
    // A worker session sees its own community only; asking for another one is refused, not silently narrowed.
    const scope = communityScope(request.caller);
    if (scope !== null && request.query.community !== undefined && request.query.community !== scope) {
      throw new GatewayError('GW_ERR_FORBIDDEN', `you may see community ${scope} only`);
    }
    const community = scope ?? request.query.community;
    const devices = (await directory.listDevices()).filter((d) => !resident || d.resident === resident);
    // Several devices share a resident: look each resident up once per request.
    const residents = new Map<string, Promise<Resident | null>>();
    const views = await Promise.all(
      devices.map(async (d) => {
        let lookup = residents.get(d.resident);
        if (!lookup) {
          lookup = directory.getResident(d.resident);
          residents.set(d.resident, lookup);
        }
        return toView(d, directory, await lookup);
      }),
    );
    return views
      .filter((v) => (!state || v.state === state) && (!community || v.community === community))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });

  app.get<{ Params: IdParams }>('/devices/:id', { schema: { params: idParams } }, async (request) => {
    const device = await directory.getDevice(request.params.id);
    if (!device) throw new GatewayError('GW_ERR_UNKNOWN_DEVICE');
    const resident = await directory.getResident(device.resident);
    const scope = communityScope(request.caller);
    if (scope !== null && resident?.community !== scope)
      throw new GatewayError('GW_ERR_FORBIDDEN', 'the device belongs to another community');
    return toView(device, directory, resident);
  });
};
