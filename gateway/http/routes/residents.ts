// /api/residents, /api/workers, /api/volunteers, /api/communities: the people lists with search and device health, scoped per role.
import type { FastifyPluginAsync } from 'fastify';
import type { Device, DeviceHealth, Resident, Worker } from '../../core/types.js';
import { isOnDuty } from '../../paging/shifts.js';
import { requireRole } from '../auth.js';
import type { Role } from '../../access/roles.js';
import type { DashboardPageDeps } from './page-deps.js';
import { readableCommunity } from '../../access/scope.js';

interface ListQuery {
  q?: string;
  community?: string;
}

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { q: { type: 'string', maxLength: 100 }, community: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export interface DeviceSummary {
  id: string;
  kind: string;
  state: string;
  battery: number | null;
  lastSeen: number | null;
  /** The last rejected message (bad payload, unknown type…), as the device's last error. */
  lastError: { reason: string; detail: string; at: number } | null;
}

/** A resident's devices at a glance: `ok`, or the worst problem first. */
export type ResidentHealth = 'ok' | 'offline' | 'low_battery' | 'unknown' | 'no_device';

const LOW_BATTERY = 20;

/** Medical and care notes are for the people who respond; a volunteer sees names and addresses only. */
export function seesNotes(role: Role): boolean {
  return role === 'admin' || role === 'duty_officer' || role === 'worker';
}

function matches(q: string | undefined, ...fields: (string | undefined)[]): boolean {
  if (!q) return true;
  const needle = q.trim().toLowerCase();
  return fields.some((f) => f?.toLowerCase().includes(needle));
}

function summary(d: Device, h: DeviceHealth | null): DeviceSummary {
  return {
    id: d.id,
    kind: d.kind,
    state: h?.state ?? 'unknown',
    battery: h?.battery ?? null,
    lastSeen: h?.lastSeen ?? null,
    lastError: h?.lastRejection ?? null,
  };
}

export function residentHealth(devices: DeviceSummary[]): ResidentHealth {
  if (devices.length === 0) return 'no_device';
  if (devices.some((d) => d.state === 'offline')) return 'offline';
  if (devices.some((d) => d.battery !== null && d.battery <= LOW_BATTERY)) return 'low_battery';
  if (devices.some((d) => d.state !== 'online')) return 'unknown';
  return 'ok';
}

export const residentRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  const staff = requireRole('admin', 'duty_officer', 'worker');

  app.get('/communities', { preHandler: staff }, async (request) => {
    const scope = readableCommunity(request.caller, undefined);
    return (await pages.registry.listCommunities())
      .filter((c) => scope === null || c.id === scope)
      .map((c) => ({ id: c.id, name: c.name }));
  });

  app.get<{ Querystring: ListQuery }>('/residents', { preHandler: staff, schema: { querystring: listQuery } }, async (request) => {
    const scope = readableCommunity(request.caller, request.query.community);
    const notes = seesNotes(request.caller?.role ?? 'volunteer');
    const [residents, devices] = await Promise.all([pages.registry.listResidents(), pages.registry.listDevices()]);
    const byResident = new Map<string, Device[]>();
    for (const d of devices) byResident.set(d.resident, [...(byResident.get(d.resident) ?? []), d]);
    return residents
      .filter((r) => (scope === null || r.community === scope) && matches(request.query.q, r.id, r.name, r.address, r.building))
      .map((r) =>
        residentView(
          r,
          (byResident.get(r.id) ?? []).map((d) => summary(d, pages.deviceHealth(d.id))),
          notes,
        ),
      );
  });

  app.get<{ Querystring: ListQuery }>('/workers', { preHandler: staff, schema: { querystring: listQuery } }, async (request) => {
    const scope = readableCommunity(request.caller, request.query.community);
    const now = pages.clock.now();
    return (await pages.registry.listWorkers())
      .filter((w) => (scope === null || w.community === scope) && matches(request.query.q, w.id, w.name, w.phone))
      .map((w) => workerView(w, isOnDuty(w, now, pages.timeZone)));
  });

  app.get<{ Querystring: ListQuery }>(
    '/volunteers',
    { preHandler: requireRole('admin', 'duty_officer'), schema: { querystring: listQuery } },
    async (request) =>
      (await pages.registry.listVolunteers())
        .filter((v) => matches(request.query.q, v.id, v.name, v.phone, v.team))
        .map((v) => ({ id: v.id, name: v.name, phone: v.phone, team: v.team ?? null, leader: v.leader === true })),
  );
};

function residentView(r: Resident & { notes?: unknown }, devices: DeviceSummary[], withNotes: boolean) {
  return {
    id: r.id,
    name: r.name,
    community: r.community,
    address: r.address,
    building: r.building ?? null,
    highRisk: r.highRisk === true,
    ...(withNotes ? { notes: typeof r.notes === 'string' ? r.notes : null } : {}),
    family: r.family.map((f) => ({ name: f.name, relation: f.relation ?? null, phone: f.phone })),
    health: residentHealth(devices),
    devices,
  };
}

function workerView(w: Worker, onDuty: boolean) {
  return {
    id: w.id,
    name: w.name,
    phone: w.phone,
    community: w.community,
    onDutyNow: onDuty,
    shifts: w.shifts,
    location: w.location ?? null,
  };
}
