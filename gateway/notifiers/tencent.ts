// Tencent Cloud SMS (sms.v20210111) through the official SDK: SendSms with approved templates, and PullSmsSendStatus /
// PullSmsReplyStatus when callbacks cannot be pushed. TENCENT_SMS_ENDPOINT points it at a compatible server.
import type { InboundSms } from '../core/types.js';
import type { TencentSmsConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { ProviderCapabilities, TemplateCatalogue } from './intent.js';
import { errorField, providerEndpoint } from './provider-errors.js';
import { SmsSendError, type OutgoingSms, type SmsProvider, type SmsProviderHealth, type SmsSendResult } from './provider.js';
import { tencentReplyId, type DeliveryReceipt } from './receipts.js';
import { e164From, tencentRequestParts } from './template-params.js';
import { failureAsError, tencentClient, type DomesticOutcome, type DomesticSms, type TencentSenderOptions } from './domestic-sdk.mjs';
import { domesticSender } from './domestic-sender.js';
import { senderFaultError, type SenderThreadSettings, type ThreadedSender } from './threaded-sender.js';

/** The SDK names the signing service after the endpoint's first label, so the host it talks to must read `sms.…`. */
const DEFAULT_HOST = 'sms.tencentcloudapi.com';
const DEFAULT_TIMEOUT_MS = 10_000;
const PULL_LIMIT = 100;

export const TENCENT_CAPABILITIES: ProviderCapabilities = {
  twoWay: true,
  content: 'template',
  // Individual (unverified) accounts: at most 12 characters a parameter; enterprise accounts get more.
  maxParamLength: 12,
  linksInParams: false,
  receipts: 'push_or_pull',
};

/** TENCENT_* (credentials, application, signature, region, endpoint), plus what the gateway hands over. */
export interface TencentSmsProviderDeps extends TencentSmsConfig {
  /** The template catalogue in force (the registry's `sms.templates`), read at each send: a registry import can change it. */
  catalogue: () => TemplateCatalogue;
  /** TENCENT_SMS_MAX_PARAM: the account's longest parameter (12 for individual accounts, the default); null: no limit. */
  maxParamLength?: number | null;
  timeoutMs?: number;
  log: Logger;
  /** The sender thread: its script (tests inject faulty ones) and how long a send may go unanswered. */
  senderThread?: SenderThreadSettings;
}

/** Flow control and Tencent's own trouble pass with time; everything else (template, signature, number, balance, auth) needs a person. */
export function isTransientTencentCode(code: string): boolean {
  return code.startsWith('LimitExceeded') || code.startsWith('RequestLimitExceeded') || code.startsWith('InternalError');
}

/**
 * SendSms runs on a sender thread: on the event loop the SDK's request building, signing, HTTP exchange and parsing
 * cost 1.5-3 ms of it per message on a loaded 2-core host, 0.6-1 ms through the thread (bench/provider-send.ts), and
 * its allocations added to the gateway's GC pauses; the pulls, off the alarm path, on the event loop.
 */
export class TencentSmsProvider implements SmsProvider {
  readonly name = 'tencent' as const;
  readonly capabilities: ProviderCapabilities;
  private readonly client: ReturnType<typeof tencentClient>['client'];
  private readonly agent: ReturnType<typeof tencentClient>['agent'];
  private readonly sender: ThreadedSender<DomesticSms, DomesticOutcome>;

  constructor(private readonly deps: TencentSmsProviderDeps) {
    this.capabilities = {
      ...TENCENT_CAPABILITIES,
      maxParamLength: deps.maxParamLength === undefined ? TENCENT_CAPABILITIES.maxParamLength : deps.maxParamLength,
    };
    const { protocol, host } = providerEndpoint(deps.endpoint, DEFAULT_HOST);
    const [hostname = host, port] = host.split(':');
    // The SDK names the signing service after the host's first label: a compatible server at an address is reached
    // under Tencent's own host name, through a connection to that address (FixedAddressAgent).
    const named = /^sms\./.test(hostname);
    const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const options: TencentSenderOptions = {
      provider: 'tencent',
      secretId: deps.secretId,
      secretKey: deps.secretKey,
      region: deps.region,
      endpoint: {
        protocol,
        host: named ? host : DEFAULT_HOST,
        fixedAddress: named ? null : { host: hostname, port: Number(port ?? (protocol === 'http' ? 80 : 443)) },
      },
      timeoutMs,
    };
    ({ client: this.client, agent: this.agent } = tencentClient(options));
    this.sender = domesticSender('Tencent SMS', options, deps.senderThread, deps.log);
    if (deps.endpoint) deps.log.info({ endpoint: `${protocol}://${host}` }, 'Tencent SMS requests go to a compatible server');
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const { template, params } = tencentRequestParts(this.deps.catalogue(), msg, this.capabilities.maxParamLength);
    const outcome = await this.sender.send({
      provider: 'tencent',
      phoneNumber: msg.to,
      sdkAppId: this.deps.sdkAppId,
      signName: this.deps.signName,
      templateId: template.templateId,
      templateParams: params,
      // Comes back in receipts and pulls: the stored message it belongs to.
      sessionContext: msg.id ?? null,
    });
    if (!outcome.ok) throw senderFaultError('Tencent SMS', outcome.failure) ?? toTencentSendError(failureAsError(outcome.failure));
    const code = outcome.answer.code ?? 'UNKNOWN';
    if (code !== 'Ok' || !outcome.answer.id) {
      throw new SmsSendError({
        transient: isTransientTencentCode(code),
        providerCode: code,
        httpStatus: 200,
        message: `Tencent SMS refused the message (${code}): ${outcome.answer.message ?? 'no message'}`,
      });
    }
    return { sid: outcome.answer.id, status: 'accepted' };
  }

  health(): SmsProviderHealth {
    return this.sender.health();
  }

  /** PullSmsSendStatus: receipts not fetched before (Tencent hands each out once). */
  async pullReceipts(): Promise<DeliveryReceipt[]> {
    let answer;
    try {
      answer = await this.client.PullSmsSendStatus({ Limit: PULL_LIMIT, SmsSdkAppId: this.deps.sdkAppId });
    } catch (err) {
      throw toTencentSendError(err);
    }
    const out: DeliveryReceipt[] = [];
    for (const s of answer.PullSmsSendStatusSet ?? []) {
      if (!s.SerialNo) continue;
      out.push({ sid: s.SerialNo, status: s.ReportStatus === 'SUCCESS' ? 'delivered' : 'undelivered', errorCode: s.Description ?? null });
    }
    return out;
  }

  /** PullSmsReplyStatus: replies not fetched before, with the same ids their pushed callbacks get. */
  async pullReplies(now: number): Promise<InboundSms[]> {
    let answer;
    try {
      answer = await this.client.PullSmsReplyStatus({ Limit: PULL_LIMIT, SmsSdkAppId: this.deps.sdkAppId });
    } catch (err) {
      throw toTencentSendError(err);
    }
    const out: InboundSms[] = [];
    for (const r of answer.PullSmsReplyStatusSet ?? []) {
      const nationcode = (r.CountryCode ?? '86').replace(/^\+/, '');
      const mobile = r.SubscriberNumber ?? r.PhoneNumber?.replace(/^\+?86/, '') ?? '';
      if (!mobile || r.ReplyContent === undefined) continue;
      const time = r.ReplyTime ?? 0;
      out.push({
        provider: 'tencent',
        from: e164From(mobile, nationcode),
        body: r.ReplyContent,
        providerSid: tencentReplyId({ mobile, nationcode, time, text: r.ReplyContent }),
        receivedAt: now,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.agent?.destroy();
    await this.sender.close();
  }
}

/** TencentCloudSDKHttpException: `code` for an error in Tencent's answer, `httpCode` for a non-200, neither for no answer at all. */
export function toTencentSendError(err: unknown): SmsSendError {
  const code = errorField(err, 'code');
  const httpCode = errorField(err, 'httpCode');
  const text = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && code !== '') {
    return new SmsSendError({
      transient: isTransientTencentCode(code),
      providerCode: code,
      httpStatus: 200,
      message: `Tencent SMS answered ${code}: ${text}`,
      cause: err,
    });
  }
  if (typeof httpCode === 'number') {
    return new SmsSendError({
      transient: httpCode === 408 || httpCode === 429 || httpCode >= 500,
      providerCode: null,
      httpStatus: httpCode,
      message: `Tencent SMS answered HTTP ${httpCode}: ${text}`,
      cause: err,
    });
  }
  return new SmsSendError({ transient: true, providerCode: null, message: `Tencent SMS unreachable: ${text}`, cause: err });
}
