// /api test mode: open a test window for a device or a building, end it, list windows, and the weekly list of untested buttons.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { requireRole } from '../auth.js';
import { communityScope } from '../../access/scope.js';
import { GatewayError } from '../../core/errors.js';
import type { StartTestRequest, TestActor } from '../../test-presses/service.js';
import type { TestWindow } from '../../test-presses/types.js';
import { TEST_WINDOW_MAX_MINUTES, TEST_WINDOW_MIN_MINUTES } from '../../test-presses/types.js';
import type { WeeklyTestReport } from '../../test-presses/weekly.js';
import { idParams, limitProperty, type IdParams } from './schemas.js';

/** What the routes need from test mode (gateway/test-presses). */
export interface TestModeApi {
  startWindow(request: StartTestRequest, by: TestActor): Promise<TestWindow>;
  endWindow(id: string, by: TestActor): Promise<TestWindow>;
  listWindows(filter: { communityId?: string; limit?: number }): Promise<TestWindow[]>;
  untested(communityId?: string): Promise<WeeklyTestReport>;
}

interface WindowBody {
  minutes?: number;
  note?: string;
}

const windowProperties = {
  minutes: { type: 'integer', minimum: TEST_WINDOW_MIN_MINUTES, maximum: TEST_WINDOW_MAX_MINUTES },
  note: { type: 'string', maxLength: 200 },
} as const;

const deviceBodySchema = { type: 'object', additionalProperties: false, properties: windowProperties } as const;

interface BuildingBody extends WindowBody {
  community: string;
  building: string;
}

const buildingBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['community', 'building'],
  properties: {
    ...windowProperties,
    community: { type: 'string', minLength: 1, maxLength: 64 },
    building: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

const listQuerySchema = {
  type: 'object',
  properties: { community: { type: 'string', minLength: 1, maxLength: 64 }, limit: limitProperty },
} as const;

function actor(request: FastifyRequest): TestActor {
  const caller = request.caller;
  if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
  return { name: caller.name, community: communityScope(caller) };
}

/** The community to filter by: the caller's own (asking for another is 403), else the one asked for. */
function scoped(request: FastifyRequest, asked: string | undefined): string | undefined {
  const scope = communityScope(request.caller);
  if (scope !== null && asked !== undefined && asked !== scope)
    throw new GatewayError('GW_ERR_FORBIDDEN', `you may see community ${scope} only`);
  return scope ?? asked;
}

function windowOptions(body: WindowBody | undefined): Pick<StartTestRequest, 'minutes' | 'note'> {
  return { ...(body?.minutes !== undefined ? { minutes: body.minutes } : {}), ...(body?.note !== undefined ? { note: body.note } : {}) };
}

export const testModeRoutes: FastifyPluginAsync<{ testMode: TestModeApi }> = async (app, { testMode }) => {
  // Grid workers test the buttons of their own community; staff any. A volunteer never switches alarms to tests.
  app.addHook('onRequest', requireRole('admin', 'duty_officer', 'worker'));

  app.post<{ Params: IdParams; Body: WindowBody | undefined }>(
    '/devices/:id/test-mode',
    { schema: { params: idParams, body: deviceBodySchema } },
    async (request, reply) => {
      const window = await testMode.startWindow(
        { target: { kind: 'device', deviceId: request.params.id }, ...windowOptions(request.body) },
        actor(request),
      );
      return reply.code(201).send(window);
    },
  );

  app.post<{ Body: BuildingBody }>('/buildings/test-mode', { schema: { body: buildingBodySchema } }, async (request, reply) => {
    const { community, building } = request.body;
    const window = await testMode.startWindow(
      { target: { kind: 'building', communityId: community, building }, ...windowOptions(request.body) },
      actor(request),
    );
    return reply.code(201).send(window);
  });

  app.get<{ Querystring: { community?: string; limit?: number } }>(
    '/test-windows',
    { schema: { querystring: listQuerySchema } },
    async (request) => {
      const communityId = scoped(request, request.query.community);
      return testMode.listWindows({
        ...(communityId ? { communityId } : {}),
        ...(request.query.limit ? { limit: request.query.limit } : {}),
      });
    },
  );

  app.post<{ Params: IdParams }>('/test-windows/:id/end', { schema: { params: idParams } }, async (request) =>
    testMode.endWindow(request.params.id, actor(request)),
  );

  app.get<{ Querystring: { community?: string } }>(
    '/test-presses/untested',
    { schema: { querystring: listQuerySchema } },
    async (request) => {
      return testMode.untested(scoped(request, request.query.community));
    },
  );
};
