// The Aliyun and Tencent SendSms calls through their official SDKs, shared by the domestic sender thread
// (domestic-worker.mjs) and the providers' fallback on the event loop. Plain JavaScript, so a worker thread starts
// without the TypeScript loader; its types are the JSDoc below, checked by tsc (checkJs).
// @ts-check
import { Agent } from 'node:http';
import { createConnection } from 'node:net';
import Dysmsapi, { SendSmsRequest } from '@alicloud/dysmsapi20170525';
import { Config } from '@alicloud/openapi-client';
import * as tencentcloud from 'tencentcloud-sdk-nodejs-sms';

// Node's ESM loader hands over the CommonJS exports object (class under `.default`); some bundlers, vitest's among
// them, hand over the class itself.
export const DysmsClient = typeof Dysmsapi === 'function' ? Dysmsapi : Dysmsapi.default;
export const TencentSmsClient = tencentcloud.sms.v20210111.Client;

/**
 * Where and how the SDK connects. `fixedAddress` (Tencent only): the socket goes there whatever host the request
 * names (see FixedAddressAgent).
 * @typedef {object} DomesticEndpoint
 * @property {'http' | 'https'} protocol
 * @property {string} host Host and optional port the SDK names and signs.
 * @property {{ host: string, port: number } | null} fixedAddress
 */

/**
 * @typedef {object} AliyunSenderOptions
 * @property {'aliyun'} provider
 * @property {string} accessKeyId
 * @property {string} accessKeySecret
 * @property {DomesticEndpoint} endpoint
 * @property {number} timeoutMs
 */

/**
 * @typedef {object} TencentSenderOptions
 * @property {'tencent'} provider
 * @property {string} secretId
 * @property {string} secretKey
 * @property {string} region
 * @property {DomesticEndpoint} endpoint
 * @property {number} timeoutMs
 */

/** @typedef {AliyunSenderOptions | TencentSenderOptions} DomesticSenderOptions */

/**
 * One SendSms, as plain data: Aliyun's fields (one number, the template's code and its parameters as JSON), or
 * Tencent's (one number, the template id and its positional parameters).
 * @typedef {{ provider: 'aliyun', phoneNumbers: string, signName: string, templateCode: string, templateParam: string, outId: string | null }
 *   | { provider: 'tencent', phoneNumber: string, sdkAppId: string, signName: string, templateId: string, templateParams: string[], sessionContext: string | null }} DomesticSms
 */

/**
 * The provider's answer: its status code (`OK` / `Ok` when taken), its message id (Aliyun BizId, Tencent SerialNo) and
 * its message.
 * @typedef {object} DomesticAnswer
 * @property {string | null} code
 * @property {string | null} id
 * @property {string | null} message
 */

/**
 * A send that got no answer or an error answer, as the SDK's error says it: `statusCode` (Aliyun) or `httpCode`
 * (Tencent) for an HTTP error answer, `code` for the provider's or the network's error code.
 * @typedef {object} DomesticFailure
 * @property {number | null} statusCode
 * @property {number | null} httpCode
 * @property {string | null} code
 * @property {string} message
 */

/** @typedef {{ ok: true, answer: DomesticAnswer } | { ok: false, failure: DomesticFailure }} DomesticOutcome */

/**
 * A connection to a fixed address whatever host a request names. The Tencent SDK signs with the service taken from
 * the endpoint's first label and the host name, so a compatible server at an IP address is reached under Tencent's
 * host name: the request says `sms.tencentcloudapi.com`, the socket goes to the configured address.
 */
export class FixedAddressAgent extends Agent {
  /** @param {{ host: string, port: number }} target */
  constructor(target) {
    super({ keepAlive: true });
    this.target = target;
  }

  /**
   * @override
   * @param {import('node:http').ClientRequestArgs} _options
   * @param {(err: Error | null, stream: import('node:stream').Duplex) => void} [callback]
   * @returns {import('node:stream').Duplex}
   */
  createConnection(_options, callback) {
    const socket = createConnection({ host: this.target.host, port: this.target.port });
    if (callback) socket.once('connect', () => callback(null, socket));
    return socket;
  }
}

/**
 * The Aliyun client: it builds `${protocol}://${endpoint}/?…` and signs with ACS3-HMAC-SHA256; it retries nothing
 * unless told to, so the dispatcher's backoff stays the only retry.
 * @param {Omit<AliyunSenderOptions, 'provider'>} o
 */
export function aliyunClient(o) {
  return new DysmsClient(
    new Config({
      accessKeyId: o.accessKeyId,
      accessKeySecret: o.accessKeySecret,
      endpoint: o.endpoint.host,
      protocol: o.endpoint.protocol,
      readTimeout: o.timeoutMs,
      connectTimeout: o.timeoutMs,
    }),
  );
}

/**
 * The Tencent client, with the agent that holds its connections (close it with the client).
 * @param {Omit<TencentSenderOptions, 'provider'>} o
 */
export function tencentClient(o) {
  const agent = o.endpoint.fixedAddress ? new FixedAddressAgent(o.endpoint.fixedAddress) : null;
  const client = new TencentSmsClient({
    credential: { secretId: o.secretId, secretKey: o.secretKey },
    region: o.region,
    profile: {
      httpProfile: {
        endpoint: o.endpoint.host,
        protocol: `${o.endpoint.protocol}://`,
        reqTimeout: o.timeoutMs / 1000,
        ...(agent ? { agent } : {}),
      },
    },
  });
  return { client, agent };
}

/**
 * Builds the client once and returns the send function. A send never rejects: it resolves with the provider's answer
 * or with the failure as plain data, which crosses a thread.
 * @param {DomesticSenderOptions} options
 * @returns {{ send: (sms: DomesticSms) => Promise<DomesticOutcome>, close: () => void }}
 */
export function createDomesticSender(options) {
  if (options.provider === 'aliyun') {
    const client = aliyunClient(options);
    return {
      send: async (sms) => {
        if (sms.provider !== 'aliyun') return misrouted(sms.provider, 'aliyun');
        const request = new SendSmsRequest({
          phoneNumbers: sms.phoneNumbers,
          signName: sms.signName,
          templateCode: sms.templateCode,
          templateParam: sms.templateParam,
          ...(sms.outId ? { outId: sms.outId } : {}),
        });
        try {
          const body = (await client.sendSms(request)).body;
          return { ok: true, answer: { code: body?.code ?? null, id: body?.bizId ?? null, message: body?.message ?? null } };
        } catch (err) {
          return { ok: false, failure: describeDomesticFailure(err) };
        }
      },
      close: () => undefined,
    };
  }
  const { client, agent } = tencentClient(options);
  return {
    send: async (sms) => {
      if (sms.provider !== 'tencent') return misrouted(sms.provider, 'tencent');
      try {
        const answer = await client.SendSms({
          PhoneNumberSet: [sms.phoneNumber],
          SmsSdkAppId: sms.sdkAppId,
          SignName: sms.signName,
          TemplateId: sms.templateId,
          TemplateParamSet: sms.templateParams,
          ...(sms.sessionContext ? { SessionContext: sms.sessionContext } : {}),
        });
        const status = answer.SendStatusSet?.[0];
        return { ok: true, answer: { code: status?.Code ?? null, id: status?.SerialNo ?? null, message: status?.Message ?? null } };
      } catch (err) {
        return { ok: false, failure: describeDomesticFailure(err) };
      }
    },
    close: () => agent?.destroy(),
  };
}

/**
 * @param {string} got
 * @param {string} want
 * @returns {DomesticOutcome}
 */
function misrouted(got, want) {
  return {
    ok: false,
    failure: { statusCode: null, httpCode: null, code: 'SENDER_MISROUTED', message: `a ${got} message reached the ${want} sender` },
  };
}

/**
 * What a failed send says, as plain data that crosses a thread: the fields the providers' error mapping reads
 * (toAliyunSendError, toTencentSendError).
 * @param {unknown} err
 * @returns {DomesticFailure}
 */
export function describeDomesticFailure(err) {
  /** @param {string} key */
  const field = (key) => (typeof err === 'object' && err !== null ? /** @type {unknown} */ (Reflect.get(err, key)) : undefined);
  const statusCode = field('statusCode');
  const httpCode = field('httpCode');
  const code = field('code');
  return {
    statusCode: typeof statusCode === 'number' ? statusCode : null,
    httpCode: typeof httpCode === 'number' ? httpCode : null,
    code: typeof code === 'string' ? code : null,
    message: err instanceof Error ? err.message : String(err),
  };
}

/**
 * The failure back as an error with the same fields, for the providers' error mapping on the gateway's side.
 * @param {DomesticFailure} failure
 * @returns {Error}
 */
export function failureAsError(failure) {
  const err = new Error(failure.message);
  if (failure.statusCode !== null) Object.assign(err, { statusCode: failure.statusCode });
  if (failure.httpCode !== null) Object.assign(err, { httpCode: failure.httpCode });
  if (failure.code !== null) Object.assign(err, { code: failure.code });
  return err;
}
