// Pulls Aliyun/Tencent receipts (and Tencent's replies) on a timer when they cannot be pushed, and applies them
// exactly as pushed ones: receipts through the dispatcher, replies through the inbound path.
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InboundSms, OutboundSms } from '../core/types.js';
import { applyReceipt, type DeliveryReceipt, type ReceiptSink, type ReplySink } from './receipts.js';

/** A poll of one provider: receipts, and the replies it holds for us. */
export interface PullSource {
  readonly name: 'aliyun' | 'tencent';
  pull(now: number): Promise<{ receipts: DeliveryReceipt[]; replies: InboundSms[] }>;
}

/** The store's view a per-message pull (Aliyun's QuerySendDetails) needs. */
export interface AwaitingReceipts {
  listAwaitingReceipt(provider: string, since: number, limit: number): Promise<OutboundSms[]>;
}

/** What QuerySendDetails answers for one message; null while the carrier has not answered. */
export type QueryReceipt = (message: { sid: string; to: string; sentAt: number }) => Promise<DeliveryReceipt | null>;

/** Messages older than this are no longer asked about: Aliyun keeps details for 30 days, but a day tells the story. */
const ALIYUN_LOOKBACK_MS = 24 * 3_600_000;
const ALIYUN_BATCH = 50;

/** Aliyun: one QuerySendDetails per message still waiting for its receipt (Aliyun has no pull for replies). */
export function aliyunPullSource(deps: { store: AwaitingReceipts; query: QueryReceipt; log: Logger }): PullSource {
  return {
    name: 'aliyun',
    async pull(now) {
      const waiting = await deps.store.listAwaitingReceipt('aliyun', now - ALIYUN_LOOKBACK_MS, ALIYUN_BATCH);
      const receipts: DeliveryReceipt[] = [];
      for (const m of waiting) {
        if (!m.providerSid) continue;
        try {
          const r = await deps.query({ sid: m.providerSid, to: m.to, sentAt: m.sentAt ?? m.createdAt });
          if (r) receipts.push(r);
        } catch (err) {
          // One message's query failing (throttled, say) must not hold up the others' receipts.
          deps.log.warn({ sms: m.id, err: errorMessage(err) }, 'Aliyun QuerySendDetails failed; asked again next poll');
        }
      }
      return { receipts, replies: [] };
    },
  };
}

/** Tencent: PullSmsSendStatus and PullSmsReplyStatus hand out what was not fetched before. */
export function tencentPullSource(deps: {
  pullReceipts: () => Promise<DeliveryReceipt[]>;
  pullReplies: (now: number) => Promise<InboundSms[]>;
}): PullSource {
  return {
    name: 'tencent',
    async pull(now) {
      return { receipts: await deps.pullReceipts(), replies: await deps.pullReplies(now) };
    },
  };
}

export interface ReceiptPollerDeps {
  source: PullSource;
  receipts: ReceiptSink;
  replies: ReplySink;
  clock: Clock;
  log: Logger;
  /** Between the end of one poll and the start of the next (default 10 s: a reply "1" is acted on within that). */
  intervalMs?: number;
}

export class ReceiptPoller {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private current: Promise<void> | null = null;
  private lastError: string | null = null;

  constructor(private readonly deps: ReceiptPollerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  /** The last poll's failure, or null when it went through. */
  health(): { lastError: string | null } {
    return { lastError: this.lastError };
  }

  /** One poll: pulls, then applies every receipt and reply; resolves when they are handled. */
  async pollOnce(): Promise<{ receipts: number; replies: number }> {
    const { source, log } = this.deps;
    const { receipts, replies } = await source.pull(this.deps.clock.now());
    for (const r of receipts) {
      if (!(await applyReceipt(this.deps.receipts, r)))
        log.debug({ provider: source.name, sid: r.sid }, 'pulled receipt for an unknown message');
    }
    for (const sms of replies) {
      const result = await this.deps.replies.handle(sms);
      log.info({ provider: source.name, sid: sms.providerSid, handledAs: result.handledAs }, 'pulled inbound SMS handled');
    }
    return { receipts: receipts.length, replies: replies.length };
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.pollOnce()
        .then(
          () => {
            this.lastError = null;
          },
          (err: unknown) => {
            this.lastError = errorMessage(err);
            this.deps.log.warn({ provider: this.deps.source.name, err: this.lastError }, 'receipt poll failed; trying again next interval');
          },
        )
        .finally(() => {
          this.current = null;
          this.schedule(this.deps.intervalMs ?? 10_000);
        });
    }, delayMs);
    this.timer.unref();
  }
}
