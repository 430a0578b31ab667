// /api/roster: who is on duty now and each day of a week (default: this week), per community for a worker.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { buildRoster, mondayOf } from '../../reports/roster.js';
import { parseDate } from '../../core/time.js';
import { requireRole } from '../auth.js';
import type { DashboardPageDeps } from './page-deps.js';
import { readableCommunity } from '../../access/scope.js';

interface RosterQuery {
  from?: string;
  community?: string;
}

const rosterQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, community: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const rosterRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  app.get<{ Querystring: RosterQuery }>(
    '/roster',
    { preHandler: requireRole('admin', 'duty_officer', 'worker'), schema: { querystring: rosterQuery } },
    async (request) => {
      const scope = readableCommunity(request.caller, request.query.community);
      const now = pages.clock.now();
      const from = request.query.from ? parseDate(request.query.from) : mondayOf(now, pages.timeZone);
      if (!from) throw new GatewayError('GW_ERR_BAD_REQUEST', `from must be a real date "YYYY-MM-DD", got "${request.query.from ?? ''}"`);
      const [workers, communities] = await Promise.all([pages.registry.listWorkers(), pages.registry.listCommunities()]);
      return buildRoster({
        workers: workers.filter((w) => scope === null || w.community === scope),
        communities: communities.filter((c) => scope === null || c.id === scope),
        now,
        timeZone: pages.timeZone,
        weekStart: from,
      });
    },
  );
};
