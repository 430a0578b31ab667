// /api/sms: the recent outbound SMS log, newest first, with delivery status.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { limitProperty } from './schemas.js';

const DEFAULT_LIMIT = 100;

export const smsRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  app.get<{ Querystring: { limit?: number } }>(
    '/sms',
    { schema: { querystring: { type: 'object', properties: { limit: limitProperty } } } },
    async (request) => {
      const messages = await deps.smsLog(request.query.limit ?? DEFAULT_LIMIT);
      return [...messages].sort((a, b) => b.createdAt - a.createdAt);
    },
  );
};
