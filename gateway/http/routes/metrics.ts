// GET /metrics: the gateway's Prometheus registry in text exposition format.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../deps.js';

export const metricsRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const text = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(text);
  });
};
