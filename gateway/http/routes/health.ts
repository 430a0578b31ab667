// GET /healthz: can the gateway take and page alarms right now, and which parts are degraded.
import type { FastifyPluginAsync } from 'fastify';
import type { ComponentHealth, HealthReport } from '../../core/health.js';
import type { HttpDeps } from '../deps.js';

export type OverallStatus = 'ok' | 'degraded' | 'down';

export interface HealthBody {
  status: OverallStatus;
  alarmsOk: boolean;
  components: Record<string, ComponentHealth>;
  unassignedIncidents: number;
}

/** 'down' only when alarms cannot be taken or paged; a degraded part (outbox mode, InfluxDB down) or an unassigned incident is 'degraded'. */
export function overallStatus(report: HealthReport): OverallStatus {
  if (!report.alarmsOk) return 'down';
  const impaired = Object.values(report.components).some((c) => c.status === 'degraded' || c.status === 'down');
  return impaired || report.unassignedIncidents > 0 ? 'degraded' : 'ok';
}

export const healthRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  // Probed every few seconds by orchestrators: only problems are worth a log line.
  app.get('/healthz', { logLevel: 'warn' }, async (request, reply) => {
    let report: HealthReport;
    try {
      report = await deps.health();
    } catch (err) {
      request.log.error({ err }, 'health check failed');
      const body: HealthBody = { status: 'down', alarmsOk: false, components: {}, unassignedIncidents: 0 };
      return reply.code(503).send(body);
    }
    const body: HealthBody = {
      status: overallStatus(report),
      alarmsOk: report.alarmsOk,
      components: report.components,
      unassignedIncidents: report.unassignedIncidents,
    };
    return reply.code(report.alarmsOk ? 200 : 503).send(body);
  });
};
