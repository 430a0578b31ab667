// Responder selection: on-duty workers nearest to the resident's home, then the station, frozen into an escalation plan.
import type { Community, EscalationPlan, EscalationSettings, GeoPoint, PlanResponder, Resident, Worker } from '../core/types.js';
import { isOnDuty } from './shifts.js';

const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres (haversine). */
export function distanceM(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * On-duty workers ordered nearest first. Workers without a known position come after every located one;
 * equal distances are broken by id, so the same input always gives the same order.
 */
export function rankOnDutyWorkers(resident: Resident, workers: Worker[], now: number, timeZone: string): PlanResponder[] {
  const home = resident.location;
  return workers
    .filter((w) => isOnDuty(w, now, timeZone))
    .map((w) => ({ w, d: home && w.location ? distanceM(home, w.location) : null }))
    .sort((a, b) => (a.d ?? Infinity) - (b.d ?? Infinity) || (a.w.id < b.w.id ? -1 : a.w.id > b.w.id ? 1 : 0))
    .map(({ w, d }) => ({ role: 'worker' as const, id: w.id, name: w.name, phone: w.phone, distanceM: d === null ? null : Math.round(d) }));
}

/** After this many workers without an answer, the community's station is paged before the rest. */
export const WORKERS_BEFORE_STATION = 3;

export interface PlanInput {
  resident: Resident;
  community: Community | null;
  workers: Worker[];
  settings: EscalationSettings;
  now: number;
  timeZone: string;
}

export function buildEscalationPlan(input: PlanInput): EscalationPlan {
  const ranked = rankOnDutyWorkers(input.resident, input.workers, input.now, input.timeZone);
  const station: PlanResponder[] = (input.community?.dutyContacts ?? []).map((c, i) => ({
    role: 'duty_contact',
    id: `duty:${input.community?.id ?? 'unknown'}:${i}`,
    name: c.name,
    phone: c.phone,
    distanceM: null,
  }));
  const responders = [...ranked.slice(0, WORKERS_BEFORE_STATION), ...station, ...ranked.slice(WORKERS_BEFORE_STATION)];
  return {
    frozenAt: input.now,
    ackTimeoutSeconds: input.settings.ackTimeoutSeconds,
    fallCancelSeconds: input.settings.fallCancelSeconds,
    ...(input.settings.voiceAfterSeconds !== undefined ? { voiceAfterSeconds: input.settings.voiceAfterSeconds } : {}),
    responders: dedupeByPhone(responders),
    family: input.resident.family.map((f) => ({ ...f })),
  };
}

/** Step n (1-based) pages this responder; after the last one the list starts again from the top. */
export function responderForStep(plan: EscalationPlan, step: number): PlanResponder | null {
  if (plan.responders.length === 0 || step < 1) return null;
  return plan.responders[(step - 1) % plan.responders.length] ?? null;
}

function dedupeByPhone(list: PlanResponder[]): PlanResponder[] {
  const seen = new Set<string>();
  return list.filter((r) => (seen.has(r.phone) ? false : (seen.add(r.phone), true)));
}
