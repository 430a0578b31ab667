// The SMS provider simulators the alarm benchmark sends to (Twilio, Aliyun, Tencent), each behind one small handle, and the gateway settings that point at them.
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { AliyunSmsSim } from '../../simulators/sms/aliyun-server.js';
import type { DomesticSmsSim } from '../../simulators/sms/domestic-base.js';
import { TencentSmsSim } from '../../simulators/sms/tencent-server.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';

export const BENCH_SMS_PROVIDERS = ['twilio', 'aliyun', 'tencent'] as const;
export type BenchSmsProvider = (typeof BENCH_SMS_PROVIDERS)[number];

/** Everything a simulator needs, plain data so that it crosses to a child process. */
export type SmsServerSpec =
  | { provider: 'twilio'; accountSid: string; authToken: string }
  | {
      provider: 'aliyun' | 'tencent';
      /** The approved templates: the catalogue the gateway sends with. */
      catalogue: TemplateCatalogue;
      signName: string;
      /** AccessKey id / SecretId, its secret, and Tencent's SdkAppId. */
      keyId: string;
      keySecret: string;
      sdkAppId: string;
      /** Where receipts are pushed: the gateway's PUBLIC_URL, with its WEBHOOK_KEY. */
      gatewayUrl: string;
      webhookKey: string;
    };

/** A request arrival: what the SMS says and when its headers arrived (performance.now() of the simulator's process). */
export interface SmsArrival {
  body: string;
  receivedHr: number;
}

/** One running simulator as the benchmark sees it. */
export interface SmsSimHandle {
  url: string;
  on(event: 'message', fn: (m: SmsArrival) => void): unknown;
  off(event: 'message', fn: (m: SmsArrival) => void): unknown;
  /** Messages accepted, and delivery reports answered by the gateway (Twilio: status callbacks; the others: receipt pushes). */
  counts(): { messages: number; callbacks: number };
  /** Resolves once every accepted message has had all its delivery reports answered. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** Twilio posts three status callbacks a message (queued, sent, delivered); Aliyun and Tencent push one receipt. */
const REPORTS_PER_MESSAGE: Record<BenchSmsProvider, number> = { twilio: 3, aliyun: 1, tencent: 1 };

// A few milliseconds, as the Twilio simulator's callbacks: each alarm waits for its receipts before the next one.
const RECEIPT_DELAY_MS = 2;

/** Starts the simulator `spec` names on a free loopback port. */
export async function startSmsSimulator(spec: SmsServerSpec): Promise<SmsSimHandle> {
  if (spec.provider === 'twilio') {
    const sim = new TwilioSimServer({ accountSid: spec.accountSid, authToken: spec.authToken });
    await sim.start({ port: 0 });
    return handle({
      url: sim.url,
      onMessage: (fn, off) => void (off ? sim.off('message', fn) : sim.on('message', fn)),
      onReport: (fn, off) => void (off ? sim.off('callback', fn) : sim.on('callback', fn)),
      counts: () => sim.counts(),
      perMessage: REPORTS_PER_MESSAGE.twilio,
      stop: () => sim.stop(),
    });
  }
  const sim = domesticSim(spec);
  await sim.start({ port: 0 });
  let receipts = 0;
  sim.on('push', (p) => {
    if (p.kind === 'receipt') receipts++;
  });
  return handle({
    url: sim.url,
    onMessage: (fn, off) => void (off ? sim.off('message', fn) : sim.on('message', fn)),
    onReport: (fn, off) => void (off ? sim.off('push', fn) : sim.on('push', fn)),
    counts: () => ({ messages: sim.messages().length, callbacks: receipts }),
    perMessage: REPORTS_PER_MESSAGE[spec.provider],
    stop: () => sim.stop(),
  });
}

function domesticSim(spec: Extract<SmsServerSpec, { provider: 'aliyun' | 'tencent' }>): DomesticSmsSim {
  const hook = (path: string): string => `${spec.gatewayUrl}${path}?key=${encodeURIComponent(spec.webhookKey)}`;
  const common = { catalogue: spec.catalogue, signNames: [spec.signName], receiptDelayMs: RECEIPT_DELAY_MS };
  if (spec.provider === 'aliyun') {
    return new AliyunSmsSim({
      ...common,
      accessKeyId: spec.keyId,
      accessKeySecret: spec.keySecret,
      reportUrl: hook('/webhooks/aliyun/sms-report'),
      upUrl: hook('/webhooks/aliyun/sms-up'),
    });
  }
  // Under load one worker gets many pages a second; the real 30-second rule is the gateway's cap to honour, not the benchmark's.
  return new TencentSmsSim({
    ...common,
    secretId: spec.keyId,
    secretKey: spec.keySecret,
    sdkAppId: spec.sdkAppId,
    statusUrl: hook('/webhooks/tencent/sms-status'),
    replyUrl: hook('/webhooks/tencent/sms-reply'),
    thirtySecondRule: false,
  });
}

/** What `handle` needs of a simulator: its arrivals, its delivery reports, and how many of each so far. */
interface Observed {
  url: string;
  onMessage(fn: (m: SmsArrival) => void, off?: boolean): void;
  onReport(fn: () => void, off?: boolean): void;
  counts(): { messages: number; callbacks: number };
  perMessage: number;
  stop(): Promise<void>;
}

function handle(sim: Observed): SmsSimHandle {
  const done = (): boolean => {
    const c = sim.counts();
    return c.callbacks >= sim.perMessage * c.messages;
  };
  return {
    url: sim.url,
    on: (_event, fn) => sim.onMessage(fn),
    off: (_event, fn) => sim.onMessage(fn, true),
    counts: () => sim.counts(),
    settled: () =>
      done()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const check = (): void => {
              if (!done()) return;
              sim.onReport(check, true);
              resolve();
            };
            sim.onReport(check);
          }),
    stop: () => sim.stop(),
  };
}

/** The gateway's environment for sending through the simulator at `url`. */
export function gatewaySmsEnv(spec: SmsServerSpec, url: string): Record<string, string> {
  if (spec.provider === 'twilio')
    return { TWILIO_ACCOUNT_SID: spec.accountSid, TWILIO_AUTH_TOKEN: spec.authToken, TWILIO_FROM: '+15005550006', TWILIO_API_URL: url };
  // Receipts are pushed (the simulator reaches the gateway on loopback). The caps stay on, so their counting is on the
  // measured path, but high enough that a benchmark's thousand pages to four workers are never diverted.
  const common = {
    SMS_PROVIDER: spec.provider,
    WEBHOOK_KEY: spec.webhookKey,
    SMS_RECEIPTS: 'push',
    TENCENT_SMS_DAILY_PER_NUMBER: '1000000',
    ALIYUN_SMS_DAILY_PER_TEMPLATE: '1000000',
  };
  if (spec.provider === 'aliyun') {
    return {
      ...common,
      ALIYUN_ACCESS_KEY_ID: spec.keyId,
      ALIYUN_ACCESS_KEY_SECRET: spec.keySecret,
      ALIYUN_SMS_SIGN_NAME: spec.signName,
      ALIYUN_SMS_ENDPOINT: url,
    };
  }
  return {
    ...common,
    TENCENT_SECRET_ID: spec.keyId,
    TENCENT_SECRET_KEY: spec.keySecret,
    TENCENT_SMS_SDK_APP_ID: spec.sdkAppId,
    TENCENT_SMS_SIGN_NAME: spec.signName,
    TENCENT_SMS_ENDPOINT: url,
  };
}
