// The SMS dispatcher's types: what callers queue, its dependencies, its health, and one provider route.
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { MessageIntent, MessagePriority, OutboundSms, SmsProviderName } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import type { SendCaps } from './caps.js';
import type { CircuitBreakerHealth, CircuitBreakerOptions } from './circuit-breaker.js';
import type { TemplateCatalogue } from './intent.js';
import type { SendGate } from './send-gate.js';
import type { SmsProvider, SmsProviderHealth } from './provider.js';
import type { Leasing } from '../core/leases.js';

export interface NotifierEvents {
  /** A stored message changed status (including its creation as `queued`). */
  smsStatusChanged: [OutboundSms];
  /** A message has failed and is still not handed over `delayedAfterMs` after it was queued (once per message and run). */
  smsDelayed: [OutboundSms];
}

/**
 * What a caller supplies: the intent (kind and named parameters) and its priority, with who and what it is about. The
 * dispatcher renders the free text from the template catalogue and owns id, status, provider fields, attempts and
 * times. Secret parameters (a sign-in code) are stored masked; the clear intent is held in this process only, never
 * stored, logged or announced, so a message that needs it cannot be resent after a restart.
 */
export type NewOutboundSms = Omit<
  OutboundSms,
  | 'id'
  | 'body'
  | 'intent'
  | 'priority'
  | 'status'
  | 'provider'
  | 'providerSid'
  | 'attempts'
  | 'errorCode'
  | 'error'
  | 'createdAt'
  | 'sentAt'
  | 'updatedAt'
> & {
  intent: MessageIntent;
  priority: MessagePriority;
};

/** One provider as the dispatcher sees it: the first one, or the fallback that takes over at once. */
export interface SmsProviderRouteHealth {
  name: SmsProviderName;
  role: 'primary' | 'fallback';
  /** Its circuit breaker's state: `closed` while it takes messages. */
  state: CircuitBreakerHealth['state'];
  degraded: boolean;
  consecutiveFailures: number;
  lastError: string | null;
  breaker: CircuitBreakerHealth;
  sender: SmsProviderHealth | null;
}

/** A message no provider could take because of a cap; another channel (a call) may take it instead. */
export type SmsDivert = (msg: OutboundSms, reason: string) => Promise<boolean>;

/** The error code of a message that a divert hook took instead of the SMS providers (not a failed page). */
export const DIVERTED_CODE = 'DIVERTED';
/** The error code of a message every provider would have refused for its per-recipient cap. */
export const CAPPED_CODE = 'CAPPED';

/** The fields of Twilio's status callback the dispatcher uses. */
export interface StatusCallbackParams {
  MessageSid: string;
  MessageStatus: string;
  ErrorCode?: string | null;
}

export interface SmsDispatcherHealth {
  provider: SmsProviderName;
  /** Outbox mode, the last send attempt failed for a reason on the provider's side, the breaker is not closed, or the provider reports a problem. */
  degraded: boolean;
  lastError: string | null;
  consecutiveFailures: number;
  /** Messages waiting for a slot, being sent, or waiting to retry. */
  queued: number;
  /** Provider calls in flight. */
  sending: number;
  /** Of those, messages held back because the provider's breaker is not closed: they wait, they do not fail. */
  waiting: number;
  /** The provider's circuit breaker. */
  breaker: CircuitBreakerHealth;
  /** The provider's own state (its sender thread), when it reports one. */
  sender: SmsProviderHealth | null;
  /** Each provider, the first one first. */
  providers: SmsProviderRouteHealth[];
}

export interface SmsDispatcherDeps {
  store: Pick<Store, 'sms' | 'transaction' | 'afterCommit'>;
  provider: SmsProvider;
  /** SMS_FALLBACK_PROVIDER: takes a message at once when the first provider fails it or would pass its cap. */
  fallback?: SmsProvider | null;
  /** The providers' per-recipient caps; without them nothing is capped. */
  caps?: SendCaps | null;
  /** The registry's catalogue (`sms.templates`); kinds it lacks come from the built-in demo catalogue. */
  catalogue?: () => TemplateCatalogue;
  /** Asked when every provider is capped for a message: true when another channel took it (see SmsDivert). */
  divert?: SmsDivert;
  clock: Clock;
  log: Logger;
  bus: EventBus<NotifierEvents>;
  /** PUBLIC_URL: the status callback is `${publicUrl}/webhooks/twilio/status`. */
  publicUrl: string;
  /** Total tries per message, the first included (default 7), unless `keepTrying` says to go on. */
  maxAttempts?: number;
  /**
   * Asked only once a message has used its `maxAttempts` on transient failures: true keeps it trying (with the capped
   * backoff) instead of failing it, e.g. a page of an incident that still waits for a responder. Default: never.
   */
  keepTrying?: (msg: OutboundSms) => Promise<boolean>;
  /** The provider's circuit breaker: failures in a row that open it, and the cooldown before a probe. */
  breaker?: CircuitBreakerOptions;
  /** A message still unsent this long after it was queued, having failed at least once, is announced (default 30 s). */
  delayedAfterMs?: number;
  /** Provider calls in flight at once (default 16). */
  concurrency?: number;
  /** Of those, slots routine messages never take, kept for alarms (default a quarter; routine keeps at least one). */
  alarmReserve?: number;
  /** Wait before retry number `attempt` (1-based: after the first failure). Default: 0.5 s doubling to 60 s, ±20 % jitter. */
  backoffMs?: (attempt: number) => number;
  /**
   * Metrics hook: a message was handed to the provider, `latencyMs` after the call started at `startedAt`
   * (performance.now()). Called once its new state is stored, later than the call's end: measure from `startedAt`.
   */
  onSent?: (msg: OutboundSms, latencyMs: number, startedAt: number) => void;
  /** Metrics hook: a message failed for good. */
  onFailed?: (msg: OutboundSms) => void;
  /**
   * Several nodes on one database: each unsent message is leased to the node that sends it (renewed while held), and
   * this node takes over messages whose node stopped renewing. Without it (one node), start() resumes every unsent one.
   */
  leasing?: Leasing<OutboundSms>;
}

/** One provider with its own breaker: the first one, or the fallback. */
export interface Route {
  provider: SmsProvider;
  role: 'primary' | 'fallback';
  gate: SendGate;
  consecutiveFailures: number;
  lastError: string | null;
}

export function routeHealth(r: Route): SmsProviderRouteHealth {
  const sender = r.provider.health?.() ?? null;
  const breaker = r.gate.health();
  return {
    name: r.provider.name,
    role: r.role,
    state: breaker.state,
    degraded: r.provider.name === 'outbox' || r.consecutiveFailures > 0 || !!sender?.problem || breaker.state !== 'closed',
    consecutiveFailures: r.consecutiveFailures,
    lastError: r.lastError,
    breaker,
    sender,
  };
}

/** The dispatcher's health: the first provider's figures at the top (as before a fallback existed), then each route. */
export function dispatcherHealth(
  routes: readonly Route[],
  counts: { waiting: number; sending: number; backingOff: number },
): SmsDispatcherHealth {
  const providers = routes.map((r) => routeHealth(r));
  const [first] = providers;
  if (!first) throw new Error('no SMS provider');
  // Held back only while no provider at all takes messages.
  const stuck = providers.every((p) => p.state !== 'closed');
  return {
    provider: first.name,
    degraded: first.degraded,
    lastError: first.lastError,
    consecutiveFailures: first.consecutiveFailures,
    queued: counts.waiting + counts.sending + counts.backingOff,
    sending: counts.sending,
    waiting: stuck ? counts.waiting + counts.backingOff : 0,
    breaker: first.breaker,
    sender: first.sender,
    providers,
  };
}
