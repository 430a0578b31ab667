// Paging: turns "page this person for this incident" into SMS on the outbound queue, each carrying its reply context.
import type { Clock } from '../core/clock.js';
import type {
  FamilyMember,
  Incident,
  MessageIntent,
  MessagePriority,
  OutboundSms,
  PlanResponder,
  Resident,
  Responder,
  ResponderRole,
  SmsPurpose,
} from '../core/types.js';
import { PAGE_KINDS, isMessageKind } from '../notifiers/kinds.js';
import { familyPage, familyResolved, familyResponderComing, othersTaken, pageLink, workerPage } from './messages.js';
import { inactivityPageHours } from '../wellness/rules.js';
import type { RecentPagesRepo, ReplyCodes } from './reply-codes.js';

/** A message to queue: what it means (kind and parameters, rendered by the notifiers) and how urgent it is. */
export type NewSms = Pick<OutboundSms, 'to' | 'purpose' | 'incidentId' | 'step' | 'role' | 'personId' | 'context'> & {
  intent: MessageIntent;
  priority: MessagePriority;
};

/** The outbound SMS queue (the notifiers' dispatcher): enqueue persists and returns; sending happens behind it. */
export interface SmsQueue {
  enqueue(msg: NewSms): Promise<OutboundSms>;
}

/**
 * Issues the short code an SMS carries instead of a signed link (Tencent refuses variable links): the code, typed at
 * the fixed `PUBLIC_URL/i`, opens this person's signed link to the incident page until `expiresAt`.
 */
export interface PageLinkCodes {
  issue(incidentCode: string, personId: string, role: string, expiresAt: number): Promise<string>;
}

export interface PagerDeps {
  sms: SmsQueue;
  timeZone: string;
  publicUrl: string;
  /** Without it the SMS names the incident's own code, which opens nothing (the incident page wants a signed link). */
  links?: PageLinkCodes;
  /** Dates the links' expiry; needed with `links`. */
  clock?: Clock;
  /** How long a link works after its page is sent. */
  linkTtlMs?: number;
  /** Gives each page its reply code ("1A"); without it pages carry none and only a bare 1 or 2 works. */
  replyCodes?: ReplyCodes;
  /** The pages each phone holds: a page is not sent again to a phone that holds it unanswered. */
  pages?: Pick<RecentPagesRepo, 'recentPagesTo'>;
}

/** 24 h: long enough to resolve a slow incident from the same SMS, short enough that an old phone is no key. */
export const PAGE_LINK_TTL_MS = 24 * 60 * 60 * 1000;

export class Pager {
  constructor(private readonly deps: PagerDeps) {}

  /**
   * The page itself (one segment) and then the incident link. `fresh`: the incident was created in the caller's
   * transaction, so no page of it exists anywhere yet and the phone cannot hold one: the look-up is skipped.
   */
  async pageResponder(
    incident: Incident,
    resident: Resident,
    responder: PlanResponder,
    step: number,
    opts: { fresh?: boolean } = {},
  ): Promise<OutboundSms[]> {
    // A fresh incident's page always goes (no phone can hold one of it yet), so its link code is issued beside the
    // reply-code look-up: a store that pipelines (PostgreSQL) answers both in one round trip.
    const [replyCode, freshLink] = await Promise.all([
      this.replyCode(responder.phone, incident.id),
      opts.fresh === true ? this.link(incident, responder.id, responder.role) : null,
    ]);
    const intent = workerPage({
      resident,
      type: incident.type,
      at: incident.openedAt,
      timeZone: this.deps.timeZone,
      step,
      ...replyCode,
      ...hoursOf(incident, resident),
      ...(incident.test ? { test: true } : {}),
    });
    if (opts.fresh !== true && (await this.holdsUnanswered(responder.phone, incident, intent, step))) return [];
    const page = await this.send(incident, responder.phone, intent, 'page', step, responder.role, responder.id, replyCode);
    const link = await this.send(
      incident,
      responder.phone,
      freshLink ?? (await this.link(incident, responder.id, responder.role)),
      'page_link',
      step,
      responder.role,
      responder.id,
    );
    return [page, link];
  }

  private async link(incident: Incident, personId: string, role: ResponderRole): Promise<MessageIntent> {
    const { links, clock } = this.deps;
    if (!links || !clock) return pageLink(incident.code);
    const expiresAt = clock.now() + (this.deps.linkTtlMs ?? PAGE_LINK_TTL_MS);
    return pageLink(await links.issue(incident.code, personId, role, expiresAt));
  }

  /**
   * Whether the phone already holds this page unanswered: one of this incident's pages, not failed and not answered
   * since, of this same round or with this same content. Sending it again would only add a duplicate (which
   * providers count against their caps and may refuse), not a person.
   */
  private async holdsUnanswered(phone: string, incident: Incident, intent: MessageIntent, step: number): Promise<boolean> {
    if (!this.deps.pages || !isMessageKind(intent.kind) || !PAGE_KINDS.has(intent.kind)) return false;
    const held = await this.deps.pages.recentPagesTo(phone, incident.openedAt);
    return held.some(
      ({ sms, answeredAt }) =>
        sms.incidentId === incident.id &&
        sms.status !== 'failed' &&
        sms.status !== 'undelivered' &&
        (answeredAt === null || answeredAt < sms.createdAt) &&
        (sms.step === step || sameIntent(sms.intent, intent)),
    );
  }

  /**
   * Each family member's page, and the first time also their own link to the incident page, where they can follow
   * who was paged and whether it was taken (care notes stay off the family's page).
   */
  async pageFamily(
    incident: Incident,
    resident: Resident,
    responder: Pick<PlanResponder, 'name' | 'role'> | null,
    step: number,
  ): Promise<OutboundSms[]> {
    const out: OutboundSms[] = [];
    for (const [i, member] of resident.family.entries()) {
      const personId = familyPersonId(resident.id, i);
      const replyCode = await this.replyCode(member.phone, incident.id);
      const intent = familyPage({
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
      if (await this.holdsUnanswered(member.phone, incident, intent, step)) continue;
      out.push(await this.send(incident, member.phone, intent, 'page', step, 'family', personId, replyCode));
      // Later rounds (nobody else to page) repeat the page, not the link: it works for 24 hours.
      if (step === 1)
        out.push(
          await this.send(incident, member.phone, await this.link(incident, personId, 'family'), 'page_link', step, 'family', personId),
        );
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
  async reply(to: string, intent: MessageIntent, priority: MessagePriority = 'routine'): Promise<OutboundSms> {
    return this.deps.sms.enqueue({
      to,
      intent,
      priority,
      purpose: 'help',
      incidentId: null,
      step: null,
      role: null,
      personId: null,
      context: null,
    });
  }

  private async replyCode(phone: string, incidentId: string): Promise<{ replyCode?: string }> {
    return this.deps.replyCodes ? { replyCode: await this.deps.replyCodes.codeFor(phone, incidentId) } : {};
  }

  private send(
    incident: Incident,
    to: string,
    intent: MessageIntent,
    purpose: SmsPurpose,
    step: number | null,
    role: ResponderRole | null,
    personId: string | null,
    code: { replyCode?: string } = {},
  ): Promise<OutboundSms> {
    // Everything about an open alarm is alarm traffic; the all-clear is routine.
    const priority: MessagePriority = intent.kind === 'resolved' ? 'routine' : 'alarm';
    return this.deps.sms.enqueue({
      to,
      intent,
      priority,
      purpose,
      incidentId: incident.id,
      step,
      role,
      personId,
      context: { kind: 'incident', incidentId: incident.id, ...code },
    });
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

function sameIntent(a: MessageIntent | null, b: MessageIntent): boolean {
  if (!a || a.kind !== b.kind) return false;
  const keys = Object.keys(b.params);
  return keys.length === Object.keys(a.params).length && keys.every((k) => a.params[k] === b.params[k]);
}
