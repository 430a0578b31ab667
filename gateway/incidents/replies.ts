// Inbound SMS replies, routed by the latest message with a reply context sent to that phone: "1" acknowledges, "2" declines.
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InboundSms, OutboundSms, Responder, SmsContext } from '../core/types.js';
import type { InboundSmsHandler } from '../http/deps.js';
import type { Pager } from '../paging/pager.js';
import { REPLY_DECLINED, REPLY_HELP, REPLY_NOTHING_PENDING, REPLY_UNKNOWN_PHONE, replyAcknowledged, replyAlreadyTaken } from '../paging/messages.js';
import type { Store } from '../storage/ports.js';
import type { IncidentService } from './service.js';

/** Handles replies to messages of one context kind; returns how the reply was handled, for the SMS log. */
export type ReplyHandler = (sms: InboundSms, command: string, latest: OutboundSms | null) => Promise<string>;

/** Says whether a reply with no context from this phone belongs to a kind (e.g. a volunteer's 到 with no reminder sent). */
export type PhoneClaim = (phone: string) => Promise<boolean>;

export interface ReplyRouterDeps {
  store: Store;
  incidents: IncidentService;
  pager: Pager;
  log: Logger;
}

/** Full-width digits and letters, spaces and punctuation around a one-word reply are common on phones. */
export function normaliseReply(body: string): string {
  return body
    .normalize('NFKC')
    .trim()
    .replace(/^[\s.,。，!！?？]+|[\s.,。，!！?？]+$/g, '')
    .toUpperCase();
}

export class ReplyRouter implements InboundSmsHandler {
  private readonly handlers = new Map<SmsContext['kind'], ReplyHandler>();
  private readonly fallbacks = new Map<SmsContext['kind'], PhoneClaim>();

  constructor(private readonly deps: ReplyRouterDeps) {
    this.handlers.set('incident', (sms, command, latest) => (latest ? this.incidentReply(sms, command, latest) : Promise.resolve('no_incident')));
  }

  /** Other features (e.g. visits) route their own replies by registering their context kind. */
  register(kind: SmsContext['kind'], handler: ReplyHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Routes replies with no context from phones that `claim` accepts to the handler of `kind`. */
  setFallback(kind: SmsContext['kind'], claim: PhoneClaim): void {
    this.fallbacks.set(kind, claim);
  }

  async handle(sms: InboundSms): Promise<{ handledAs: string }> {
    const command = normaliseReply(sms.body);
    const latest = await this.deps.store.sms.latestWithContextTo(sms.from);
    const handler = latest?.context ? this.handlers.get(latest.context.kind) : await this.fallbackFor(sms.from);
    let handledAs: string;
    if (!handler) {
      handledAs = (await this.isKnownPhone(sms.from)) ? 'no_context' : 'unknown_phone';
      await this.deps.pager.reply(sms.from, handledAs === 'unknown_phone' ? REPLY_UNKNOWN_PHONE : REPLY_NOTHING_PENDING);
    } else {
      handledAs = await handler(sms, command, latest);
    }
    await this.deps.store.sms.recordInbound(sms, handledAs, latest?.incidentId ?? null);
    return { handledAs };
  }

  private async fallbackFor(phone: string): Promise<ReplyHandler | undefined> {
    for (const [kind, claim] of this.fallbacks) {
      if (await claim(phone)) return this.handlers.get(kind);
    }
    return undefined;
  }

  private async incidentReply(sms: InboundSms, command: string, latest: OutboundSms): Promise<string> {
    const incidentId = latest.incidentId;
    if (!incidentId) return 'no_incident';
    const incident = await this.deps.store.incidents.get(incidentId);
    if (!incident) return 'no_incident';
    const by = await this.responderFor(latest, incident.plan.responders, incident.plan.family, sms.from);
    if (command === '1') {
      try {
        await this.deps.incidents.acknowledge(incidentId, by, 'sms');
        const resident = await this.deps.store.registry.getResident(incident.residentId);
        if (resident) await this.deps.pager.reply(sms.from, replyAcknowledged(resident.name, resident.address));
        return 'ack';
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_INVALID_TRANSITION') throw err;
        const current = await this.deps.store.incidents.get(incidentId);
        await this.deps.pager.reply(sms.from, current?.acknowledgedBy ? replyAlreadyTaken(current.acknowledgedBy.name) : REPLY_NOTHING_PENDING);
        return 'ack_too_late';
      }
    }
    if (command === '2') {
      await this.deps.incidents.decline(incidentId, by, 'sms', latest.role === 'family' ? null : latest.step);
      await this.deps.pager.reply(sms.from, REPLY_DECLINED);
      return 'decline';
    }
    await this.deps.pager.reply(sms.from, REPLY_HELP);
    return 'help';
  }

  private async responderFor(
    latest: OutboundSms,
    responders: { id: string; name: string; phone: string; role: 'worker' | 'duty_contact' }[],
    family: { name: string; phone: string }[],
    phone: string,
  ): Promise<Responder> {
    const r = responders.find((x) => x.phone === phone);
    if (r) return { role: r.role, id: r.id, name: r.name, phone };
    const f = family.find((x) => x.phone === phone);
    if (f) return { role: 'family', id: latest.personId, name: f.name, phone };
    const worker = (await this.deps.store.registry.listWorkers()).find((w) => w.phone === phone);
    if (worker) return { role: 'worker', id: worker.id, name: worker.name, phone };
    return { role: latest.role ?? 'worker', id: latest.personId, name: phone, phone };
  }

  private async isKnownPhone(phone: string): Promise<boolean> {
    const { registry } = this.deps.store;
    if ((await registry.listWorkers()).some((w) => w.phone === phone)) return true;
    if ((await registry.listVolunteers()).some((v) => v.phone === phone)) return true;
    return (await registry.listResidents()).some((r) => r.family.some((f) => f.phone === phone));
  }
}
