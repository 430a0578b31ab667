// Aliyun SMS (dysmsapi 2017-05-25) through the official SDK: SendSms with approved templates, and QuerySendDetails for
// receipts when they cannot be pushed. ALIYUN_SMS_ENDPOINT points it at a compatible server instead of Aliyun's.
import { QuerySendDetailsRequest } from '@alicloud/dysmsapi20170525';
import type { AliyunSmsConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { ProviderCapabilities, TemplateCatalogue } from './intent.js';
import { SmsSendError, type OutgoingSms, type SmsProvider, type SmsProviderHealth, type SmsSendResult } from './provider.js';
import type { DeliveryReceipt } from './receipts.js';
import { aliyunRequestParts, domesticNumber } from './template-params.js';
import { errorField, providerEndpoint } from './provider-errors.js';
import { aliyunClient, failureAsError, type AliyunSenderOptions, type DomesticOutcome, type DomesticSms } from './domestic-sdk.mjs';
import { domesticSender } from './domestic-sender.js';
import { senderFaultError, type SenderThreadSettings, type ThreadedSender } from './threaded-sender.js';

const DEFAULT_HOST = 'dysmsapi.aliyuncs.com';
const DEFAULT_TIMEOUT_MS = 10_000;

export const ALIYUN_CAPABILITIES: ProviderCapabilities = {
  twoWay: true,
  content: 'template',
  // Aliyun's rule for a template variable: 1-35 characters.
  maxParamLength: 35,
  linksInParams: true,
  receipts: 'push_or_pull',
};

/** ALIYUN_* (credentials, the approved signature unless a template names its own, endpoint), plus what the gateway hands over. */
export interface AliyunSmsProviderDeps extends AliyunSmsConfig {
  /** The template catalogue in force (the registry's `sms.templates`), read at each send: a registry import can change it. */
  catalogue: () => TemplateCatalogue;
  /** Connect and read timeout of each request; a send that takes longer fails as transient. */
  timeoutMs?: number;
  log: Logger;
  /** The sender thread: its script (tests inject faulty ones) and how long a send may go unanswered. */
  senderThread?: SenderThreadSettings;
}

/**
 * Codes in Aliyun's answer that a later try can get past: its own platform trouble (isp.*, except a missing RAM
 * permission), and flow control. Every other isv.* code (template, signature, number, balance) needs a person.
 */
export function isTransientAliyunCode(code: string): boolean {
  if (code === 'isp.RAM_PERMISSION_DENY') return false;
  return (
    code.startsWith('isp.') ||
    code.includes('Throttling') ||
    code === 'isv.BUSINESS_LIMIT_CONTROL' ||
    code === 'ServiceUnavailable' ||
    code === 'InternalError'
  );
}

/**
 * SendSms runs on a sender thread: on the event loop the SDK's request building, signing, HTTP exchange and parsing
 * cost 1.5-3 ms of it per message on a loaded 2-core host, 0.6-1 ms through the thread (bench/provider-send.ts), and
 * its allocations added to the gateway's GC pauses; QuerySendDetails, off the alarm path, on the event loop.
 */
export class AliyunSmsProvider implements SmsProvider {
  readonly name = 'aliyun' as const;
  readonly capabilities = ALIYUN_CAPABILITIES;
  private readonly client: ReturnType<typeof aliyunClient>;
  private readonly sender: ThreadedSender<DomesticSms, DomesticOutcome>;

  constructor(private readonly deps: AliyunSmsProviderDeps) {
    const { protocol, host } = providerEndpoint(deps.endpoint, DEFAULT_HOST);
    const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const options: AliyunSenderOptions = {
      provider: 'aliyun',
      accessKeyId: deps.accessKeyId,
      accessKeySecret: deps.accessKeySecret,
      endpoint: { protocol, host, fixedAddress: null },
      timeoutMs,
    };
    this.client = aliyunClient(options);
    this.sender = domesticSender('Aliyun SMS', options, deps.senderThread, deps.log);
    if (deps.endpoint) deps.log.info({ endpoint: `${protocol}://${host}` }, 'Aliyun SMS requests go to a compatible server');
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const { template, params } = aliyunRequestParts(this.deps.catalogue(), msg, this.capabilities.maxParamLength);
    const outcome = await this.sender.send({
      provider: 'aliyun',
      phoneNumbers: domesticNumber(msg.to),
      signName: template.signName ?? this.deps.signName,
      templateCode: template.templateCode,
      templateParam: JSON.stringify(params),
      // Comes back in receipts and QuerySendDetails: the stored message it belongs to.
      outId: msg.id ?? null,
    });
    if (!outcome.ok) throw senderFaultError('Aliyun SMS', outcome.failure) ?? toAliyunSendError(failureAsError(outcome.failure));
    const code = outcome.answer.code ?? 'UNKNOWN';
    if (code !== 'OK' || !outcome.answer.id) {
      throw new SmsSendError({
        transient: isTransientAliyunCode(code),
        providerCode: code,
        httpStatus: 200,
        message: `Aliyun SMS refused the message (${code}): ${outcome.answer.message ?? 'no message'}`,
      });
    }
    return { sid: outcome.answer.id, status: 'accepted' };
  }

  health(): SmsProviderHealth {
    return this.sender.health();
  }

  async close(): Promise<void> {
    await this.sender.close();
  }

  /**
   * QuerySendDetails for one sent message: its receipt once the carrier has answered, null while it waits
   * (SendStatus 1) or when Aliyun does not know it yet. `sentAt` picks the day (Beijing time) Aliyun files it under.
   */
  async queryReceipt(message: { sid: string; to: string; sentAt: number }): Promise<DeliveryReceipt | null> {
    const request = new QuerySendDetailsRequest({
      phoneNumber: domesticNumber(message.to),
      bizId: message.sid,
      sendDate: beijingDay(message.sentAt),
      pageSize: 10,
      currentPage: 1,
    });
    let body;
    try {
      body = (await this.client.querySendDetails(request)).body;
    } catch (err) {
      throw toAliyunSendError(err);
    }
    if (body?.code !== 'OK')
      throw new SmsSendError({
        transient: isTransientAliyunCode(body?.code ?? ''),
        providerCode: body?.code ?? null,
        message: `Aliyun QuerySendDetails: ${body?.message ?? 'no answer'}`,
      });
    const detail = body.smsSendDetailDTOs?.smsSendDetailDTO?.[0];
    // 1: waiting for the carrier; 2: failed; 3: delivered.
    if (!detail || detail.sendStatus === 1 || detail.sendStatus === undefined) return null;
    return { sid: message.sid, status: detail.sendStatus === 3 ? 'delivered' : 'undelivered', errorCode: detail.errCode ?? null };
  }
}

/** yyyyMMdd in Beijing time, as QuerySendDetails files messages. */
export function beijingDay(ms: number): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    ms,
  );
  return parts.replaceAll('-', '');
}

/** The SDK throws its ClientError/ServerError/ThrottlingError for an HTTP error answer, and Node's errors for no answer at all. */
export function toAliyunSendError(err: unknown): SmsSendError {
  const status = errorField(err, 'statusCode');
  const code = errorField(err, 'code');
  const text = err instanceof Error ? err.message : String(err);
  if (typeof status === 'number') {
    const providerCode = typeof code === 'string' ? code : null;
    const transient = status === 408 || status === 429 || status >= 500 || (providerCode !== null && isTransientAliyunCode(providerCode));
    return new SmsSendError({
      transient,
      providerCode,
      httpStatus: status,
      message: `Aliyun SMS answered ${status}${providerCode ? ` (${providerCode})` : ''}: ${text}`,
      cause: err,
    });
  }
  return new SmsSendError({
    transient: true,
    providerCode: typeof code === 'string' ? code : null,
    message: `Aliyun SMS unreachable: ${text}`,
    cause: err,
  });
}
