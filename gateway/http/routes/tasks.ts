// /api/tasks and /api/outages: care tasks for grid workers and grouped device outages (list, close by hand with a note).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { communityScope } from '../../access/scope.js';
import { requireRole } from '../auth.js';
import { GatewayError } from '../../core/errors.js';
import type { CareTaskView, OutageView } from '../../supervision/service.js';
import type { TaskCloser } from '../../supervision/tasks.js';
import type { CareTaskFilter, OutageFilter } from '../../supervision/types.js';
import { idParams, limitProperty, type IdParams } from './schemas.js';

/** What the routes need from device supervision (gateway/supervision/service.ts Supervision). */
export interface SupervisionApi {
  listTasks(filter: CareTaskFilter): Promise<CareTaskView[]>;
  /** Throws GW_ERR_TASK_NOT_FOUND, GW_ERR_FORBIDDEN or GW_ERR_TASK_NOT_OPEN. */
  closeTask(id: string, by: TaskCloser, note: string): Promise<CareTaskView>;
  listOutages(filter: OutageFilter): Promise<OutageView[]>;
  /** Throws GW_ERR_OUTAGE_NOT_FOUND, GW_ERR_FORBIDDEN or GW_ERR_OUTAGE_NOT_OPEN. */
  closeOutage(id: string, by: TaskCloser, note: string): Promise<OutageView>;
}

const idText = { type: 'string', minLength: 1, maxLength: 100 } as const;

interface TaskQuery {
  state?: 'open' | 'closed';
  community?: string;
  worker?: string;
  limit?: number;
}

const taskQuerySchema = {
  type: 'object',
  properties: { state: { type: 'string', enum: ['open', 'closed'] }, community: idText, worker: idText, limit: limitProperty },
} as const;

interface OutageQuery {
  state?: 'open' | 'closed';
  community?: string;
  limit?: number;
}

const outageQuerySchema = {
  type: 'object',
  properties: { state: { type: 'string', enum: ['open', 'closed'] }, community: idText, limit: limitProperty },
} as const;

interface CloseBody {
  note: string;
}

const closeBodySchema = {
  type: 'object',
  required: ['note'],
  properties: { note: { type: 'string', minLength: 1, maxLength: 500 } },
} as const;

/** The community to filter by: the caller's own (asking for another is 403), else the one asked for. */
function scopedCommunity(request: FastifyRequest, asked: string | undefined): string | undefined {
  const scope = communityScope(request.caller);
  if (scope !== null && asked !== undefined && asked !== scope)
    throw new GatewayError('GW_ERR_FORBIDDEN', `you may see community ${scope} only`);
  return scope ?? asked;
}

export const taskRoutes: FastifyPluginAsync<{ supervision: SupervisionApi }> = async (app, { supervision }) => {
  // Device health and care tasks are for staff and grid workers; a volunteer sees only her visits.
  app.addHook('onRequest', requireRole('admin', 'duty_officer', 'worker'));
  app.get<{ Querystring: TaskQuery }>('/tasks', { schema: { querystring: taskQuerySchema } }, async (request) => {
    const { state, worker, limit } = request.query;
    const communityId = scopedCommunity(request, request.query.community);
    return supervision.listTasks({
      ...(state ? { state } : {}),
      ...(communityId ? { communityId } : {}),
      ...(worker ? { workerId: worker } : {}),
      ...(limit ? { limit } : {}),
    });
  });

  app.post<{ Params: IdParams; Body: CloseBody }>(
    '/tasks/:id/close',
    { schema: { params: idParams, body: closeBodySchema } },
    async (request) => {
      const { by, note } = closer(request);
      return supervision.closeTask(request.params.id, by, note);
    },
  );

  app.get<{ Querystring: OutageQuery }>('/outages', { schema: { querystring: outageQuerySchema } }, async (request) => {
    const { state, limit } = request.query;
    const communityId = scopedCommunity(request, request.query.community);
    return supervision.listOutages({ ...(state ? { state } : {}), ...(communityId ? { communityId } : {}), ...(limit ? { limit } : {}) });
  });

  // Staff, or a worker of the outage's own community (the service refuses another community's with 403).
  app.post<{ Params: IdParams; Body: CloseBody }>(
    '/outages/:id/close',
    { schema: { params: idParams, body: closeBodySchema } },
    async (request) => {
      const { by, note } = closer(request);
      return supervision.closeOutage(request.params.id, by, note);
    },
  );
};

/** Who closes by hand (the caller's name, limited to their community) and the trimmed note, which must not be blank. */
function closer(request: FastifyRequest<{ Body: CloseBody }>): { by: TaskCloser; note: string } {
  const caller = request.caller;
  if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
  const note = request.body.note.trim();
  if (!note) throw new GatewayError('GW_ERR_BAD_REQUEST', 'note must not be blank');
  return { by: { name: caller.name, community: communityScope(caller) }, note };
}
