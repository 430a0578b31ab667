// Paging: turns "page this person for this incident" into SMS on the outbound queue, each carrying its reply context.
import type { Clock } from '../core/clock.js';
import type { FamilyMember, Incident, OutboundSms, PlanResponder, Resident, Responder, ResponderRole, SmsPurpose } from '../core/types.js';
import {
  familyPage,
  familyResolved,
  familyResponderComing,
  othersTaken,
  pageLink,
  workerPage,
} from './messages.js';
import { inactivityPageHours } from '../wellness/rules.js';
import type { ReplyCodes } from './reply-codes.js';

export type NewSms = Pick<OutboundSms, 'to' | 'body' | 'purpose' | 'incidentId' | 'step' | 'role' | 'personId' | 'context'> & {
  /** What the provider gets when it must differ from the stored `body` (a sign-in code): held in memory only, never stored. */
  sendBody?: string;
};

/** The outbound SMS queue (the notifiers' dispatcher): enqueue persists and returns; sending happens behind it. */
export interface SmsQueue {
  enqueue(msg: NewSms): Promise<OutboundSms>;
}

/** Signs a per-recipient incident-page link; returns the query string (gateway/http/links.ts LinkSigner). */
export interface PageLinkSigner {
  sign(code: string, personId: string, role: string, expiresAt: number): string;
}

export interface PagerDeps {
  sms: SmsQueue;
  timeZone: string;
  publicUrl: string;
  /** Without it the link carries no signature (and the incident page refuses it). */
  links?: PageLinkSigner;
  /** Dates the links' expiry; needed with `links`. */
  clock?: Clock;
  /** How long a link works after its page is sent. */
  linkTtlMs?: number;
  /** Gives each page its reply code ("1A"); without it pages carry none and only a bare 1 or 2 works. */
  replyCodes?: ReplyCodes;
}

/** 24 h: long enough to resolve a slow incident from the same SMS, short enough that an old phone is no key. */
export const PAGE_LINK_TTL_MS = 24 * 60 * 60 * 1000;

export class Pager {
  constructor(private readonly deps: PagerDeps) {}

  /** The page itself (one segment) and then the incident link. */
  async pageResponder(incident: Incident, resident: Resident, responder: PlanResponder, step: number): Promise<OutboundSms[]> {
    const replyCode = await this.replyCode(responder.phone, incident.id);
    const text = workerPage({ resident, type: incident.type, at: incident.openedAt, timeZone: this.deps.timeZone, step, ...replyCode, ...hoursOf(incident, resident), ...(incident.test ? { test: true } : {}) });
    const page = await this.send(incident, responder.phone, text, 'page', step, responder.role, responder.id, replyCode);
    const link = await this.send(incident, responder.phone, this.link(incident, responder.id, responder.role), 'page_link', step, responder.role, responder.id);
    return [page, link];
  }

  private link(incident: Incident, personId: string, role: ResponderRole): string {
    const { links, clock, publicUrl } = this.deps;
    if (!links || !clock) return pageLink(publicUrl, incident.code);
    const expiresAt = clock.now() + (this.deps.linkTtlMs ?? PAGE_LINK_TTL_MS);
    return pageLink(publicUrl, incident.code, links.sign(incident.code, personId, role, expiresAt));
  }

  /**
   * Each family member's page, and the first time also their own link to the incident page, where they can follow
   * who was paged and whether it was taken (care notes stay off the family's page).
   */
  async pageFamily(incident: Incident, resident: Resident, responder: Pick<PlanResponder, 'name' | 'role'> | null, step: number): Promise<OutboundSms[]> {
    const out: OutboundSms[] = [];
    for (const [i, member] of resident.family.entries()) {
      const personId = familyPersonId(resident.id, i);
      const replyCode = await this.replyCode(member.phone, incident.id);
      const body = familyPage({
        resident,
        type: incident.type,
        at: incident.openedAt,
        timeZone: this.deps.timeZone,
        step,
        responderName: responder?.name ?? null,
        responderRole: responder?.role,
        ...replyCode,
        ...hoursOf(incident, resident),
      });
      out.push(await this.send(incident, member.phone, body, 'page', step, 'family', personId, replyCode));
      // Later rounds (nobody else to page) repeat the page, not the link: it works for 24 hours.
      if (step === 1) out.push(await this.send(incident, member.phone, this.link(incident, personId, 'family'), 'page_link', step, 'family', personId));
    }
    return out;
  }

  /** After an acknowledgement: the family learns who is coming; everyone else paged learns it is taken. */
  async notifyTaken(incident: Incident, resident: Resident, by: Responder, paged: OutboundSms[]): Promise<void> {
    const told = new Set<string>(by.phone ? [by.phone] : []);
    for (const member of incident.plan.family) {
      if (told.has(member.phone)) continue;
      told.add(member.phone);
      await this.send(incident, member.phone, familyResponderComing(resident.name, by.name, by.phone), 'notice', null, 'family', null);
    }
    for (const msg of paged) {
      if (msg.purpose !== 'page' || told.has(msg.to)) continue;
      told.add(msg.to);
      await this.send(incident, msg.to, othersTaken(resident.name, by.name), 'notice', null, msg.role, msg.personId);
    }
  }

  async notifyResolved(incident: Incident, resident: Resident): Promise<void> {
    if (incident.firstPagedAt === null) return;
    for (const member of incident.plan.family) {
      await this.send(incident, member.phone, familyResolved(resident.name), 'notice', null, 'family', null);
    }
  }

  /** A reply to an inbound SMS; it carries no context, so it never changes how the next reply is routed. */
  async reply(to: string, body: string): Promise<OutboundSms> {
    return this.deps.sms.enqueue({ to, body, purpose: 'help', incidentId: null, step: null, role: null, personId: null, context: null });
  }

  private async replyCode(phone: string, incidentId: string): Promise<{ replyCode?: string }> {
    return this.deps.replyCodes ? { replyCode: await this.deps.replyCodes.codeFor(phone, incidentId) } : {};
  }

  private send(
    incident: Incident,
    to: string,
    body: string,
    purpose: SmsPurpose,
    step: number | null,
    role: ResponderRole | null,
    personId: string | null,
    code: { replyCode?: string } = {},
  ): Promise<OutboundSms> {
    return this.deps.sms.enqueue({ to, body, purpose, incidentId: incident.id, step, role, personId, context: { kind: 'incident', incidentId: incident.id, ...code } });
  }
}

/** The person id of the resident's `index`-th family member, in their SMS and their incident-page link. */
export function familyPersonId(residentId: string, index: number): string {
  return `family:${residentId}:${index}`;
}

/** The family member a family person id names, from the incident's frozen plan; null for any other id. */
export function familyMemberOf(incident: Pick<Incident, 'residentId' | 'plan'>, personId: string): FamilyMember | null {
  const prefix = familyPersonId(incident.residentId, 0).slice(0, -1);
  if (!personId.startsWith(prefix)) return null;
  const index = personId.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(index) ? (incident.plan.family[Number(index)] ?? null) : null;
}

/** An inactivity page says how long nobody has seen a sign of life: the threshold that raised it (gateway/wellness). */
function hoursOf(incident: Incident, resident: Resident): { hours?: number } {
  if (incident.type !== 'inactivity') return {};
  const hours = inactivityPageHours(resident);
  return hours === null ? {} : { hours };
}
