// A local Tencent-Cloud-SMS-compatible API (sms 2021-01-11): verifies the SDK's TC3-HMAC-SHA256 signature as Tencent
// does, sends only approved templates and signatures with Tencent's per-number codes, and pushes (or queues for a pull)
// status reports and replies in Tencent's callback formats.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  DomesticSmsSim,
  fillTemplate,
  positionalText,
  toE164,
  type DomesticMessage,
  type DomesticPush,
  type DomesticRequest,
  type DomesticSimOptions,
  type HandledAnswer,
} from './domestic-base.js';

export interface TencentSimOptions extends DomesticSimOptions {
  secretId?: string;
  secretKey?: string;
  sdkAppId?: string;
  /** Where status reports are pushed (the gateway's /webhooks/tencent/sms-status?key=…); null: kept for PullSmsSendStatus. */
  statusUrl?: string | null;
  /** Where replies are pushed (the gateway's /webhooks/tencent/sms-reply?key=…); null: kept for PullSmsReplyStatus. */
  replyUrl?: string | null;
  /** Tencent's default rule: the same content to the same number at most once in 30 s (default on). */
  thirtySecondRule?: boolean;
  /** An individual (unverified) account: template parameters of at most 12 characters (default on). */
  individual?: boolean;
}

const VERSION = '2021-01-11';
const MAX_SKEW_S = 300;

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Beijing wall-clock time as Tencent writes it in status reports. */
function beijingTime(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

interface PendingReceipt {
  UserReceiveTime: number;
  CountryCode: string;
  SubscriberNumber: string;
  PhoneNumber: string;
  SerialNo: string;
  ReportStatus: 'SUCCESS' | 'FAIL';
  Description: string;
  SessionContext: string;
}

interface PendingReply {
  ExtendCode: string;
  CountryCode: string;
  PhoneNumber: string;
  SignName: string;
  ReplyContent: string;
  ReplyTime: number;
  SubscriberNumber: string;
}

export class TencentSmsSim extends DomesticSmsSim {
  readonly provider = 'tencent' as const;
  readonly secretId: string;
  readonly secretKey: string;
  readonly sdkAppId: string;
  private readonly pendingReceipts: PendingReceipt[] = [];
  private readonly pendingReplies: PendingReply[] = [];
  /** Last send of each content to each number, for the 30-second rule. */
  private readonly lastSame = new Map<string, number>();

  constructor(private readonly tencent: TencentSimOptions) {
    super(tencent);
    this.secretId = tencent.secretId ?? `AKID${randomBytes(12).toString('hex')}`;
    this.secretKey = tencent.secretKey ?? randomBytes(16).toString('hex');
    this.sdkAppId = tencent.sdkAppId ?? '1400006666';
  }

  async reply(from: string, body: string): Promise<DomesticPush | null> {
    const last = this.messages()
      .filter((m) => m.to === from)
      .at(-1);
    const mobile = from.replace(/^\+86/, '');
    const time = Math.floor(Date.now() / 1000);
    const sign = last?.signName ?? this.opts.signNames[0] ?? '';
    if (!this.tencent.replyUrl) {
      this.pendingReplies.push({
        ExtendCode: '',
        CountryCode: '86',
        PhoneNumber: from,
        SignName: sign,
        ReplyContent: body,
        ReplyTime: time,
        SubscriberNumber: mobile,
      });
      return null;
    }
    return this.pushJson('reply', this.tencent.replyUrl, { extend: '', mobile, nationcode: '86', sign, text: body, time });
  }

  protected async handle(req: IncomingMessage, raw: string, entry: DomesticRequest): Promise<HandledAnswer> {
    const action = headerOf(req, 'x-tc-action');
    entry.action = action;
    const refusal = this.verify(req, raw);
    if (refusal) return refusal;
    if (headerOf(req, 'x-tc-version') !== VERSION) return apiError('NoSuchVersion', 'The requested version does not exist.');
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = Object.fromEntries(Object.entries(parsed));
    } catch {
      return apiError('FailedOperation.JsonParseFail', 'The request body is not valid JSON.');
    }
    if (body.SmsSdkAppId !== this.sdkAppId) return apiError('InvalidParameterValue.SdkAppIdNotExist', 'SdkAppId does not exist.');
    if (action === 'SendSms') return this.sendSms(body, entry);
    if (action === 'PullSmsSendStatus') return ok({ PullSmsSendStatusSet: this.pendingReceipts.splice(0, limitOf(body)) });
    if (action === 'PullSmsReplyStatus') return ok({ PullSmsReplyStatusSet: this.pendingReplies.splice(0, limitOf(body)) });
    return apiError('InvalidAction', 'The requested action does not exist.');
  }

  /** TC3-HMAC-SHA256 as Tencent checks it; null when the request is authentic. */
  private verify(req: IncomingMessage, raw: string): HandledAnswer | null {
    const m =
      /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
        headerOf(req, 'authorization') ?? '',
      );
    if (!m?.[1] || !m[2] || !m[3] || !m[4] || !m[5])
      return apiError('AuthFailure.InvalidAuthorization', 'Authorization header is not TC3-HMAC-SHA256.');
    const [, secretId, date, service, signedList, signature] = m;
    if (secretId !== this.secretId) return apiError('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    const timestamp = Number(headerOf(req, 'x-tc-timestamp'));
    if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > MAX_SKEW_S)
      return apiError(
        'AuthFailure.SignatureExpire',
        'Signature expired. Timestamp and server time cannot differ by more than five minutes.',
      );
    if (date !== new Date(timestamp * 1000).toISOString().slice(0, 10))
      return apiError('AuthFailure.SignatureFailure', 'The credential date does not match X-TC-Timestamp.');
    const signed = signedList.split(';');
    if (!signed.includes('host') || !signed.includes('content-type'))
      return apiError('AuthFailure.SignatureFailure', 'Host and Content-Type must be signed.');
    const canonicalHeaders = signed
      .map((h) => {
        const value = (headerOf(req, h) ?? '').trim().toLowerCase();
        // Tencent is reached without a port; the host signed is the host name.
        return `${h}:${h === 'host' ? value.replace(/:\d+$/, '') : value}\n`;
      })
      .join('');
    const url = new URL(req.url ?? '/', 'http://sim');
    const canonicalRequest = [
      req.method ?? 'POST',
      url.pathname,
      url.search.slice(1),
      canonicalHeaders,
      signed.join(';'),
      sha256Hex(raw),
    ].join('\n');
    const stringToSign = ['TC3-HMAC-SHA256', String(timestamp), `${date}/${service}/tc3_request`, sha256Hex(canonicalRequest)].join('\n');
    const kSigning = hmac(hmac(hmac(`TC3${this.secretKey}`, date), service), 'tc3_request');
    const expected = hmac(kSigning, stringToSign);
    // The service in the credential must be this product's: a signature for another product is no signature here.
    if (service !== 'sms' || !timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
      return apiError(
        'AuthFailure.SignatureFailure',
        'The provided credentials could not be validated. Please check your signature is correct.',
      );
    }
    return null;
  }

  private sendSms(body: Record<string, unknown>, entry: DomesticRequest): HandledAnswer {
    const fault = this.takeFault();
    if (fault !== null) {
      entry.fault = fault;
      if (typeof fault === 'number')
        return { status: fault, code: String(fault), body: fault === 503 ? 'Service Unavailable' : 'Bad Gateway' };
      if (fault === 'network') return { status: 500, code: 'network', body: '' };
    }
    const numbers = Array.isArray(body.PhoneNumberSet) ? body.PhoneNumberSet.map(String) : [];
    if (numbers.length === 0 || numbers.length > 200)
      return apiError('InvalidParameterValue.IncorrectPhoneNumber', 'PhoneNumberSet must hold 1 to 200 numbers.');
    const signName = typeof body.SignName === 'string' ? body.SignName : '';
    const templateId = typeof body.TemplateId === 'string' ? body.TemplateId : '';
    const params = Array.isArray(body.TemplateParamSet) ? body.TemplateParamSet.map(String) : [];
    const context = typeof body.SessionContext === 'string' ? body.SessionContext : '';
    const entryFor = Object.values(this.opts.catalogue).find((e) => e.tencent?.templateId === templateId);
    const text = entryFor?.tencent ? positionalText(entryFor.text, entryFor.tencent.params) : null;
    const problem = ((): [string, string] | null => {
      if (fault === 'throttle') return ['LimitExceeded.DeliveryFrequencyLimit', 'the delivery frequency limit was hit'];
      if (fault === 'template_unapproved' || text === null)
        return [
          'FailedOperation.TemplateIncorrectOrUnapproved',
          'template is not approved or request content does not match the approved template content',
        ];
      if (!this.opts.signNames.includes(signName))
        return ['FailedOperation.SignatureIncorrectOrUnapproved', 'signature is not approved or signature format is incorrect'];
      const slots = Math.max(0, ...[...text.matchAll(/\{(\d+)\}/g)].map((x) => Number(x[1])));
      if (params.length !== slots)
        return [
          'FailedOperation.TemplateParamSetNotMatchApprovedTemplate',
          'the number of template parameters does not match the approved template',
        ];
      if ((this.tencent.individual ?? true) && params.some((p) => [...p].length > 12))
        return ['InvalidParameterValue.TemplateParameterLengthLimit', 'a template parameter is longer than 12 characters'];
      return null;
    })();
    const set = numbers.map((number) => {
      const to = toE164(number);
      const base = { PhoneNumber: number, Fee: 0, SessionContext: context, IsoCode: 'CN', SerialNo: '' };
      if (!to) return { ...base, Code: 'InvalidParameterValue.IncorrectPhoneNumber', Message: 'invalid number' };
      if (problem || text === null)
        return { ...base, Code: problem?.[0] ?? 'FailedOperation.TemplateIncorrectOrUnapproved', Message: problem?.[1] ?? '' };
      const content = `【${signName}】${fillTemplate(text, params)}`;
      const sameKey = `${to}|${content}`;
      const last = this.lastSame.get(sameKey);
      if ((this.tencent.thirtySecondRule ?? true) && last !== undefined && entry.receivedAt - last < 30_000) {
        return {
          ...base,
          Code: 'LimitExceeded.PhoneNumberThirtySecondLimit',
          Message: 'the same content was sent to this number within 30 seconds',
        };
      }
      this.lastSame.set(sameKey, entry.receivedAt);
      const sid = `2433:${Date.now()}${randomBytes(6).toString('hex')}`;
      const message: DomesticMessage = {
        provider: 'tencent',
        sid,
        to,
        body: content,
        template: templateId,
        params,
        context: context || null,
        signName,
        status: 'accepted',
        errorCode: null,
        receivedAt: entry.receivedAt,
        receivedHr: entry.receivedHr,
      };
      this.accept(message, (msg) => this.report(msg));
      return { ...base, SerialNo: sid, Fee: 1, Code: 'Ok', Message: 'send success' };
    });
    return ok({ SendStatusSet: set });
  }

  /** The status report, pushed as Tencent does (a JSON array) or kept for PullSmsSendStatus. */
  private async report(m: DomesticMessage): Promise<void> {
    const delivered = m.status === 'delivered';
    const mobile = m.to.replace(/^\+86/, '');
    if (!this.tencent.statusUrl) {
      this.pendingReceipts.push({
        UserReceiveTime: Math.floor(Date.now() / 1000),
        CountryCode: '86',
        SubscriberNumber: mobile,
        PhoneNumber: m.to,
        SerialNo: m.sid,
        ReportStatus: delivered ? 'SUCCESS' : 'FAIL',
        Description: delivered ? 'DELIVRD' : (m.errorCode ?? 'UNKNOWN'),
        SessionContext: m.context ?? '',
      });
      return;
    }
    await this.pushJson('receipt', this.tencent.statusUrl, [
      {
        user_receive_time: beijingTime(Date.now()),
        nationcode: '86',
        mobile,
        report_status: delivered ? 'SUCCESS' : 'FAIL',
        errmsg: delivered ? 'DELIVRD' : (m.errorCode ?? 'UNKNOWN'),
        description: delivered ? '用户短信送达成功' : '用户短信接收失败',
        sid: m.sid,
      },
    ]);
  }
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : null;
}

function limitOf(body: Record<string, unknown>): number {
  const n = Number(body.Limit);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 100) : 100;
}

function ok(fields: Record<string, unknown>): HandledAnswer {
  return { status: 200, code: null, body: { Response: { ...fields, RequestId: randomUUID() } } };
}

/** An API error: HTTP 200 with Response.Error, as every Tencent Cloud API 3.0 answers it. */
function apiError(code: string, message: string): HandledAnswer {
  return { status: 200, code, body: { Response: { Error: { Code: code, Message: message }, RequestId: randomUUID() } } };
}
