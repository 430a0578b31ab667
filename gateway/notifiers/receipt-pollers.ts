// Which receipt pollers run: one per domestic provider in use, when its receipts cannot be pushed to the gateway.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { AliyunSmsProvider } from './aliyun.js';
import type { SmsProvider } from './provider.js';
import { chooseReceiptMode, type ReceiptMode } from './receipt-mode.js';
import { ReceiptPoller, aliyunPullSource, tencentPullSource, type AwaitingReceipts } from './receipt-poller.js';
import type { ReceiptSink, ReplySink } from './receipts.js';
import { TencentSmsProvider } from './tencent.js';

export interface ReceiptPollerSetup {
  /** SMS_PROVIDER's and SMS_FALLBACK_PROVIDER's providers. */
  providers: readonly (SmsProvider | null)[];
  setting: 'auto' | ReceiptMode;
  webhookKey: string | null;
  publicUrl: string;
  store: AwaitingReceipts;
  receipts: ReceiptSink;
  replies: ReplySink;
  clock: Clock;
  log: Logger;
}

/** Pollers for the Aliyun and Tencent providers in use, or none when their callbacks can reach the gateway. */
export function receiptPollers(s: ReceiptPollerSetup): ReceiptPoller[] {
  const domestic = s.providers.filter(
    (p): p is AliyunSmsProvider | TencentSmsProvider => p instanceof AliyunSmsProvider || p instanceof TencentSmsProvider,
  );
  if (domestic.length === 0) return [];
  const choice = chooseReceiptMode({ setting: s.setting, webhookKey: s.webhookKey, publicUrl: s.publicUrl });
  s.log.info({ mode: choice.mode, providers: domestic.map((p) => p.name) }, choice.reason);
  if (choice.mode === 'push') return [];
  return domestic.map((provider) => {
    const log = s.log.child({ part: `${provider.name}-receipts` });
    const source =
      provider instanceof AliyunSmsProvider
        ? aliyunPullSource({ store: s.store, query: (m) => provider.queryReceipt(m), log })
        : tencentPullSource({ pullReceipts: () => provider.pullReceipts(), pullReplies: (now) => provider.pullReplies(now) });
    return new ReceiptPoller({ source, receipts: s.receipts, replies: s.replies, clock: s.clock, log });
  });
}
