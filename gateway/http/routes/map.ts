// GET /api/map: communities, buildings and residents with coordinates for the offline map, scoped to the caller's community.
import type { FastifyPluginAsync } from 'fastify';
import { communityScope } from '../../access/scope.js';
import { requireRole } from '../auth.js';
import type { MapSource } from '../../live/map-data.js';

export const mapRoutes: FastifyPluginAsync<{ map: MapSource }> = async (app, { map }) => {
  // Volunteers see only their own visits: no map of everyone's homes.
  app.get('/map', { preHandler: requireRole('admin', 'duty_officer', 'worker') }, async (request) => {
    return map.snapshot(communityScope(request.caller));
  });
};
