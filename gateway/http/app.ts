// Builds the HTTP app (API, webhooks, health, metrics, the SMS link's incident page) from its dependencies; it never listens (see server.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { HttpDeps } from './deps.js';
import { createErrorHandler, notFoundHandler } from './errors.js';
import { apiRoutes } from './routes/api.js';
import { sessionRoutes } from './session/routes.js';
import { healthRoutes } from './routes/health.js';
import { incidentPageRoutes } from './routes/incident-page.js';
import { metricsRoutes } from './routes/metrics.js';
import { twilioWebhookRoutes } from './routes/twilio-webhooks.js';
import { domesticWebhookRoutes } from './routes/domestic-webhooks.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { visitLinkRoutes } from './routes/visit-link.js';
import { ingestPushRoutes } from './routes/ingest-push.js';
import { tencentVoiceRoutes, twilioVoiceRoutes } from './routes/voice-webhooks.js';

/** Default request body limit; a route that needs more (a registry import) sets its own. */
export const BODY_LIMIT = 64 * 1024;
/** Headers and body of one request must arrive within this; a stalled upload is answered 408 and its socket closed. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Headers alone must arrive sooner: a slow-headers client holds a socket without ever reaching a route. */
const HEADERS_TIMEOUT_MS = 10_000;
/** A socket with no traffic either way for this long is closed; the live feed's 15 s heartbeat keeps its streams open. */
const CONNECTION_TIMEOUT_MS = 60_000;
/** An idle keep-alive socket is closed after this (fastify's own default, 72 s, lets idle sockets pile up). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Node's timeout settings for the server; the expiry checks run often enough that a timeout is not overshot by much. */
function serverTimeouts(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    connectionTimeout: Math.max(CONNECTION_TIMEOUT_MS, requestTimeoutMs),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeoutMs),
      // Node checks request and header deadlines on this interval (30 s by default), which would double a short timeout.
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(requestTimeoutMs / 4))),
    },
  };
}

export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  const log = deps.log.child({ component: 'http' });
  const tls = deps.tls ?? null;
  // Typed with fastify's base logger so the app is a plain FastifyInstance that other plugins (dashboard) can take.
  const app = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: log,
    bodyLimit: BODY_LIMIT,
    ...serverTimeouts(deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
    // Only a named proxy's X-Forwarded-* headers are believed (sign-in limits count per client address behind it);
    // webhooks rely on signatures, not addresses.
    trustProxy: deps.trustProxy && deps.trustProxy.length > 0 ? [...deps.trustProxy] : false,
    ...(tls ? { serverFactory: (handler) => createHttpsServer({ cert: tls.cert, key: tls.key }, handler) } : {}),
    return503OnClosing: true,
  });

  app.decorateRequest('caller', null);
  app.setErrorHandler(createErrorHandler(log));
  app.setNotFoundHandler(notFoundHandler);

  await app.register(healthRoutes, { deps });
  await app.register(metricsRoutes, { deps });
  await app.register(twilioWebhookRoutes, { deps });
  if (deps.vendorPush) await app.register(ingestPushRoutes, { push: deps.vendorPush });
  if (deps.voice) {
    await app.register(twilioVoiceRoutes, { deps, voice: deps.voice });
    await app.register(tencentVoiceRoutes, { deps, voice: deps.voice });
  }
  await app.register(domesticWebhookRoutes, { deps });
  if (deps.accounts) await app.register(sessionRoutes, { accounts: deps.accounts, publicUrl: deps.publicUrl });
  if (deps.accounts && deps.incidentPage)
    await app.register(visitLinkRoutes, { accounts: deps.accounts, page: deps.incidentPage, publicUrl: deps.publicUrl });
  await app.register(apiRoutes, { deps, prefix: '/api' });
  if (deps.incidentPage) await app.register(incidentPageRoutes, { deps, page: deps.incidentPage });
  if (deps.dashboard) await app.register(dashboardRoutes, deps.dashboard);
  return app;
}
