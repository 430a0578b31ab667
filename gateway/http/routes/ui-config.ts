// GET /api/ui-config: what the dashboard must know about this installation (time zone, base map, whether SMS really go out).
import type { FastifyPluginAsync } from 'fastify';
import type { UiConfig } from '../deps.js';

export const uiConfigRoutes: FastifyPluginAsync<{ ui: UiConfig }> = async (app, { ui }) => {
  // Every signed-in role may read it: nothing here is personal, and the volunteer view needs the time zone too.
  app.get('/ui-config', async () => ({ timeZone: ui.timeZone, mapTileUrl: ui.mapTileUrl, smsMode: ui.smsMode, version: ui.version }));
};
