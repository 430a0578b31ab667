// GET /api/map: communities, buildings and residents with coordinates for the offline map, scoped to the caller's community.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { communityScope, requireRole } from '../auth.js';
import type { MapSource } from '../deps.js';

export const mapRoutes: FastifyPluginAsync<{ map: MapSource }> = async (app, { map }) => {
  // Volunteers see only their own visits (issue 5): no map of everyone's homes.
  app.get('/map', { preHandler: requireRole('admin', 'duty_officer', 'worker') }, async (request) => {
    const community = communityScope(request.caller);
    if (request.caller?.role === 'worker' && community === null) throw new GatewayError('GW_ERR_FORBIDDEN', 'this worker account has no community');
    return map.snapshot(community);
  });
};
