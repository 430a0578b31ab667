// Read side of incidents for the API: the incident with its resident, every page and its delivery status, and the timeline.
import type { AuditChannel, AuditEntry, Community, Incident, OutboundSms, Resident, Responder } from '../core/types.js';
import type { IncidentFilter, Store } from '../storage/ports.js';
import type { IncidentService } from './service.js';
import type { VoiceCall } from '../voice/repo.js';

/** An incident as the API shows it: the stored incident plus its pages (SMS) and, for one incident, its timeline. */
export interface IncidentView extends Incident {
  resident: string;
  residentName: string | null;
  address: string | null;
  pages: PageView[];
  timeline?: AuditEntry[];
  /** Who and where, for the duty board's resident card; absent when the resident left the registry. */
  residentCard?: ResidentCard;
}

/** The resident as responders need them: where to go, whom to call, what to know on arrival. */
export interface ResidentCard {
  name: string;
  address: string;
  building: string | null;
  community: string;
  communityName: string | null;
  family: { name: string; relation: string | null; phone: string }[];
  /** Care notes (medication, mobility); shown to staff and the paged worker, never to volunteers. */
  notes: string | null;
  /** Who holds a spare key (registry field `keyHolder`, free text or `{name, phone}`). */
  keyHolder: string | null;
  location: { lat: number; lon: number } | null;
}

export interface PageView {
  id: string;
  to: string;
  role: string;
  name: string | null;
  step: number | null;
  purpose: string;
  status: string;
  createdAt: number;
  sentAt: number | null;
  updatedAt: number;
  errorCode: string | null;
  /** Tries so far. */
  attempts: number;
  /** Not yet handed to the provider, and failed at least once or held back past the delay threshold by a provider outage. */
  retrying: boolean;
}

export interface IncidentActions {
  list(filter: IncidentFilter): Promise<IncidentView[]>;
  /** With its timeline; null when there is no such incident. */
  view(id: string): Promise<IncidentView | null>;
  viewByCode(code: string): Promise<IncidentView | null>;
  /** Throws GatewayError GW_ERR_INCIDENT_NOT_FOUND or GW_ERR_INVALID_TRANSITION. */
  acknowledge(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
  resolve(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
  /** "已到达" (on site); optional so older implementations still fit. Throws like acknowledge. */
  markOnSite?(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
}

export class IncidentViews implements IncidentActions {
  constructor(private readonly deps: { store: Pick<Store, 'registry' | 'incidents' | 'sms' | 'voice'>; service: IncidentService }) {}

  async list(filter: IncidentFilter): Promise<IncidentView[]> {
    const incidents = await this.deps.store.incidents.list(filter);
    return Promise.all(incidents.map((i) => this.toView(i, false)));
  }

  async view(id: string): Promise<IncidentView | null> {
    const incident = await this.deps.store.incidents.get(id);
    return incident ? this.toView(incident, true) : null;
  }

  async viewByCode(code: string): Promise<IncidentView | null> {
    const incident = await this.deps.store.incidents.getByCode(code);
    return incident ? this.toView(incident, true) : null;
  }

  acknowledge(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    return this.deps.service.acknowledge(id, by, channel, note);
  }

  resolve(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    return this.deps.service.resolve(id, by, channel, note);
  }

  markOnSite(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    return this.deps.service.markOnSite(id, by, channel, note);
  }

  /** The view the live feed pushes: what GET /api/incidents/:id answers, without the timeline. */
  async liveView(incident: Incident): Promise<IncidentView> {
    return this.toView(incident, false);
  }

  private async toView(incident: Incident, withTimeline: boolean): Promise<IncidentView> {
    const { store } = this.deps;
    const [resident, messages, calls] = await Promise.all([
      store.registry.getResident(incident.residentId),
      store.sms.listForIncident(incident.id),
      store.voice.listForIncident(incident.id),
    ]);
    const view: IncidentView = {
      ...incident,
      // Always present, so a dashboard or machine client can mark a test without guessing at a missing field.
      test: incident.test === true,
      resident: incident.residentId,
      residentName: resident?.name ?? null,
      address: resident?.address ?? null,
      pages: [...messages.filter((m) => m.purpose === 'page').map((m) => toPageView(m, incident)), ...calls.map(callPageView)],
    };
    if (resident) view.residentCard = residentCard(resident, await store.registry.getCommunity(resident.community));
    if (withTimeline) view.timeline = await store.incidents.listAudit(incident.id);
    return view;
  }
}

/** The resident card of the board and the incident page; registry extras (`notes`, `keyHolder`) read defensively. */
export function residentCard(resident: Resident, community: Community | null): ResidentCard {
  return {
    name: resident.name,
    address: resident.address,
    building: resident.building ?? null,
    community: resident.community,
    communityName: community?.name ?? null,
    family: resident.family.map((f) => ({ name: f.name, relation: f.relation ?? null, phone: f.phone })),
    notes: extraText(resident, 'notes'),
    keyHolder: keyHolderText(resident),
    location: resident.location ? { lat: resident.location.lat, lon: resident.location.lon } : null,
  };
}

function extraText(doc: object, key: string): string | null {
  const value: unknown = Object.entries(doc).find(([k]) => k === key)?.[1];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** `keyHolder: 楼下刘阿姨` or `keyHolder: { name: 刘阿姨, phone: "+86…" }`. */
function keyHolderText(resident: Resident): string | null {
  const raw: unknown = 'keyHolder' in resident ? resident.keyHolder : undefined;
  if (typeof raw === 'string') return raw.trim() || null;
  if (typeof raw === 'object' && raw !== null) {
    const name = extraText(raw, 'name');
    const phone = extraText(raw, 'phone');
    return [name, phone].filter((v) => v !== null).join(' ') || null;
  }
  return null;
}

function toPageView(m: OutboundSms, incident: Incident): PageView {
  const name =
    incident.plan.responders.find((r) => r.phone === m.to)?.name ?? incident.plan.family.find((f) => f.phone === m.to)?.name ?? null;
  return {
    id: m.id,
    to: m.to,
    role: m.role ?? 'unknown',
    name,
    step: m.step,
    purpose: m.purpose,
    status: m.status,
    createdAt: m.createdAt,
    sentAt: m.sentAt,
    updatedAt: m.updatedAt,
    errorCode: m.errorCode,
    attempts: m.attempts,
    retrying: (m.status === 'queued' || m.status === 'sending') && m.error !== null,
  };
}

/** A call is a page too: purpose `call`, its status the call's (ringing, acknowledged, busy, answered_no_key, …). */
function callPageView(c: VoiceCall): PageView {
  return {
    id: c.id,
    to: c.to,
    role: c.role,
    name: c.name,
    step: c.step,
    purpose: 'call',
    status: c.status,
    createdAt: c.createdAt,
    sentAt: c.providerCallId ? c.updatedAt : null,
    updatedAt: c.updatedAt,
    errorCode: c.error,
    attempts: c.status === 'queued' || c.status === 'capped' ? 0 : 1,
    retrying: false,
  };
}
