// Pages in trouble: which of an incident's SMS must keep trying while the provider is out, and a delayed page on the timeline.
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { IncidentState, OutboundSms } from '../core/types.js';
import { DIVERTED_CODE } from '../notifiers/dispatch-types.js';
import type { IncidentRepo } from '../storage/ports.js';
import type { IncidentEvents } from './service.js';

export interface PageDeliveryDeps {
  incidents: Pick<IncidentRepo, 'get' | 'appendAudit' | 'listAudit'>;
  bus: EventBus<IncidentEvents>;
  clock: Clock;
}

/**
 * Whether an SMS of an incident in `state` still matters enough never to be given up on a transient failure. While
 * nobody has taken the incident, all of it does (pages, their links, notices). Once taken, the family's messages
 * still do: they may not have heard of the alarm at all, and they are about to learn who is coming. Once it is
 * closed, nothing does, and the usual attempt limit applies.
 */
export function keepsTryingFor(msg: Pick<OutboundSms, 'role'>, state: IncidentState): boolean {
  switch (state) {
    case 'pending':
    case 'open':
      return true;
    case 'acknowledged':
      return msg.role === 'family';
    case 'resolved':
    case 'cancelled':
      return false;
  }
}

export class PageDelivery {
  constructor(private readonly deps: PageDeliveryDeps) {}

  /** Asked by the SMS dispatcher only after a message used up its attempts: one read, off the alarm path. */
  async keepTrying(msg: OutboundSms): Promise<boolean> {
    if (!msg.incidentId) return false;
    const incident = await this.deps.incidents.get(msg.incidentId);
    return incident !== null && keepsTryingFor(msg, incident.state);
  }

  /**
   * A page still not handed to the provider after the delay threshold: the duty officer should know (and may phone
   * the person) before the outage ends. Recorded once per page, also across restarts.
   */
  async onPageDelayed(msg: OutboundSms): Promise<void> {
    if (msg.purpose !== 'page' || !msg.incidentId) return;
    const { incidents, bus, clock } = this.deps;
    const incident = await incidents.get(msg.incidentId);
    if (!incident || incident.state === 'resolved' || incident.state === 'cancelled') return;
    const timeline = await incidents.listAudit(incident.id);
    if (timeline.some((e) => e.action === 'page_delayed' && e.detail?.sms === msg.id)) return;
    const entry = await incidents.appendAudit({
      incidentId: incident.id,
      at: clock.now(),
      action: 'page_delayed',
      actor: 'system',
      channel: 'system',
      detail: {
        sms: msg.id,
        to: msg.to,
        pagedRole: msg.role,
        step: msg.step,
        attempts: msg.attempts,
        error: msg.error,
        queuedAt: msg.createdAt,
      },
    });
    bus.emit('incidentChanged', incident, entry);
  }
}

/** A page that failed for good; one another channel took instead (a call, over the SMS caps) has not failed. */
export function pageFailed(msg: Pick<OutboundSms, 'status' | 'errorCode'>): boolean {
  return (msg.status === 'failed' || msg.status === 'undelivered') && msg.errorCode !== DIVERTED_CODE;
}
