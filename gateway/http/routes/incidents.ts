// /api/incidents: list, view with timeline, and acknowledge / resolve on behalf of staff.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { INCIDENT_STATES, type Incident, type IncidentState, type Responder } from '../../core/types.js';
import type { IncidentFilter } from '../../storage/ports.js';
import type { HttpDeps, IncidentView } from '../deps.js';
import { idParams, limitProperty, type IdParams } from './schemas.js';

interface ListQuery {
  state?: IncidentState;
  resident?: string;
  community?: string;
  limit?: number;
}

const listQuerySchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...INCIDENT_STATES] },
    resident: { type: 'string', minLength: 1, maxLength: 100 },
    community: { type: 'string', minLength: 1, maxLength: 100 },
    limit: limitProperty,
  },
} as const;

interface ActionBody {
  note?: string;
  /** Name of the staff member acting; the caller's name otherwise. */
  by?: string;
}

const actionBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    note: { type: 'string', maxLength: 2000 },
    by: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

/** Newest first, whatever order the source returned (the contract fixes it). */
function newestFirst(views: IncidentView[]): IncidentView[] {
  return [...views].sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

export const incidentRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  app.get<{ Querystring: ListQuery }>('/incidents', { schema: { querystring: listQuerySchema } }, async (request) => {
    const q = request.query;
    const filter: IncidentFilter = {};
    if (q.state) filter.state = q.state;
    if (q.resident) filter.residentId = q.resident;
    if (q.community) filter.communityId = q.community;
    if (q.limit) filter.limit = q.limit;
    return newestFirst(await deps.incidents.list(filter));
  });

  app.get<{ Params: IdParams }>('/incidents/:id', { schema: { params: idParams } }, async (request) => {
    const view = await deps.incidents.view(request.params.id);
    if (!view) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND');
    return view;
  });

  type Action = 'acknowledge' | 'resolve';
  const actions: { path: string; action: Action }[] = [
    { path: '/incidents/:id/ack', action: 'acknowledge' },
    { path: '/incidents/:id/resolve', action: 'resolve' },
  ];
  for (const { path, action } of actions) {
    app.post<{ Params: IdParams; Body: ActionBody }>(
      path,
      {
        schema: { params: idParams, body: actionBodySchema },
        // The body is optional: a bare POST means "no note, act as the caller".
        preValidation: async (request) => {
          request.body ??= {};
        },
      },
      async (request) => {
        const { note, by } = request.body;
        const responder: Responder = { role: 'staff', id: null, name: by ?? request.caller?.name ?? 'API', phone: null };
        const id = request.params.id;
        const updated: Incident =
          action === 'acknowledge'
            ? await deps.incidents.acknowledge(id, responder, 'api', note)
            : await deps.incidents.resolve(id, responder, 'api', note);
        // Answer in the same shape as GET /api/incidents/:id, so a client can render the result directly.
        return (await deps.incidents.view(id)) ?? updated;
      },
    );
  }
};
