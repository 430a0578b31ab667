// POST /webhooks/twilio/sms and /status: Twilio's form posts, acted on only with a valid X-Twilio-Signature.
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import twilio from 'twilio';
import { GatewayError } from '../../core/errors.js';
import { METRIC_NAMES } from '../../metrics/metrics.js';
import type { HttpDeps } from '../deps.js';

/** Twilio's posts are a few hundred bytes; anything near this is not Twilio. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

interface InboundSmsForm {
  From: string;
  Body: string;
  MessageSid?: string;
}

interface StatusForm {
  MessageSid: string;
  MessageStatus: string;
  ErrorCode?: string;
}

const smsFormSchema = {
  type: 'object',
  required: ['From', 'Body'],
  properties: {
    From: { type: 'string', minLength: 1, maxLength: 64 },
    Body: { type: 'string', maxLength: 4096 },
    MessageSid: { type: 'string', maxLength: 64 },
  },
} as const;

const statusFormSchema = {
  type: 'object',
  required: ['MessageSid', 'MessageStatus'],
  properties: {
    MessageSid: { type: 'string', minLength: 1, maxLength: 64 },
    MessageStatus: { type: 'string', minLength: 1, maxLength: 32 },
    ErrorCode: { type: 'string', maxLength: 16 },
  },
} as const;

type Refusal = 'no_auth_token' | 'missing_signature' | 'bad_signature';

function formParams(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null ? { ...body } : {};
}

/**
 * Refuses every request of the plugin `app` without a valid X-Twilio-Signature over PUBLIC_URL + path (403, a
 * security event); used by the SMS and the voice webhooks alike.
 */
export async function requireTwilioSignature(
  app: FastifyInstance,
  deps: Pick<HttpDeps, 'publicUrl' | 'twilioAuthToken' | 'metrics'>,
): Promise<void> {
  // Twilio signs the URL it was configured with, i.e. PUBLIC_URL; the Host header is whatever a proxy or attacker says.
  const base = deps.publicUrl.replace(/\/+$/, '');

  // Only form bodies, as Twilio sends them: JSON or text on these routes is not Twilio (415).
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: WEBHOOK_BODY_LIMIT });

  const refuse = (request: FastifyRequest, reason: Refusal): never => {
    // Never the body or the signature: the body holds phone numbers and message text.
    request.log.warn({ webhook: request.routeOptions.url ?? null, reason, remoteAddress: request.ip }, 'webhook refused');
    const counter = deps.metrics.getSingleMetric(METRIC_NAMES.securityEvents);
    if (counter instanceof Counter) counter.inc({ kind: reason === 'no_auth_token' ? 'webhook_unverifiable' : 'webhook_bad_signature' });
    throw new GatewayError('GW_ERR_BAD_SIGNATURE');
  };

  // preValidation: after the form is parsed (the signature covers it) but before any schema check,
  // so an unsigned request is refused the same way whatever its shape.
  app.addHook('preValidation', async (request) => {
    const authToken = deps.twilioAuthToken;
    if (!authToken) return refuse(request, 'no_auth_token');
    const signature = request.headers['x-twilio-signature'];
    if (typeof signature !== 'string' || signature.length === 0) return refuse(request, 'missing_signature');
    // request.url is the path plus the raw query string, exactly as Twilio requested it.
    if (!twilio.validateRequest(authToken, signature, base + request.url, formParams(request.body))) {
      return refuse(request, 'bad_signature');
    }
  });
}

export const twilioWebhookRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  await requireTwilioSignature(app, deps);

  app.post<{ Body: InboundSmsForm }>(
    '/webhooks/twilio/sms',
    { bodyLimit: WEBHOOK_BODY_LIMIT, schema: { body: smsFormSchema } },
    async (request, reply) => {
      const { From, Body, MessageSid } = request.body;
      const result = await deps.inbound.handle({
        provider: 'twilio',
        from: From,
        body: Body,
        providerSid: MessageSid ?? null,
        receivedAt: deps.clock.now(),
      });
      request.log.info({ sid: MessageSid ?? null, handledAs: result.handledAs }, 'inbound SMS handled');
      // Replies go out through the notifier (and its log), not as TwiML, so the answer is always empty.
      return reply.code(200).type('text/xml').send(EMPTY_TWIML);
    },
  );

  app.post<{ Body: StatusForm }>(
    '/webhooks/twilio/status',
    { bodyLimit: WEBHOOK_BODY_LIMIT, schema: { body: statusFormSchema } },
    async (request, reply) => {
      const { MessageSid, MessageStatus, ErrorCode } = request.body;
      const known = await deps.smsStatus.handleStatusCallback(
        ErrorCode === undefined ? { MessageSid, MessageStatus } : { MessageSid, MessageStatus, ErrorCode },
      );
      // An unknown SID is answered 204 too: an error would only make Twilio retry a callback we cannot use.
      if (!known) request.log.debug({ sid: MessageSid, status: MessageStatus }, 'status callback for an unknown message');
      return reply.code(204).send();
    },
  );
};
