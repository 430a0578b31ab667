// /api/sms/log: every SMS sent and received, with status and filters; in outbox mode the answer says nothing was sent.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { parseDate, startOfDay, addDays } from '../../core/time.js';
import { requireRole } from '../auth.js';
import type { DashboardPageDeps } from './page-deps.js';
import { limitProperty } from './schemas.js';

interface LogQuery {
  direction?: 'in' | 'out';
  status?: string;
  purpose?: string;
  q?: string;
  incident?: string;
  from?: string;
  to?: string;
  limit?: number;
}

const word = { type: 'string', minLength: 1, maxLength: 40, pattern: '^[a-z_]+$' } as const;
const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

const logQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    direction: { type: 'string', enum: ['in', 'out'] },
    status: word,
    purpose: word,
    q: { type: 'string', minLength: 1, maxLength: 100 },
    incident: { type: 'string', minLength: 1, maxLength: 100 },
    from: date,
    to: date,
    limit: limitProperty,
  },
} as const;

const DEFAULT_LIMIT = 200;

export const smsLogRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  // Family phone numbers of every community are in here: station staff only.
  app.get<{ Querystring: LogQuery }>(
    '/sms/log',
    { preHandler: requireRole('admin', 'duty_officer'), schema: { querystring: logQuery } },
    async (request) => {
      const { from, to, ...rest } = request.query;
      const fromDay = from ? parseDate(from) : null;
      const toDay = to ? parseDate(to) : null;
      if (from && !fromDay) throw new GatewayError('GW_ERR_BAD_REQUEST', `from must be a real date, got "${from}"`);
      if (to && !toDay) throw new GatewayError('GW_ERR_BAD_REQUEST', `to must be a real date, got "${to}"`);
      const provider = pages.smsProvider();
      const messages = await pages.smsLog.list({
        ...rest,
        ...(fromDay ? { from: startOfDay(fromDay, pages.timeZone) } : {}),
        // `to` is an inclusive local day.
        ...(toDay ? { to: startOfDay(addDays(toDay, 1), pages.timeZone) } : {}),
        limit: rest.limit ?? DEFAULT_LIMIT,
      });
      return { provider, outboxMode: provider === 'outbox', notSentTotal: await pages.smsLog.outboxCount(), messages };
    },
  );
};
