// The /api scope: every route below it needs an authenticated caller (contract §5).
import type { FastifyPluginAsync } from 'fastify';
import { createAuthenticate, requireCaller } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { notFoundHandler } from '../errors.js';
import { deviceRoutes } from './devices.js';
import { incidentRoutes } from './incidents.js';
import { smsRoutes } from './sms.js';
import { visitRoutes } from './visits.js';

export const apiRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (api, { deps }) => {
  api.addHook('onRequest', requireCaller(createAuthenticate(deps)));
  // Inside this scope, so unknown /api paths are also behind auth: no probing for routes without a token.
  api.setNotFoundHandler(notFoundHandler);
  await api.register(incidentRoutes, { deps });
  await api.register(deviceRoutes, { deps });
  await api.register(smsRoutes, { deps });
  if (deps.visits) await api.register(visitRoutes, { visits: deps.visits });
};
