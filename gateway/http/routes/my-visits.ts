// /api/my-visits: a volunteer's own visits (resident name and address, never notes) and her 到/走/没人 from the dashboard.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { addDays, formatDate, localDate, parseDate } from '../../core/time.js';
import type { OccurrenceView } from '../../visits/types.js';
import { requireRole } from '../auth.js';
import type { DashboardPageDeps, VolunteerCommand } from './page-deps.js';

interface RangeQuery {
  from?: string;
  days?: number;
}

const rangeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, days: { type: 'integer', minimum: 1, maximum: 31 } },
} as const;

/** URL action → command; the same three a volunteer can text. */
const ACTIONS: Record<string, VolunteerCommand> = {
  'check-in': 'check_in',
  'check-out': 'check_out',
  'door-unanswered': 'door_unanswered',
};

/** Outcomes that changed something; the others are polite refusals (too early, nothing today, not checked in). */
const DONE = new Set(['visit_check_in', 'visit_check_out', 'visit_door_unanswered', 'visit_already_checked_in']);

export interface MyVisit extends OccurrenceView {
  residentName: string;
  address: string;
  building: string | null;
}

function volunteerOf(request: FastifyRequest): string {
  const id = request.caller?.volunteerId;
  if (!id) throw new GatewayError('GW_ERR_FORBIDDEN', 'this page is for a signed-in volunteer');
  return id;
}

export const myVisitRoutes: FastifyPluginAsync<{ pages: DashboardPageDeps }> = async (app, { pages }) => {
  const volunteerOnly = requireRole('volunteer');

  app.get<{ Querystring: RangeQuery }>(
    '/my-visits',
    { preHandler: volunteerOnly, schema: { querystring: rangeQuery } },
    async (request) => {
      const volunteer = volunteerOf(request);
      const now = pages.clock.now();
      const from = request.query.from ? parseDate(request.query.from) : localDate(now, pages.timeZone);
      if (!from) throw new GatewayError('GW_ERR_BAD_REQUEST', `from must be a real date, got "${request.query.from ?? ''}"`);
      const to = addDays(from, (request.query.days ?? 14) - 1);
      const list = pages.visits ? await pages.visits.listOccurrences({ from: formatDate(from), to: formatDate(to), volunteer }) : [];
      const visits: MyVisit[] = [];
      for (const o of list) {
        const resident = await pages.registry.getResident(o.resident);
        // Names and addresses only: a volunteer never sees notes, family phones or other residents.
        visits.push({
          ...o,
          residentName: resident?.name ?? o.resident,
          address: resident?.address ?? '',
          building: resident?.building ?? null,
        });
      }
      const today = formatDate(localDate(now, pages.timeZone));
      return { volunteer, today, current: currentVisit(visits, now, today), visits };
    },
  );

  app.post<{ Params: { action: string } }>(
    '/my-visits/:action',
    {
      preHandler: volunteerOnly,
      schema: { params: { type: 'object', required: ['action'], properties: { action: { type: 'string', enum: Object.keys(ACTIONS) } } } },
    },
    async (request) => {
      const volunteer = volunteerOf(request);
      const command = ACTIONS[request.params.action];
      if (!command || !pages.volunteerActions) throw new GatewayError('GW_ERR_NOT_FOUND');
      // The action finds her own current visit itself, as her SMS would: she cannot name somebody else's.
      const outcome = await pages.volunteerActions.act(volunteer, command);
      if (!DONE.has(outcome)) throw new GatewayError('GW_ERR_CONFLICT', outcome, { outcome });
      request.log.info({ volunteer, outcome }, 'volunteer acted from the dashboard');
      return { outcome };
    },
  );
};

/**
 * The visit the big buttons act on: the one she is checked in to, else today's earliest that is not over and not
 * settled (the same choice the SMS check-in makes). `today` is the local date "YYYY-MM-DD".
 */
export function currentVisit(visits: MyVisit[], now: number, today: string): { visit: string; start: string } | null {
  const checkedIn = visits.find((v) => v.status === 'checked_in');
  // Starts are ISO with the local offset, so their first ten characters are the local date.
  const next =
    checkedIn ??
    visits.find((v) => (v.status === 'scheduled' || v.status === 'missed') && Date.parse(v.end) > now && v.start.slice(0, 10) === today);
  return next ? { visit: next.visit, start: next.start } : null;
}
