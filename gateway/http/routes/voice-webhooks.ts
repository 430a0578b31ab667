// Voice webhooks: Twilio's TwiML, <Gather> and status posts (signed), and Tencent VMS's keypress and status pushes (?key=).
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import twilio from 'twilio';
import { GatewayError } from '../../core/errors.js';
import { METRIC_NAMES } from '../../metrics/metrics.js';
import { TWILIO_VOICE_PATH } from '../../notifiers/voice/twilio-voice.js';
import type { CallEnd, CallTurn } from '../../voice/turns.js';
import { SAID_NO_KEY } from '../../voice/script.js';
import type { HttpDeps, VoiceWebhookApi } from '../deps.js';
import { WEBHOOK_BODY_LIMIT, requireTwilioSignature } from './twilio-webhooks.js';

interface TwilioVoiceForm {
  CallSid: string;
  CallStatus?: string;
  Digits?: string;
}

const twilioVoiceSchema = {
  body: {
    type: 'object',
    required: ['CallSid'],
    properties: {
      CallSid: { type: 'string', minLength: 1, maxLength: 64 },
      CallStatus: { type: 'string', maxLength: 32 },
      Digits: { type: 'string', maxLength: 16 },
    },
  },
  querystring: { type: 'object', required: ['call'], properties: { call: { type: 'string', minLength: 1, maxLength: 64 } } },
} as const;

/** Twilio's CallStatus words, for the ones that end a call. */
const TWILIO_ENDS: Record<string, CallEnd> = {
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no_answer',
  failed: 'failed',
  canceled: 'failed',
};

/** How long Twilio waits for a key after the page has been read. */
const GATHER_TIMEOUT_SECONDS = 8;

function twiml(turn: CallTurn | null, actionUrl: string): string {
  const response = new twilio.twiml.VoiceResponse();
  if (turn?.kind === 'gather') {
    const gather = response.gather({ numDigits: 1, action: actionUrl, method: 'POST', timeout: GATHER_TIMEOUT_SECONDS, finishOnKey: '' });
    gather.say({ language: 'zh-CN' }, turn.text);
    // No key within the timeout: Twilio goes on to the next verb, and the call ends without an answer.
    response.say({ language: 'zh-CN' }, SAID_NO_KEY);
  } else if (turn) {
    response.say({ language: 'zh-CN' }, turn.text);
  }
  response.hangup();
  return response.toString();
}

export const twilioVoiceRoutes: FastifyPluginAsync<{ deps: HttpDeps; voice: VoiceWebhookApi }> = async (app, { deps, voice }) => {
  await requireTwilioSignature(app, deps);
  const base = deps.publicUrl.replace(/\/+$/, '');

  app.post<{ Body: TwilioVoiceForm; Querystring: { call: string } }>(
    TWILIO_VOICE_PATH,
    { bodyLimit: WEBHOOK_BODY_LIMIT, schema: twilioVoiceSchema },
    async (request, reply) => {
      const { CallSid, Digits } = request.body;
      const callId = request.query.call;
      // A <Gather> action carries the key; the first fetch, when the phone is answered, carries none.
      const turn =
        Digits !== undefined && Digits !== ''
          ? await voice.keyPressed({ callId, providerCallId: CallSid }, Digits)
          : await voice.answered(callId, CallSid);
      if (!turn) request.log.warn({ call: callId }, 'voice webhook for an unknown call');
      return reply
        .code(200)
        .type('text/xml')
        .send(twiml(turn, `${base}${TWILIO_VOICE_PATH}?call=${encodeURIComponent(callId)}`));
    },
  );

  app.post<{ Body: TwilioVoiceForm; Querystring: { call: string } }>(
    '/webhooks/twilio/voice-status',
    { bodyLimit: WEBHOOK_BODY_LIMIT, schema: twilioVoiceSchema },
    async (request, reply) => {
      const { CallSid, CallStatus } = request.body;
      const ref = { callId: request.query.call, providerCallId: CallSid };
      const end = CallStatus ? TWILIO_ENDS[CallStatus] : undefined;
      const known = end
        ? await voice.ended(ref, end, { providerStatus: CallStatus })
        : CallStatus === 'ringing'
          ? await voice.progressed(ref, 'ringing')
          : CallStatus === 'in-progress'
            ? await voice.progressed(ref, 'in_progress')
            : true;
      // An unknown call is answered 204 too: an error would only make Twilio retry a callback we cannot use.
      if (!known) request.log.debug({ call: ref.callId, status: CallStatus }, 'voice status for an unknown call');
      return reply.code(204).send();
    },
  );
};

/** Constant time whatever the lengths: both sides are hashed first. */
export function sameKey(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

interface TencentVoiceBody {
  voicekey_callback?: { callid?: unknown; keypress?: unknown; mobile?: unknown };
  voiceprompt_callback?: { callid?: unknown; result?: unknown; accept_time?: unknown };
}

const tencentVoiceSchema = {
  type: 'object',
  properties: {
    voicekey_callback: {
      type: 'object',
      required: ['callid', 'keypress'],
      properties: { callid: { type: 'string', minLength: 1, maxLength: 128 }, keypress: { type: 'string', maxLength: 16 } },
    },
    voiceprompt_callback: {
      type: 'object',
      required: ['callid', 'result'],
      properties: { callid: { type: 'string', minLength: 1, maxLength: 128 }, result: { type: 'string', maxLength: 8 } },
    },
  },
} as const;

/** Tencent's `result`: 0 answered, 1 not answered, 2 the call failed. */
const TENCENT_RESULTS: Record<string, CallEnd> = { '0': 'completed', '1': 'no_answer', '2': 'failed' };

export const tencentVoiceRoutes: FastifyPluginAsync<{ deps: HttpDeps; voice: VoiceWebhookApi }> = async (app, { deps, voice }) => {
  const refuse = (request: FastifyRequest, reply: FastifyReply, reason: 'no_webhook_key' | 'bad_webhook_key'): FastifyReply => {
    // Never the query: it holds the key (or an attacker's guess at it).
    request.log.warn({ webhook: request.routeOptions.url ?? null, reason, remoteAddress: request.ip }, 'webhook refused');
    const counter = deps.metrics.getSingleMetric(METRIC_NAMES.securityEvents);
    if (counter instanceof Counter) counter.inc({ kind: reason === 'no_webhook_key' ? 'webhook_unverifiable' : 'webhook_bad_key' });
    const err = new GatewayError('GW_ERR_BAD_WEBHOOK_KEY');
    return reply.code(403).send({ error: err.code, message: err.message });
  };

  // Before the body is read: a request without the key gets nothing of ours, not even a parse.
  app.addHook('onRequest', async (request, reply) => {
    const expected = voice.webhookKey;
    if (!expected) return refuse(request, reply, 'no_webhook_key');
    const given = new URL(request.url, 'http://gateway').searchParams.get('key');
    if (given === null || !sameKey(given, expected)) return refuse(request, reply, 'bad_webhook_key');
  });

  app.post<{ Body: TencentVoiceBody }>(
    '/webhooks/tencent/voice',
    { bodyLimit: WEBHOOK_BODY_LIMIT, schema: { body: tencentVoiceSchema } },
    async (request, reply) => {
      const { voicekey_callback: key, voiceprompt_callback: prompt } = request.body;
      if (key && typeof key.callid === 'string' && typeof key.keypress === 'string') {
        // Tencent plays its approved template; what the gateway would say back has nowhere to go, and is not sent.
        const turn = await voice.keyPressed({ providerCallId: key.callid }, key.keypress);
        if (!turn) request.log.warn({ call: key.callid }, 'Tencent keypress for an unknown call');
      } else if (prompt && typeof prompt.callid === 'string' && typeof prompt.result === 'string') {
        const end = TENCENT_RESULTS[prompt.result] ?? 'failed';
        // Answered, then the keypress callback (if any) came first: ended() leaves a call with its key as it is.
        const ref = { providerCallId: prompt.callid };
        if (end === 'completed') await voice.progressed(ref, 'in_progress');
        const known = await voice.ended(ref, end, { providerResult: prompt.result });
        if (!known) request.log.warn({ call: prompt.callid }, 'Tencent call status for an unknown call');
      } else {
        throw new GatewayError('GW_ERR_BAD_REQUEST', 'expected voicekey_callback or voiceprompt_callback');
      }
      // Tencent's expected answer; anything else makes it push again.
      return reply.code(200).send({ result: 0, errmsg: 'OK' });
    },
  );
};
