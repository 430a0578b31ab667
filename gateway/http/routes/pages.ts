// The dashboard pages' API under /api: reports, people lists, roster, registry editor, SMS log, a volunteer's own visits.
import type { FastifyPluginAsync } from 'fastify';
import { myVisitRoutes } from './my-visits.js';
import type { DashboardPageDeps } from './page-deps.js';
import { registryRoutes } from './registry.js';
import { reportRoutes } from './reports.js';
import { residentRoutes } from './residents.js';
import { rosterRoutes } from './roster.js';
import { smsLogRoutes } from './sms-log.js';

export const dashboardPageRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  await app.register(reportRoutes, { pages });
  await app.register(residentRoutes, { pages });
  await app.register(rosterRoutes, { pages });
  await app.register(registryRoutes, { pages });
  await app.register(smsLogRoutes, { pages });
  await app.register(myVisitRoutes, { pages });
};
