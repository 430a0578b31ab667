// /api/incidents: list, view with timeline, and acknowledge / resolve on behalf of staff or a worker, scoped by role.
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { INCIDENT_STATES, type Incident, type IncidentState, type Responder } from '../../core/types.js';
import type { IncidentFilter } from '../../storage/ports.js';
import type { HttpDeps } from '../deps.js';
import type { IncidentView } from '../../incidents/views.js';
import { idParams, limitProperty, type IdParams } from './schemas.js';
import { requireRole } from '../auth.js';
import { actingResponder, assertIncidentInScope, readableCommunity } from '../../access/scope.js';

/** Volunteers never see incidents; workers see their community's. */
const incidentRoles = requireRole('admin', 'duty_officer', 'worker');

/** Notes are kept as typed (the renderer escapes them); only their length is limited: longer is a 400 naming the limit. */
export const NOTE_MAX = 2000;

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
    note: { type: 'string', maxLength: NOTE_MAX },
    by: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

/** Newest first, whatever order the source returned (the contract fixes it). */
function newestFirst(views: IncidentView[]): IncidentView[] {
  return [...views].sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

export const incidentRoutes: FastifyPluginAsync<{ deps: HttpDeps }> = async (app, { deps }) => {
  app.get<{ Querystring: ListQuery }>(
    '/incidents',
    { onRequest: incidentRoles, schema: { querystring: listQuerySchema } },
    async (request) => {
      const q = request.query;
      const filter: IncidentFilter = {};
      if (q.state) filter.state = q.state;
      if (q.resident) filter.residentId = q.resident;
      const community = readableCommunity(request.caller, q.community);
      if (community !== null) filter.communityId = community;
      if (q.limit) filter.limit = q.limit;
      return newestFirst(await deps.incidents.list(filter));
    },
  );

  app.get<{ Params: IdParams }>('/incidents/:id', { onRequest: incidentRoles, schema: { params: idParams } }, async (request) => {
    const view = await deps.incidents.view(request.params.id);
    if (!view) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND');
    assertIncidentInScope(request.caller, view);
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
        onRequest: incidentRoles,
        schema: { params: idParams, body: actionBodySchema },
        // The body is optional: a bare POST means "no note, act as the caller".
        preValidation: async (request) => {
          request.body ??= {};
        },
      },
      async (request) => {
        const { note, by } = request.body;
        const id = request.params.id;
        const current = await deps.incidents.view(id);
        if (!current) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND');
        assertIncidentInScope(request.caller, current);
        const responder: Responder = actingResponder(request.caller, by);
        // A session acts from the dashboard; the API token is a machine client.
        const channel = request.caller?.kind === 'session' ? 'dashboard' : 'api';
        const updated: Incident =
          action === 'acknowledge'
            ? await deps.incidents.acknowledge(id, responder, channel, note)
            : await deps.incidents.resolve(id, responder, channel, note);
        // Answer in the same shape as GET /api/incidents/:id, so a client can render the result directly.
        return (await deps.incidents.view(id)) ?? updated;
      },
    );
  }

  // "已到达" (on site): the responder is with the resident; recorded once, for time-to-attend.
  app.post<{ Params: IdParams; Body: ActionBody }>(
    '/incidents/:id/onsite',
    {
      onRequest: incidentRoles,
      schema: { params: idParams, body: actionBodySchema },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const markOnSite = deps.incidents.markOnSite?.bind(deps.incidents);
      if (!markOnSite) throw new GatewayError('GW_ERR_NOT_FOUND', 'on-site marking is not available');
      const { note, by } = request.body;
      const id = request.params.id;
      const current = await deps.incidents.view(id);
      if (!current) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND');
      assertIncidentInScope(request.caller, current);
      const channel = request.caller?.kind === 'session' ? 'dashboard' : 'api';
      const updated = await markOnSite(id, actingResponder(request.caller, by), channel, note);
      return (await deps.incidents.view(id)) ?? updated;
    },
  );
};
