// /api/reports: the monthly service report per community (JSON or CSV for spreadsheets) and its 12-month trend for charts.
import type { FastifyPluginAsync } from 'fastify';
import { reportsCsv } from '../../reports/csv.js';
import { formatMonth } from '../../reports/stats.js';
import { localDate } from '../../core/time.js';
import { requireRole } from '../auth.js';
import type { DashboardPageDeps } from './page-deps.js';
import { readableCommunity } from '../../access/scope.js';

const month = { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } as const;
const community = { type: 'string', minLength: 1, maxLength: 64 } as const;

interface MonthlyQuery {
  month?: string;
  community?: string;
  format?: 'json' | 'csv';
  lang?: 'zh' | 'en';
}

const monthlyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { month, community, format: { type: 'string', enum: ['json', 'csv'] }, lang: { type: 'string', enum: ['zh', 'en'] } },
} as const;

interface TrendQuery {
  to?: string;
  months?: number;
  community?: string;
}

const trendQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { to: month, months: { type: 'integer', minimum: 1, maximum: 36 }, community },
} as const;

export const reportRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  const staff = requireRole('admin', 'duty_officer', 'worker');
  const thisMonth = () => formatMonth({ ...localDate(pages.clock.now(), pages.timeZone), day: 1 });

  app.get<{ Querystring: MonthlyQuery }>(
    '/reports/monthly',
    { preHandler: staff, schema: { querystring: monthlyQuery } },
    async (request, reply) => {
      const scope = readableCommunity(request.caller, request.query.community);
      const m = request.query.month ?? thisMonth();
      const report = await pages.reports.monthly(m, scope);
      const byCommunity = scope === null ? await pages.reports.monthlyByCommunity(m) : [];
      if (request.query.format !== 'csv') return { ...report, byCommunity };
      const csv = reportsCsv([...byCommunity, report], request.query.lang ?? 'zh');
      // The byte-order mark makes Excel read the file as UTF-8, so community names stay Chinese instead of mojibake.
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="care-report-${m}${scope ? `-${scope}` : ''}.csv"`)
        .send(`\uFEFF${csv}`);
    },
  );

  app.get<{ Querystring: TrendQuery }>('/reports/trend', { preHandler: staff, schema: { querystring: trendQuery } }, async (request) => {
    const scope = readableCommunity(request.caller, request.query.community);
    return { community: scope, months: await pages.reports.trend(scope, request.query.months ?? 12, request.query.to) };
  });
};
