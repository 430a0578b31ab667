// The /api scope: every route below it needs an authenticated caller (the API token or a dashboard session).
import type { FastifyPluginAsync } from 'fastify';
import { createAuthenticate, requireCaller } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { notFoundHandler } from '../errors.js';
import { deviceRoutes } from './devices.js';
import { incidentRoutes } from './incidents.js';
import { smsRoutes } from './sms.js';
import { visitRoutes } from './visits.js';
import { taskRoutes } from './tasks.js';
import { testModeRoutes } from './test-mode.js';
import { dashboardPageRoutes } from './pages.js';
import { SessionGuard } from '../session/guard.js';
import { accountAdminRoutes } from '../session/admin-routes.js';
import { streamRoutes } from './stream.js';
import { uiConfigRoutes } from './ui-config.js';
import { mapRoutes } from './map.js';

export const apiRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (api, { deps }) => {
  // A dashboard session cookie is one more way in, after the API token; its changes must carry the CSRF token.
  const sessions = deps.accounts ? new SessionGuard({ accounts: deps.accounts }) : null;
  const authStrategies = [...(deps.authStrategies ?? []), ...(sessions ? [sessions.strategy()] : [])];
  api.addHook('onRequest', requireCaller(createAuthenticate({ apiToken: deps.apiToken, authStrategies })));
  if (sessions) api.addHook('onRequest', sessions.csrfHook());
  // Inside this scope, so unknown /api paths are also behind auth: no probing for routes without a token.
  api.setNotFoundHandler(notFoundHandler);
  await api.register(incidentRoutes, { deps });
  await api.register(deviceRoutes, { deps });
  await api.register(smsRoutes, { deps });
  if (deps.visits) await api.register(visitRoutes, { visits: deps.visits, residents: deps.devices });
  if (deps.supervision) await api.register(taskRoutes, { supervision: deps.supervision });
  if (deps.testMode) await api.register(testModeRoutes, { testMode: deps.testMode });
  if (deps.accounts) await api.register(accountAdminRoutes, { accounts: deps.accounts });
  if (deps.live) await api.register(streamRoutes, { live: deps.live });
  if (deps.ui) await api.register(uiConfigRoutes, { ui: deps.ui });
  if (deps.map) await api.register(mapRoutes, { map: deps.map });
  if (deps.dashboardPages) await api.register(dashboardPageRoutes, { pages: deps.dashboardPages });
};
