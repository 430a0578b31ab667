// Per-recipient caps of the SMS providers, counted durably: a message that would pass one goes another way instead
// of into the provider's rejection.
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { MessageIntent, SmsProviderName } from '../core/types.js';

/**
 * `same_content`: messages with the same kind and parameters to one number; `number`: all messages to one number;
 * `kind`: messages of one template to one number.
 */
export type CapScope = 'same_content' | 'number' | 'kind';

export interface CapRule {
  provider: SmsProviderName;
  scope: CapScope;
  /** Messages allowed inside the window; the next one is over the cap. */
  limit: number;
  /** The rolling window; a `chinaDay` rule counts from the start of the day instead, and this bounds the pruning. */
  windowMs: number;
  /** Counted per calendar day in China time (midnight to midnight, UTC+8), as the provider counts it. */
  chinaDay?: boolean;
  /** How the provider words it, for logs and the timeline. */
  label: string;
}

export interface CapSettings {
  /** Tencent: seconds within which one number takes the same content once (0: no cap). Default 30. */
  tencentSameContentSeconds: number;
  /** Tencent: messages a number takes in 24 hours (0: no cap). Default 10. */
  tencentDailyPerNumber: number;
  /** Aliyun: messages of one template a number takes in 24 hours (0: no cap). Default 50. */
  aliyunDailyPerTemplate: number;
}

export const DEFAULT_CAP_SETTINGS: CapSettings = { tencentSameContentSeconds: 30, tencentDailyPerNumber: 10, aliyunDailyPerTemplate: 50 };

const DAY_MS = 24 * 60 * 60 * 1000;
/** China Standard Time, UTC+8 all year (no daylight saving since 1991): the providers' day runs midnight to midnight in it. */
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** The instant the China calendar day holding `now` began. */
export function chinaDayStart(now: number): number {
  return Math.floor((now + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS - CHINA_OFFSET_MS;
}

export function capRules(s: CapSettings): CapRule[] {
  const rules: CapRule[] = [];
  if (s.tencentSameContentSeconds > 0) {
    rules.push({
      provider: 'tencent',
      scope: 'same_content',
      limit: 1,
      windowMs: s.tencentSameContentSeconds * 1000,
      label: `Tencent: the same content once per ${s.tencentSameContentSeconds} s to a number`,
    });
  }
  // Tencent counts "a natural day" (自然日) in Beijing time: after midnight there a number takes its full count again.
  if (s.tencentDailyPerNumber > 0) {
    rules.push({
      provider: 'tencent',
      scope: 'number',
      limit: s.tencentDailyPerNumber,
      windowMs: DAY_MS,
      chinaDay: true,
      label: `Tencent: ${s.tencentDailyPerNumber} messages a calendar day (China time) to a number`,
    });
  }
  // Aliyun counts its day backwards from the moment of sending: the 24 hours before it.
  if (s.aliyunDailyPerTemplate > 0)
    rules.push({
      provider: 'aliyun',
      scope: 'kind',
      limit: s.aliyunDailyPerTemplate,
      windowMs: DAY_MS,
      label: `Aliyun: ${s.aliyunDailyPerTemplate} messages of one template in 24 hours to a number`,
    });
  return rules;
}

/** One message a provider took, as the caps count it (the content as a digest: no text is kept twice). */
export interface CapEntry {
  provider: SmsProviderName;
  phone: string;
  kind: string;
  content: string;
  sentAt: number;
}

export interface CapCountQuery {
  provider: SmsProviderName;
  phone: string;
  since: number;
  kind?: string;
  content?: string;
}

/** The durable counters (storage implements it). */
export interface SmsCapRepo {
  count(q: CapCountQuery): number;
  record(entry: CapEntry): Promise<void>;
  /** Forgets entries older than `before`. */
  prune(before: number): Promise<void>;
}

export interface SendCapsDeps {
  repo: SmsCapRepo;
  clock: Clock;
  rules: CapRule[];
}

/** Prune the counters once in this many records. */
const PRUNE_EVERY = 500;

export class SendCaps {
  private recorded = 0;

  constructor(private readonly deps: SendCapsDeps) {}

  /**
   * The rule this message would break at `provider`, or null. Synchronous on purpose: a few indexed counts, read on
   * the alarm path without another turn of the event loop.
   */
  exceeded(provider: SmsProviderName, msg: { to: string; intent: MessageIntent | null; body: string }): CapRule | null {
    const now = this.deps.clock.now();
    for (const rule of this.deps.rules) {
      if (rule.provider !== provider) continue;
      const q: CapCountQuery = { provider, phone: msg.to, since: rule.chinaDay ? chinaDayStart(now) : now - rule.windowMs };
      if (rule.scope === 'kind') q.kind = kindOf(msg);
      if (rule.scope === 'same_content') q.content = contentOf(msg);
      if (this.deps.repo.count(q) >= rule.limit) return rule;
    }
    return null;
  }

  /** Counts a message `provider` took. */
  async record(provider: SmsProviderName, msg: { to: string; intent: MessageIntent | null; body: string }): Promise<void> {
    if (!this.deps.rules.some((r) => r.provider === provider)) return;
    const now = this.deps.clock.now();
    await this.deps.repo.record({ provider, phone: msg.to, kind: kindOf(msg), content: contentOf(msg), sentAt: now });
    if (++this.recorded % PRUNE_EVERY === 0) {
      const longest = Math.max(...this.deps.rules.map((r) => r.windowMs));
      await this.deps.repo.prune(now - longest);
    }
  }
}

function kindOf(msg: { intent: MessageIntent | null }): string {
  return msg.intent?.kind ?? '';
}

/** Same kind and parameters, or for a message without an intent the same text. */
function contentOf(msg: { intent: MessageIntent | null; body: string }): string {
  const key = msg.intent
    ? JSON.stringify([msg.intent.kind, Object.entries(msg.intent.params).sort(([a], [b]) => a.localeCompare(b))])
    : msg.body;
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}
