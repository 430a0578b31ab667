// /api/sms: the recent outbound SMS log, newest first, with delivery status.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { limitProperty } from './schemas.js';
import { requireRole } from '../auth.js';
import type { OutboundSms } from '../../core/types.js';

const DEFAULT_LIMIT = 100;

/** A sign-in code in the log would let whoever reads the log sign in as that worker: the digits are hidden. */
function hideCode(m: OutboundSms): OutboundSms {
  return m.purpose === 'otp' ? { ...m, body: m.body.replace(/\d{6}/g, '******') } : m;
}

export const smsRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  app.get<{ Querystring: { limit?: number } }>(
    '/sms',
    // The SMS log holds every family's phone number: staff only.
    { onRequest: requireRole('admin', 'duty_officer'), schema: { querystring: { type: 'object', properties: { limit: limitProperty } } } },
    async (request) => {
      const messages = await deps.smsLog(request.query.limit ?? DEFAULT_LIMIT);
      return [...messages].sort((a, b) => b.createdAt - a.createdAt).map(hideCode);
    },
  );
};
