// Read side of incidents for the API: the incident with its resident, every page and its delivery status, and the timeline.
import type { AuditChannel, Incident, OutboundSms, Responder } from '../core/types.js';
import type { IncidentActions, IncidentView, PageView } from '../http/deps.js';
import type { IncidentFilter, Store } from '../storage/ports.js';
import type { IncidentService } from './service.js';

export class IncidentViews implements IncidentActions {
  constructor(private readonly deps: { store: Store; service: IncidentService }) {}

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

  private async toView(incident: Incident, withTimeline: boolean): Promise<IncidentView> {
    const { store } = this.deps;
    const [resident, messages] = await Promise.all([store.registry.getResident(incident.residentId), store.sms.listForIncident(incident.id)]);
    const view: IncidentView = {
      ...incident,
      resident: incident.residentId,
      residentName: resident?.name ?? null,
      address: resident?.address ?? null,
      pages: messages.filter((m) => m.purpose === 'page').map((m) => toPageView(m, incident)),
    };
    if (withTimeline) view.timeline = await store.incidents.listAudit(incident.id);
    return view;
  }
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
  };
}
