// /api/visits and /api/volunteers: visit occurrences, plan changes, occurrence fixes, the hours ledger and its monthly CSV.
import type { FastifyPluginAsync } from 'fastify';
import { badRequest } from '../../visits/schedule.js';
import type { VisitService } from '../../visits/service.js';
import type { NewVisitInput } from '../../visits/schedule.js';
import { idParams, type IdParams } from './schemas.js';
import { GatewayError } from '../../core/errors.js';
import type { Resident } from '../../core/types.js';
import type { OccurrenceView } from '../../visits/types.js';
import { readableCommunity, volunteerSelf } from '../../access/scope.js';
import { callerRoles } from '../auth.js';

/** What the routes need from the visit feature (VisitService implements it). */
export type VisitApi = Pick<
  VisitService,
  | 'listOccurrences'
  | 'getVisit'
  | 'createVisit'
  | 'updateVisit'
  | 'pauseVisit'
  | 'resumeVisit'
  | 'cancelVisit'
  | 'cancelOccurrence'
  | 'reassignOccurrence'
  | 'correctHours'
  | 'volunteerLedger'
  | 'redeem'
  | 'hoursCsv'
>;

export interface VisitRouteOptions {
  visits: VisitApi;
  /** Residents' communities (worker scoping) and names and addresses (shown with each occurrence). */
  residents?: { getResident(id: string): Promise<Resident | null> };
}

/** An occurrence with the resident's name and address: all a volunteer is shown of the resident, never notes or family. */
export interface OccurrenceWithResident extends OccurrenceView {
  residentName: string | null;
  address: string | null;
}

/** Plan changes, corrections, redemptions and the hours export are the coordinators' (admin, duty officer). */
const coordinators = callerRoles('admin', 'duty_officer');

const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
const id = text(64);
const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

interface ListQuery {
  from: string;
  to: string;
  volunteer?: string;
  resident?: string;
  community?: string;
}

const listQuery = {
  type: 'object',
  required: ['from', 'to'],
  properties: { from: date, to: date, volunteer: id, resident: id, community: id },
} as const;

const definition = {
  volunteer: id,
  resident: id,
  cron: text(100),
  at: text(25),
  durationMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
  activity: text(100),
} as const;

/** The body of POST /visits is the service's own input. */
type CreateBody = NewVisitInput;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['volunteer', 'resident', 'durationMinutes', 'activity'],
  properties: { id, ...definition },
} as const;

type PatchBody = Partial<Omit<CreateBody, 'id'>>;

const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: definition } as const;

interface OccurrenceParams {
  id: string;
  start: string;
}

const occurrenceParams = {
  type: 'object',
  required: ['id', 'start'],
  properties: { id: text(100), start: text(40) },
} as const;

interface OccurrencePatch {
  volunteer?: string;
  hours?: number;
  note?: string;
  by?: string;
}

const occurrencePatch = {
  type: 'object',
  additionalProperties: false,
  properties: { volunteer: id, hours: { type: 'number', minimum: 0, maximum: 24 }, note: text(500), by: text(100) },
} as const;

const noteBody = { type: 'object', additionalProperties: false, properties: { note: text(500) } } as const;

interface RedemptionBody {
  points: number;
  note: string;
  by?: string;
}

const redemptionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['points', 'note'],
  properties: { points: { type: 'number', exclusiveMinimum: 0 }, note: text(200), by: text(100) },
} as const;

export const visitRoutes: FastifyPluginAsync<VisitRouteOptions> = async (app, { visits, residents }) => {
  const residentOf = async (id: string): Promise<Resident | null> => (residents ? residents.getResident(id) : null);

  app.get<{ Querystring: ListQuery }>('/visits', { schema: { querystring: listQuery } }, async (request) => {
    const caller = request.caller;
    const query = { ...request.query };
    if (caller?.role === 'volunteer') query.volunteer = volunteerSelf(caller, query.volunteer);
    if (caller?.role === 'worker') {
      const community = readableCommunity(caller, query.community);
      if (community !== null) query.community = community;
    }
    const list = await visits.listOccurrences(query);
    const known = new Map<string, Resident | null>();
    for (const id of new Set(list.map((o) => o.resident))) known.set(id, await residentOf(id));
    return list.map((o): OccurrenceWithResident => ({
      ...o,
      residentName: known.get(o.resident)?.name ?? null,
      address: known.get(o.resident)?.address ?? null,
    }));
  });

  app.post<{ Body: CreateBody }>('/visits', { onRequest: coordinators, schema: { body: createBody } }, async (request, reply) => {
    return reply.code(201).send(await visits.createVisit(request.body));
  });

  app.get<{ Params: IdParams }>('/visits/:id', { schema: { params: idParams } }, async (request) => {
    const plan = await visits.getVisit(request.params.id);
    const caller = request.caller;
    if (caller?.role === 'volunteer' && plan.volunteer !== volunteerSelf(caller))
      throw new GatewayError('GW_ERR_FORBIDDEN', 'a volunteer sees only her own visits');
    if (caller?.role === 'worker') {
      const community = readableCommunity(caller);
      if (community !== null && (await residentOf(plan.resident))?.community !== community) {
        throw new GatewayError('GW_ERR_FORBIDDEN', 'this visit is for a resident of another community');
      }
    }
    return plan;
  });

  // Changes the plan; a new `volunteer` reassigns it from now on.
  app.patch<{ Params: IdParams; Body: PatchBody }>(
    '/visits/:id',
    { onRequest: coordinators, schema: { params: idParams, body: patchBody } },
    async (request) => visits.updateVisit(request.params.id, request.body),
  );

  const stateActions = [
    { path: '/visits/:id/pause', act: (visitId: string) => visits.pauseVisit(visitId) },
    { path: '/visits/:id/resume', act: (visitId: string) => visits.resumeVisit(visitId) },
    { path: '/visits/:id/cancel', act: (visitId: string) => visits.cancelVisit(visitId) },
  ];
  for (const { path, act } of stateActions) {
    app.post<{ Params: IdParams }>(path, { onRequest: coordinators, schema: { params: idParams } }, async (request) =>
      act(request.params.id),
    );
  }

  // `start` is the occurrence's start as listed (ISO with offset, '+' as %2B) or local "YYYY-MM-DDTHH:MM".
  app.patch<{ Params: OccurrenceParams; Body: OccurrencePatch }>(
    '/visits/:id/occurrences/:start',
    { onRequest: coordinators, schema: { params: occurrenceParams, body: occurrencePatch } },
    async (request) => {
      const { id: visitId, start } = request.params;
      const { volunteer, hours, note, by } = request.body;
      if ((volunteer === undefined) === (hours === undefined))
        throw badRequest('give either volunteer (reassign) or hours (correction), not both');
      if (volunteer !== undefined) return visits.reassignOccurrence(visitId, start, volunteer);
      return visits.correctHours(visitId, start, hours ?? 0, note ?? null, by ?? request.caller?.name ?? 'API');
    },
  );

  app.post<{ Params: OccurrenceParams; Body: { note?: string } }>(
    '/visits/:id/occurrences/:start/cancel',
    {
      onRequest: coordinators,
      schema: { params: occurrenceParams, body: noteBody },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => visits.cancelOccurrence(request.params.id, request.params.start, request.body.note),
  );

  app.get<{ Querystring: { month: string } }>(
    '/volunteers/hours.csv',
    { onRequest: coordinators, schema: { querystring: { type: 'object', required: ['month'], properties: { month: text(7) } } } },
    async (request, reply) => {
      const csv = await visits.hoursCsv(request.query.month);
      // The byte-order mark makes spreadsheet programs read the Chinese names as UTF-8.
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="volunteer-hours-${request.query.month}.csv"`)
        .send(`\uFEFF${csv}`);
    },
  );

  app.get<{ Params: IdParams }>(
    '/volunteers/:id/ledger',
    { onRequest: callerRoles('admin', 'duty_officer', 'volunteer'), schema: { params: idParams } },
    async (request) => {
      const caller = request.caller;
      if (caller?.role === 'volunteer') volunteerSelf(caller, request.params.id);
      return visits.volunteerLedger(request.params.id);
    },
  );

  app.post<{ Params: IdParams; Body: RedemptionBody }>(
    '/volunteers/:id/redemptions',
    { onRequest: coordinators, schema: { params: idParams, body: redemptionBody } },
    async (request, reply) => {
      const { points, note, by } = request.body;
      return reply.code(201).send(await visits.redeem(request.params.id, points, note, by ?? request.caller?.name ?? 'API'));
    },
  );
};
