// The visit routes plugin alone in a tiny fastify app (app.inject), over a real VisitService and SQLite store.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { createErrorHandler } from '../../gateway/http/errors.js';
import { visitRoutes } from '../../gateway/http/routes/visits.js';
import type { OccurrenceView } from '../../gateway/visits/types.js';
import { shanghaiMonth } from '../helpers/calendar.js';
import { dateOf, onDay, startVisitsGateway, V01, type VisitsGateway } from '../helpers/visits.js';

describe('/api/visits and /api/volunteers routes', () => {
  let rig: VisitsGateway;
  let app: FastifyInstance;

  beforeEach(async () => {
    rig = await startVisitsGateway({ clock: new ManualClock(onDay(0, 12)) });
    app = Fastify();
    app.setErrorHandler(createErrorHandler(silentLogger()));
    await app.register(visitRoutes, { visits: rig.visits, prefix: '/api' });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await rig.close();
  });

  const json = (method: 'POST' | 'PATCH', url: string, payload: unknown) =>
    app.inject({ method, url, payload: payload as Record<string, unknown> });
  const list = async (query: string) => (await app.inject({ method: 'GET', url: `/api/visits?${query}` })).json<OccurrenceView[]>();

  it('lists occurrences of a date range with the contract fields', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/visits?from=${dateOf(1)}&to=${dateOf(6)}&volunteer=v-01` });
    expect(res.statusCode).toBe(200);
    const body = res.json<OccurrenceView[]>();
    expect(body).toHaveLength(2);
    expect(body[0]).toMatchObject({
      visit: 'vis-01',
      volunteer: 'v-01',
      resident: 'r-001',
      start: `${dateOf(1)}T11:00:00+08:00`,
      end: `${dateOf(1)}T12:30:00+08:00`,
      activity: '做饭',
      status: 'scheduled',
    });
  });

  it('answers 400 with a coded error for bad queries and bodies', async () => {
    const cases: [string, Promise<{ statusCode: number; json: () => unknown }>, RegExp][] = [
      ['no range', app.inject({ method: 'GET', url: '/api/visits' }), /from/],
      ['range too long', app.inject({ method: 'GET', url: `/api/visits?from=${dateOf(0)}&to=${dateOf(100)}` }), /at most 92 days/],
      ['bad date', app.inject({ method: 'GET', url: `/api/visits?from=2026-11-1&to=${dateOf(6)}` }), /from/],
      [
        'invalid cron',
        json('POST', '/api/visits', { volunteer: 'v-03', resident: 'r-002', cron: '0 99 * * 1', durationMinutes: 30, activity: '陪聊' }),
        /invalid cron/,
      ],
      [
        'unknown volunteer',
        json('POST', '/api/visits', { volunteer: 'v-99', resident: 'r-002', cron: '0 9 * * 1', durationMinutes: 30, activity: '陪聊' }),
        /unknown volunteer v-99/,
      ],
      [
        'missing field',
        json('POST', '/api/visits', { volunteer: 'v-03', resident: 'r-002', cron: '0 9 * * 1', activity: '陪聊' }),
        /durationMinutes/,
      ],
      [
        'overlap',
        json('POST', '/api/visits', { volunteer: 'v-01', resident: 'r-002', cron: '0 12 * * 4', durationMinutes: 30, activity: '陪聊' }),
        /overlaps visit vis-01/,
      ],
      ['empty patch', json('PATCH', '/api/visits/vis-01', {}), /fewer than 1/],
      [
        'both fixes',
        json('PATCH', `/api/visits/vis-01/occurrences/${dateOf(-1)}T11:00`, { volunteer: 'v-02', hours: 1 }),
        /either volunteer .* or hours/,
      ],
    ];
    for (const [what, pending, message] of cases) {
      const res = await pending;
      expect(res.statusCode, what).toBe(400);
      const body = res.json() as { error: { code: string; message: string } };
      expect(body.error.code, what).toBe('GW_ERR_BAD_REQUEST');
      expect(body.error.message, what).toMatch(message);
    }
    expect(await list(`from=${dateOf(-2)}&to=${dateOf(4)}`)).toHaveLength(2);
  });

  it('creates, changes, pauses, resumes and cancels a visit', async () => {
    const created = await json('POST', '/api/visits', {
      id: 'vis-new',
      volunteer: 'v-03',
      resident: 'r-002',
      cron: '0 9 * * 1',
      durationMinutes: 60,
      activity: '陪聊',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'vis-new', state: 'active', next: `${dateOf(5)}T09:00:00+08:00` });
    expect((await app.inject({ method: 'GET', url: '/api/visits/vis-new' })).json()).toMatchObject({ cron: '0 9 * * 1' });
    expect((await app.inject({ method: 'GET', url: '/api/visits/vis-none' })).statusCode).toBe(404);

    const patched = await json('PATCH', '/api/visits/vis-new', { volunteer: 'v-02', cron: '30 9 * * 1' });
    expect(patched.json()).toMatchObject({ volunteer: 'v-02', next: `${dateOf(5)}T09:30:00+08:00` });
    expect((await app.inject({ method: 'POST', url: '/api/visits/vis-new/pause' })).json()).toMatchObject({ state: 'paused' });
    expect((await list(`from=${dateOf(5)}&to=${dateOf(5)}&resident=r-002`))[0]?.status).toBe('cancelled');
    expect((await app.inject({ method: 'POST', url: '/api/visits/vis-new/resume' })).json()).toMatchObject({ state: 'active' });
    expect((await app.inject({ method: 'POST', url: '/api/visits/vis-new/cancel' })).json()).toMatchObject({ state: 'cancelled' });
    expect((await app.inject({ method: 'POST', url: '/api/visits/vis-new/resume' })).statusCode).toBe(400);
  });

  it('cancels, reassigns and corrects single occurrences addressed by their listed start', async () => {
    const start = encodeURIComponent(`${dateOf(6)}T11:00:00+08:00`);
    const cancelled = await app.inject({
      method: 'POST',
      url: `/api/visits/vis-01/occurrences/${start}/cancel`,
      payload: { note: '老人住院' },
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', start: `${dateOf(6)}T11:00:00+08:00` });
    const bare = await app.inject({ method: 'POST', url: `/api/visits/vis-01/occurrences/${dateOf(8)}T11:00/cancel` });
    expect(bare.json()).toMatchObject({ status: 'cancelled' });

    const moved = await json('PATCH', `/api/visits/vis-01/occurrences/${dateOf(1)}T11:00`, { volunteer: 'v-02' });
    expect(moved.json()).toMatchObject({ volunteer: 'v-02', reassignedFrom: 'v-01' });
    const fixed = await json('PATCH', `/api/visits/vis-01/occurrences/${dateOf(-1)}T11:00`, { hours: 1.5, note: '补记', by: '协调员' });
    expect(fixed.json()).toMatchObject({ status: 'done', hours: 1.5 });
  });

  it('serves the ledger, takes redemptions and exports the month as CSV', async () => {
    rig.clock.set(onDay(0, 19));
    await rig.visits.runReminders();
    rig.clock.set(onDay(1, 11));
    await rig.text(V01, '到');
    rig.clock.set(onDay(1, 12, 30));
    await rig.text(V01, '走');

    const ledger = await app.inject({ method: 'GET', url: '/api/volunteers/v-01/ledger' });
    expect(ledger.json()).toMatchObject({ balance: 15, hours: 1.5, entries: [{ kind: 'visit', points: 15, balance: 15 }] });
    expect((await app.inject({ method: 'GET', url: '/api/volunteers/v-99/ledger' })).statusCode).toBe(404);

    const redeemed = await json('POST', '/api/volunteers/v-01/redemptions', { points: 10, note: '兑换毛巾' });
    expect(redeemed.statusCode).toBe(201);
    expect(redeemed.json()).toMatchObject({ kind: 'redemption', points: -10, balance: 5, by: 'API' });
    expect((await json('POST', '/api/volunteers/v-01/redemptions', { points: 6, note: '兑换' })).statusCode).toBe(400);
    expect((await json('POST', '/api/volunteers/v-01/redemptions', { points: -1, note: '兑换' })).statusCode).toBe(400);

    const month = shanghaiMonth(onDay(1, 11));
    const csv = await app.inject({ method: 'GET', url: `/api/volunteers/hours.csv?month=${month}` });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe(`attachment; filename="volunteer-hours-${month}.csv"`);
    expect(csv.body.startsWith('\uFEFFmonth,volunteer,name,team,visits,hours,points_earned,points_redeemed\r\n')).toBe(true);
    expect(csv.body).toContain(`${month},v-01,王奶奶,apron,1,1.5,15,10\r\n`);
    expect((await app.inject({ method: 'GET', url: '/api/volunteers/hours.csv?month=Nov' })).statusCode).toBe(400);
  });
});
