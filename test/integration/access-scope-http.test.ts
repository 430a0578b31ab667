// Every community-scoped /api route refuses a worker session tied to no community with 403, over real fastify and SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../gateway/access/caller.js';
import { createHttpFixture, expectErrorBody, makeIncident, type HttpFixture } from '../helpers/http-fixture.js';

const T0 = Date.UTC(2026, 10, 26, 2, 0, 0);
const SESSIONS: Record<string, Caller> = {
  stray: { kind: 'session', name: '王五', role: 'worker', userId: 'u-3' },
  andali: { kind: 'session', name: '李明', role: 'worker', userId: 'u-2', community: 'andali', workerId: 'w-01' },
};

describe('community scope on /api for a worker without a community', () => {
  let fx: HttpFixture;
  beforeAll(async () => {
    fx = await createHttpFixture({
      apiToken: null,
      override: { authStrategies: [async (request) => SESSIONS[String(request.headers.cookie)] ?? null] },
    });
    await fx.store.incidents.create(makeIncident({ id: 'inc-a', openedAt: T0 }));
  });
  afterAll(async () => fx.close());

  it.each(['/api/incidents', '/api/incidents/inc-a', '/api/devices'])(
    'answers 403 on GET %s, not an empty or unscoped list',
    async (url) => {
      const stray = await fx.app.inject({ method: 'GET', url, headers: { cookie: 'stray' } });
      expect(stray.statusCode).toBe(403);
      expectErrorBody(stray.json(), 'GW_ERR_FORBIDDEN');
      expect(stray.json()).toMatchObject({ error: { message: 'this worker account has no community' } });
      const own = await fx.app.inject({ method: 'GET', url, headers: { cookie: 'andali' } });
      expect(own.statusCode).toBe(200);
    },
  );

  it('refuses the stray worker an acknowledgement and leaves the incident untouched', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/api/incidents/inc-a/ack', headers: { cookie: 'stray' } });
    expect(res.statusCode).toBe(403);
    expect((await fx.store.incidents.get('inc-a'))?.state).toBe('open');
  });
});
