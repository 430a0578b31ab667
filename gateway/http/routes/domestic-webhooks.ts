// POST /webhooks/aliyun/… and /webhooks/tencent/…: the domestic providers' receipts and replies, in each provider's own
// JSON. Neither provider signs these pushes, so each callback URL carries ?key=<WEBHOOK_KEY>, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import { METRIC_NAMES } from '../../metrics/metrics.js';
import { applyReceipt, tencentReplyId } from '../../notifiers/receipts.js';
import { e164From } from '../../notifiers/template-params.js';
import type { HttpDeps } from '../deps.js';
import { WEBHOOK_BODY_LIMIT } from './twilio-webhooks.js';

/** Aliyun's answer that stops it retrying a push. */
const ALIYUN_OK = { code: 0, msg: '成功' };
/** Tencent's answer that stops it retrying a callback. */
const TENCENT_OK = { result: 0, errmsg: 'OK' };

/** One push carries at most this many receipts or replies; Aliyun batches a few hundred at most. */
const MAX_ITEMS = 1000;

interface AliyunReport {
  biz_id: string;
  success: boolean;
  err_code?: string;
  out_id?: string;
}

interface AliyunUp {
  phone_number: string;
  content: string;
  sequence_id: number | string;
}

interface TencentStatus {
  sid: string;
  report_status: 'SUCCESS' | 'FAIL';
  errmsg?: string;
}

interface TencentReply {
  mobile: string;
  nationcode?: string;
  text: string;
  time: number;
}

const phone = { type: 'string', minLength: 5, maxLength: 20, pattern: '^\\+?[0-9]+$' } as const;

const aliyunReportSchema = {
  type: 'array',
  maxItems: MAX_ITEMS,
  items: {
    type: 'object',
    required: ['biz_id', 'success'],
    properties: {
      biz_id: { type: 'string', minLength: 1, maxLength: 64 },
      success: { type: 'boolean' },
      err_code: { type: 'string', maxLength: 64 },
      out_id: { type: 'string', maxLength: 64 },
    },
  },
} as const;

const aliyunUpSchema = {
  type: 'array',
  maxItems: MAX_ITEMS,
  items: {
    type: 'object',
    required: ['phone_number', 'content', 'sequence_id'],
    properties: {
      phone_number: phone,
      content: { type: 'string', maxLength: 4096 },
      sequence_id: { anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1, maxLength: 64 }] },
    },
  },
} as const;

const tencentStatusSchema = {
  type: 'array',
  maxItems: MAX_ITEMS,
  items: {
    type: 'object',
    required: ['sid', 'report_status'],
    properties: {
      sid: { type: 'string', minLength: 1, maxLength: 128 },
      report_status: { enum: ['SUCCESS', 'FAIL'] },
      errmsg: { type: 'string', maxLength: 128 },
    },
  },
} as const;

const tencentReplySchema = {
  type: 'object',
  required: ['mobile', 'text', 'time'],
  properties: {
    mobile: phone,
    nationcode: { type: 'string', pattern: '^[0-9]{1,4}$' },
    text: { type: 'string', maxLength: 4096 },
    time: { type: 'integer', minimum: 0 },
  },
} as const;

type Refusal = 'no_webhook_key' | 'missing_key' | 'bad_key';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function webhookKeyMatches(expected: string, given: string): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}

export const domesticWebhookRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  // Only JSON, as both providers push it: a form or text body here is not them (415).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => {
    try {
      done(null, JSON.parse(typeof body === 'string' ? body : body.toString('utf8')));
    } catch {
      done(new GatewayError('GW_ERR_BAD_REQUEST', 'body is not valid JSON'), undefined);
    }
  });

  const refuse = (request: FastifyRequest, reason: Refusal): never => {
    // Never the query (it may hold a wrong key worth keeping out of logs) nor the body (phone numbers, text).
    request.log.warn({ webhook: request.routeOptions.url ?? null, reason, remoteAddress: request.ip }, 'webhook refused');
    const counter = deps.metrics.getSingleMetric(METRIC_NAMES.securityEvents);
    if (counter instanceof Counter) counter.inc({ kind: reason === 'no_webhook_key' ? 'webhook_unverifiable' : 'webhook_bad_key' });
    throw new GatewayError('GW_ERR_FORBIDDEN', 'missing or wrong webhook key');
  };

  // onRequest: before the body is read, so an unauthenticated push costs nothing and is refused whatever its shape.
  app.addHook('onRequest', async (request) => {
    const expected = deps.webhookKey ?? null;
    if (!expected) return refuse(request, 'no_webhook_key');
    const key = new URL(request.url, 'http://gateway').searchParams.getAll('key');
    const [given] = key;
    if (given === undefined || given === '') return refuse(request, 'missing_key');
    if (key.length !== 1 || !webhookKeyMatches(expected, given)) return refuse(request, 'bad_key');
  });

  // logLevel warn: fastify's own "incoming request" line (info) would write the URL, and with it the key, to the log.
  const opts = <S>(schema: S) => ({ bodyLimit: WEBHOOK_BODY_LIMIT, logLevel: 'warn' as const, schema: { body: schema } });

  app.post<{ Body: AliyunReport[] }>('/webhooks/aliyun/sms-report', opts(aliyunReportSchema), async (request, reply) => {
    for (const r of request.body) {
      const known = await applyReceipt(deps.smsStatus, {
        sid: r.biz_id,
        status: r.success ? 'delivered' : 'undelivered',
        errorCode: r.err_code ?? null,
      });
      // Unknown ids are answered OK too: an error would only make Aliyun push again a receipt we cannot use.
      if (!known) request.log.debug({ sid: r.biz_id }, 'Aliyun receipt for an unknown message');
    }
    return reply.code(200).send(ALIYUN_OK);
  });

  app.post<{ Body: AliyunUp[] }>('/webhooks/aliyun/sms-up', opts(aliyunUpSchema), async (request, reply) => {
    for (const up of request.body) {
      const sid = String(up.sequence_id);
      const result = await deps.inbound.handle({
        provider: 'aliyun',
        from: e164From(up.phone_number),
        body: up.content,
        providerSid: sid,
        receivedAt: deps.clock.now(),
      });
      deps.log.info({ provider: 'aliyun', sid, handledAs: result.handledAs }, 'inbound SMS handled');
    }
    return reply.code(200).send(ALIYUN_OK);
  });

  app.post<{ Body: TencentStatus[] }>('/webhooks/tencent/sms-status', opts(tencentStatusSchema), async (request, reply) => {
    for (const s of request.body) {
      const known = await applyReceipt(deps.smsStatus, {
        sid: s.sid,
        status: s.report_status === 'SUCCESS' ? 'delivered' : 'undelivered',
        errorCode: s.errmsg ?? null,
      });
      if (!known) request.log.debug({ sid: s.sid }, 'Tencent receipt for an unknown message');
    }
    return reply.code(200).send(TENCENT_OK);
  });

  app.post<{ Body: TencentReply }>('/webhooks/tencent/sms-reply', opts(tencentReplySchema), async (request, reply) => {
    const r = request.body;
    const sid = tencentReplyId({ mobile: r.mobile, nationcode: r.nationcode ?? '86', time: r.time, text: r.text });
    const result = await deps.inbound.handle({
      provider: 'tencent',
      from: e164From(r.mobile, r.nationcode ?? '86'),
      body: r.text,
      providerSid: sid,
      receivedAt: deps.clock.now(),
    });
    deps.log.info({ provider: 'tencent', sid, handledAs: result.handledAs }, 'inbound SMS handled');
    return reply.code(200).send(TENCENT_OK);
  });
};
