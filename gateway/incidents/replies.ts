// Inbound SMS replies: each provider message acted on once; "1"/"2" (or "1A"/"2A") answer a recent, unanswered page; other replies go by context.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InboundSms, Incident, OutboundSms, Responder, SmsContext } from '../core/types.js';
import type { Pager } from '../paging/pager.js';
import {
  REPLY_ALREADY_ANSWERED,
  REPLY_DECLINED,
  REPLY_HELP,
  REPLY_NOTHING_PENDING,
  REPLY_TOO_OLD,
  REPLY_UNKNOWN_PHONE,
  replyAcknowledged,
  replyAlreadyTaken,
  replyUnknownCode,
  replyWhichOne,
} from '../paging/messages.js';
import { DEFAULT_REPLY_WINDOW_MS, parseIncidentReply } from '../paging/reply-codes.js';
import type { RecentPage } from '../paging/reply-codes.js';
import type { Store } from '../storage/ports.js';
import type { IncidentService } from './service.js';

export interface InboundSmsHandler {
  /** Acts on a verified inbound SMS (ack, decline, help reply); resolves once it is recorded. */
  handle(sms: InboundSms): Promise<{ handledAs: string }>;
}

/** Handles replies to messages of one context kind; returns how the reply was handled, for the SMS log. */
export type ReplyHandler = (sms: InboundSms, command: string, latest: OutboundSms | null) => Promise<string>;

/** Says whether a reply with no context from this phone belongs to a kind (e.g. a volunteer's 到 with no reminder sent). */
export type PhoneClaim = (phone: string) => Promise<boolean>;

export interface ReplyRouterDeps {
  store: Pick<Store, 'registry' | 'incidents' | 'sms'>;
  incidents: IncidentService;
  pager: Pager;
  log: Logger;
  clock: Clock;
  /** How long after its page a "1" or "2" still answers it (default 30 minutes; SMS_REPLY_WINDOW_MINUTES). */
  replyWindowMs?: number;
  /** Metrics hook: a message id seen before (a provider's retry, or a replay) was answered but not acted on. */
  onDuplicate?: (provider: string) => void;
}

/** Full-width digits and letters, spaces and punctuation around a one-word reply are common on phones. */
export function normaliseReply(body: string): string {
  return body
    .normalize('NFKC')
    .trim()
    .replace(/^[\s.,。，!！?？]+|[\s.,。，!！?？]+$/g, '')
    .toUpperCase();
}

type IncidentAction = 'ack' | 'decline';

interface Outcome {
  handledAs: string;
  incidentId: string | null;
}

export class ReplyRouter implements InboundSmsHandler {
  private readonly handlers = new Map<SmsContext['kind'], ReplyHandler>();
  private readonly fallbacks = new Map<SmsContext['kind'], PhoneClaim>();

  constructor(private readonly deps: ReplyRouterDeps) {
    // A reply other than 1/2 after a page: how to answer one.
    this.handlers.set('incident', async (sms, _command, latest) => {
      if (!latest) return 'no_incident';
      await this.deps.pager.reply(sms.from, REPLY_HELP);
      return 'help';
    });
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
    const { store, clock, log } = this.deps;
    const sid = sms.providerSid;
    // A provider retries until it gets a 2xx, and a captured, validly signed post can be sent again at any time: either
    // way the same message id must not acknowledge, decline or check in a second time.
    // An empty id names no message: it cannot tell a retry from a new reply, so it is not de-duplicated.
    if (sid !== null && sid !== '' && !(await store.sms.claimInbound(sms.provider, sid, clock.now()))) {
      this.deps.onDuplicate?.(sms.provider);
      log.info({ provider: sms.provider, sid }, 'inbound SMS seen before, not acted on again');
      return { handledAs: 'duplicate' };
    }
    try {
      const outcome = await this.route(sms);
      await store.sms.recordInbound(sms, outcome.handledAs, outcome.incidentId);
      return { handledAs: outcome.handledAs };
    } catch (err) {
      // Not handled: the provider's retry of this message must be taken, not dropped as a duplicate.
      if (sid !== null) await store.sms.releaseInbound(sms.provider, sid);
      throw err;
    }
  }

  private async route(sms: InboundSms): Promise<Outcome> {
    const command = normaliseReply(sms.body);
    const latest = await this.deps.store.sms.latestWithContextTo(sms.from);
    const incidentReply = parseIncidentReply(command);
    if (incidentReply) {
      const pages = await this.recentPages(sms.from);
      if (pages.length > 0 || latest?.context?.kind === 'incident') return this.answerPage(sms, command, incidentReply, pages);
    }
    const handler = latest?.context ? this.handlers.get(latest.context.kind) : await this.fallbackFor(sms.from);
    if (handler) return { handledAs: await handler(sms, command, latest), incidentId: latest?.incidentId ?? null };
    const handledAs = (await this.isKnownPhone(sms.from)) ? 'no_context' : 'unknown_phone';
    await this.deps.pager.reply(sms.from, handledAs === 'unknown_phone' ? REPLY_UNKNOWN_PHONE : REPLY_NOTHING_PENDING);
    return { handledAs, incidentId: null };
  }

  private recentPages(phone: string): Promise<RecentPage[]> {
    const since = this.deps.clock.now() - (this.deps.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS);
    return this.deps.store.sms.recentPagesTo(phone, since);
  }

  private async fallbackFor(phone: string): Promise<ReplyHandler | undefined> {
    for (const [kind, claim] of this.fallbacks) {
      if (await claim(phone)) return this.handlers.get(kind);
    }
    return undefined;
  }

  /**
   * Which page a "1"/"2" answers: with a code, the open page carrying it; bare, the one open page (or the one whose
   * incident still waits for someone). Pages older than the window, or sent before this phone last answered their
   * incident, take no reply: a late or repeated "1" must never land on a newer alarm the sender has not read.
   */
  private async answerPage(
    sms: InboundSms,
    command: string,
    reply: { action: IncidentAction; code: string | null },
    pages: RecentPage[],
  ): Promise<Outcome> {
    const open = new Map<string, OutboundSms>();
    for (const p of pages) {
      const id = p.sms.incidentId;
      if (id && !open.has(id) && (p.answeredAt === null || p.answeredAt < p.sms.createdAt)) open.set(id, p.sms);
    }
    if (reply.code !== null) {
      const target = [...open.values()].find((m) => replyCodeOf(m) === reply.code);
      if (target) return this.apply(sms, reply.action, target);
      const answered = pages.find((p) => replyCodeOf(p.sms) === reply.code);
      await this.deps.pager.reply(sms.from, answered ? REPLY_ALREADY_ANSWERED : replyUnknownCode(command));
      return { handledAs: answered ? 'already_answered' : 'unknown_code', incidentId: answered?.sms.incidentId ?? null };
    }
    const candidates = [...open.values()];
    const [only] = candidates;
    if (!only) {
      const [newest] = pages;
      await this.deps.pager.reply(sms.from, newest ? REPLY_ALREADY_ANSWERED : REPLY_TOO_OLD);
      return { handledAs: newest ? 'already_answered' : 'too_old', incidentId: newest?.sms.incidentId ?? null };
    }
    if (candidates.length === 1) return this.apply(sms, reply.action, only);
    const waiting: { page: OutboundSms; incident: Incident }[] = [];
    for (const page of candidates) {
      const incident = page.incidentId ? await this.deps.store.incidents.get(page.incidentId) : null;
      if (incident && isWaiting(incident)) waiting.push({ page, incident });
    }
    const [first] = waiting;
    // None waits any more: the newest page gets the usual "already taken" answer.
    if (!first) return this.apply(sms, reply.action, only);
    if (waiting.length === 1) return this.apply(sms, reply.action, first.page);
    const list = [];
    for (const w of waiting) {
      const resident = await this.deps.store.registry.getResident(w.incident.residentId);
      list.push({ code: replyCodeOf(w.page), residentName: resident?.name ?? w.incident.residentId });
    }
    await this.deps.pager.reply(sms.from, replyWhichOne(reply.action === 'ack' ? '1' : '2', list));
    return { handledAs: 'ambiguous', incidentId: null };
  }

  private async apply(sms: InboundSms, action: IncidentAction, page: OutboundSms): Promise<Outcome> {
    const incidentId = page.incidentId;
    const incident = incidentId ? await this.deps.store.incidents.get(incidentId) : null;
    if (!incidentId || !incident) return { handledAs: 'no_incident', incidentId };
    const by = await this.responderFor(page, incident.plan.responders, incident.plan.family, sms.from);
    await this.deps.store.sms.markAnswered(sms.from, incidentId, this.deps.clock.now());
    if (action === 'ack') {
      try {
        await this.deps.incidents.acknowledge(incidentId, by, 'sms');
        const resident = await this.deps.store.registry.getResident(incident.residentId);
        if (resident) await this.deps.pager.reply(sms.from, replyAcknowledged(resident.name, resident.address));
        return { handledAs: 'ack', incidentId };
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_INVALID_TRANSITION') throw err;
        await this.tooLate(sms.from, incidentId);
        return { handledAs: 'ack_too_late', incidentId };
      }
    }
    if (!isWaiting(incident)) {
      await this.tooLate(sms.from, incidentId);
      return { handledAs: 'decline_too_late', incidentId };
    }
    await this.deps.incidents.decline(incidentId, by, 'sms', page.role === 'family' ? null : page.step);
    await this.deps.pager.reply(sms.from, REPLY_DECLINED);
    return { handledAs: 'decline', incidentId };
  }

  private async tooLate(phone: string, incidentId: string): Promise<void> {
    const current = await this.deps.store.incidents.get(incidentId);
    await this.deps.pager.reply(phone, current?.acknowledgedBy ? replyAlreadyTaken(current.acknowledgedBy.name) : REPLY_NOTHING_PENDING);
  }

  private async responderFor(
    page: OutboundSms,
    responders: { id: string; name: string; phone: string; role: 'worker' | 'duty_contact' }[],
    family: { name: string; phone: string }[],
    phone: string,
  ): Promise<Responder> {
    const r = responders.find((x) => x.phone === phone);
    if (r) return { role: r.role, id: r.id, name: r.name, phone };
    const f = family.find((x) => x.phone === phone);
    if (f) return { role: 'family', id: page.personId, name: f.name, phone };
    const worker = (await this.deps.store.registry.listWorkers()).find((w) => w.phone === phone);
    if (worker) return { role: 'worker', id: worker.id, name: worker.name, phone };
    return { role: page.role ?? 'worker', id: page.personId, name: phone, phone };
  }

  private async isKnownPhone(phone: string): Promise<boolean> {
    const { registry } = this.deps.store;
    if ((await registry.listWorkers()).some((w) => w.phone === phone)) return true;
    if ((await registry.listVolunteers()).some((v) => v.phone === phone)) return true;
    return (await registry.listResidents()).some((r) => r.family.some((f) => f.phone === phone));
  }
}

function replyCodeOf(sms: OutboundSms): string | null {
  return sms.context?.kind === 'incident' ? (sms.context.replyCode ?? null) : null;
}

/** Still waiting for someone to go: a reply can acknowledge or pass it on. */
function isWaiting(incident: Incident): boolean {
  return incident.state === 'open' || incident.state === 'pending';
}
