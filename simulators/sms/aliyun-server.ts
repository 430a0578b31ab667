// A local Aliyun-SMS-compatible API (dysmsapi 2017-05-25): verifies the SDK's ACS3-HMAC-SHA256 signature as Aliyun
// does, sends only approved templates and signatures, answers with Aliyun's codes, and pushes SmsReport and SmsUp.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  DomesticSmsSim,
  fillTemplate,
  toE164,
  type DomesticMessage,
  type DomesticPush,
  type DomesticRequest,
  type DomesticSimOptions,
  type HandledAnswer,
} from './domestic-base.js';

export interface AliyunSimOptions extends DomesticSimOptions {
  accessKeyId?: string;
  accessKeySecret?: string;
  /** Where SmsReport is pushed (the gateway's /webhooks/aliyun/sms-report?key=…); null: receipts only by QuerySendDetails. */
  reportUrl?: string | null;
  /** Where SmsUp is pushed (the gateway's /webhooks/aliyun/sms-up?key=…); null: replies are not delivered. */
  upUrl?: string | null;
}

const VERSION = '2017-05-25';
/** Aliyun refuses a request dated further than this from its clock. */
const MAX_SKEW_MS = 15 * 60_000;
const MAX_TEMPLATE_VAR = 35;

/** Aliyun's percent-encoding for the canonical query: RFC 3986, with !'()* encoded too. */
function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Beijing wall-clock time as Aliyun writes it in pushes: `2026-12-06 20:30:00`. */
function beijingTime(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

export class AliyunSmsSim extends DomesticSmsSim {
  readonly provider = 'aliyun' as const;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  private readonly seenNonces = new Set<string>();
  private sequence = 100_000;

  constructor(private readonly aliyun: AliyunSimOptions) {
    super(aliyun);
    this.accessKeyId = aliyun.accessKeyId ?? `LTAI${randomBytes(10).toString('hex')}`;
    this.accessKeySecret = aliyun.accessKeySecret ?? randomBytes(15).toString('base64url');
  }

  async reply(from: string, body: string): Promise<DomesticPush | null> {
    if (!this.aliyun.upUrl) return null;
    const last = this.messages()
      .filter((m) => m.to === from)
      .at(-1);
    const up = [
      {
        phone_number: from.replace(/^\+86/, ''),
        send_time: beijingTime(Date.now()),
        content: body,
        sign_name: last?.signName ?? this.opts.signNames[0] ?? '',
        dest_code: '',
        sequence_id: ++this.sequence,
      },
    ];
    return this.pushJson('reply', this.aliyun.upUrl, up);
  }

  protected async handle(req: IncomingMessage, raw: string, entry: DomesticRequest): Promise<HandledAnswer> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const action = headerOf(req, 'x-acs-action');
    entry.action = action;
    const auth = this.verify(req, url, raw);
    if (auth) return auth;
    if (headerOf(req, 'x-acs-version') !== VERSION) return error(400, 'InvalidVersion', `Specified parameter Version is not valid.`);
    const q = url.searchParams;
    if (action === 'SendSms') return this.sendSms(q, entry);
    if (action === 'QuerySendDetails') return this.querySendDetails(q);
    return error(404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method.`);
  }

  /** ACS3-HMAC-SHA256 exactly as the SDK computes it; null when the request is authentic. */
  private verify(req: IncomingMessage, url: URL, raw: string): HandledAnswer | null {
    const authorization = headerOf(req, 'authorization');
    const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(authorization ?? '');
    if (!m?.[1] || !m[2] || !m[3]) return error(400, 'MissingAuthorization', 'Authorization header is missing or not ACS3-HMAC-SHA256.');
    const [, accessKeyId, signedList, signature] = m;
    if (accessKeyId !== this.accessKeyId) return error(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    const payloadHash = sha256Hex(raw);
    if (headerOf(req, 'x-acs-content-sha256') !== payloadHash)
      return error(400, 'SignatureDoesNotMatch', 'The request body does not match x-acs-content-sha256.');
    const date = Date.parse(headerOf(req, 'x-acs-date') ?? '');
    if (!Number.isFinite(date) || Math.abs(Date.now() - date) > MAX_SKEW_MS)
      return error(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    const nonce = headerOf(req, 'x-acs-signature-nonce');
    if (!nonce) return error(400, 'MissingSignatureNonce', 'SignatureNonce is mandatory for this action.');
    const signed = signedList.split(';');
    // Every header Aliyun cares about must be signed, or it could be changed on the way.
    const mustSign = Object.keys(req.headers).filter((h) => h.startsWith('x-acs-') || h === 'host' || h === 'content-type');
    if (!mustSign.every((h) => signed.includes(h)) || !signed.includes('host'))
      return error(400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.');
    const canonicalHeaders = signed.map((h) => `${h}:${(headerOf(req, h) ?? '').trim()}\n`).join('');
    const keys = [...new Set(url.searchParams.keys())].sort();
    const canonicalQuery = keys.map((k) => `${k}=${percentEncode(url.searchParams.get(k) ?? '')}`).join('&');
    const canonicalUri = url.pathname.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
    const canonicalRequest = [req.method ?? 'GET', canonicalUri, canonicalQuery, canonicalHeaders, signed.join(';'), payloadHash].join(
      '\n',
    );
    const stringToSign = `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`;
    const expected = createHmac('sha256', this.accessKeySecret).update(stringToSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex')))
      return error(400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.');
    // A nonce is good once: a captured request sent again is refused.
    if (this.seenNonces.has(nonce)) return error(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.seenNonces.add(nonce);
    return null;
  }

  private sendSms(q: URLSearchParams, entry: DomesticRequest): HandledAnswer {
    const fault = this.takeFault();
    if (fault !== null) {
      entry.fault = fault;
      if (fault === 'network') return error(500, 'network', '');
      if (typeof fault === 'number')
        return error(
          fault,
          fault === 503 ? 'ServiceUnavailable' : 'InternalError',
          'The request processing has failed due to some unknown error.',
        );
      if (fault === 'throttle') return refused('isv.BUSINESS_LIMIT_CONTROL', '触发小时级流控Permits:5');
      return refused('isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
    }
    const phones = (q.get('PhoneNumbers') ?? '').split(',').map((p) => toE164(p));
    const [first] = phones;
    if (!first || phones.length > 1000 || phones.some((p) => p === null)) return refused('isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    const signName = q.get('SignName') ?? '';
    if (!this.opts.signNames.includes(signName)) return refused('isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名');
    const code = q.get('TemplateCode') ?? '';
    const entryText = Object.values(this.opts.catalogue).find((e) => e.aliyun?.templateCode === code)?.text;
    if (entryText === undefined) return refused('isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
    let params: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(q.get('TemplateParam') ?? '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      params = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      return refused('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    }
    for (const [, name] of entryText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)) {
      const value = name === undefined ? undefined : params[name];
      if (value === undefined || value === '') return refused('isv.TEMPLATE_MISSING_PARAMETERS', `模板缺少变量: ${name ?? ''}`);
      if ([...value].length > MAX_TEMPLATE_VAR) return refused('isv.PARAM_LENGTH_LIMIT', `参数超出长度限制: ${name ?? ''}`);
    }
    const bizId = `${Date.now()}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}^0`;
    for (const to of phones) {
      if (!to) continue;
      const message: DomesticMessage = {
        provider: 'aliyun',
        sid: phones.length === 1 ? bizId : `${bizId}:${to}`,
        to,
        body: `【${signName}】${fillTemplate(entryText, params)}`,
        template: code,
        params,
        context: q.get('OutId'),
        signName,
        status: 'accepted',
        errorCode: null,
        receivedAt: entry.receivedAt,
        receivedHr: entry.receivedHr,
      };
      this.accept(message, (m) => this.report(m));
    }
    return { status: 200, code: 'OK', body: { Code: 'OK', Message: 'OK', BizId: bizId, RequestId: randomUUID().toUpperCase() } };
  }

  private querySendDetails(q: URLSearchParams): HandledAnswer {
    const phone = toE164(q.get('PhoneNumber') ?? '');
    if (!phone) return refused('isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    const bizId = q.get('BizId');
    const list = this.messages().filter((m) => m.to === phone && (!bizId || m.sid === bizId));
    const dto = list.map((m) => ({
      PhoneNum: m.to.replace(/^\+86/, ''),
      SendStatus: m.status === 'accepted' ? 1 : m.status === 'delivered' ? 3 : 2,
      ErrCode: m.status === 'accepted' ? '' : m.status === 'delivered' ? 'DELIVERED' : (m.errorCode ?? 'UNKNOWN'),
      TemplateCode: m.template,
      Content: m.body,
      SendDate: beijingTime(m.receivedAt),
      ReceiveDate: m.status === 'accepted' ? '' : beijingTime(Date.now()),
      OutId: m.context ?? '',
    }));
    return {
      status: 200,
      code: 'OK',
      body: {
        Code: 'OK',
        Message: 'OK',
        RequestId: randomUUID().toUpperCase(),
        TotalCount: String(dto.length),
        SmsSendDetailDTOs: { SmsSendDetailDTO: dto },
      },
    };
  }

  /** SmsReport, as Aliyun pushes it: a JSON array, one receipt per message. */
  private async report(m: DomesticMessage): Promise<void> {
    if (!this.aliyun.reportUrl) return;
    const delivered = m.status === 'delivered';
    await this.pushJson('receipt', this.aliyun.reportUrl, [
      {
        phone_number: m.to.replace(/^\+86/, ''),
        send_time: beijingTime(m.receivedAt),
        report_time: beijingTime(Date.now()),
        success: delivered,
        err_code: delivered ? 'DELIVERED' : (m.errorCode ?? 'UNKNOWN'),
        err_msg: delivered ? '用户接收成功' : '用户接收失败',
        sms_size: '1',
        biz_id: m.sid,
        out_id: m.context ?? '',
      },
    ]);
  }
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : null;
}

function error(status: number, code: string, message: string): HandledAnswer {
  return {
    status,
    code,
    body: {
      RequestId: randomUUID().toUpperCase(),
      HostId: 'dysmsapi.aliyuncs.com',
      Code: code,
      Message: message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${code}`,
    },
  };
}

/** A business refusal: HTTP 200 with the code in the body, as SendSms answers. */
function refused(code: string, message: string): HandledAnswer {
  return { status: 200, code, body: { Code: code, Message: message, RequestId: randomUUID().toUpperCase() } };
}
