// Who may switch alarm buttons to test mode over the API: staff, and grid workers of the device's own community only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Caller } from '../../gateway/access/caller.js';
import type { TestModeApi } from '../../gateway/http/routes/test-mode.js';
import { CareTaskService } from '../../gateway/supervision/tasks.js';
import { TestPresses } from '../../gateway/test-presses/feature.js';
import { bearer, createHttpFixture, type HttpFixture } from '../helpers/http-fixture.js';

describe('test mode: who may set it', () => {
  let f: HttpFixture;
  let presses: TestPresses | null = null;
  const ready = (): TestPresses => {
    if (!presses) throw new Error('test presses not built yet');
    return presses;
  };
  // The routes reach the feature through this, built once the fixture's store exists.
  const testMode: TestModeApi = {
    startWindow: (r, by) => ready().startWindow(r, by),
    endWindow: (id, by) => ready().endWindow(id, by),
    listWindows: (filter) => ready().listWindows(filter),
    untested: (community) => ready().untested(community),
  };
  const worker = async (request: { headers: Record<string, string | string[] | undefined> }): Promise<Caller | null> => {
    const h = request.headers['x-test-worker'];
    if (typeof h !== 'string') return null;
    const [workerId, community] = h.split('@');
    return { kind: 'session', name: `worker ${workerId}`, role: 'worker', workerId, community };
  };
  const volunteer = async (request: { headers: Record<string, string | string[] | undefined> }): Promise<Caller | null> =>
    request.headers['x-test-volunteer'] === 'v-01'
      ? { kind: 'session', name: 'volunteer v-01', role: 'volunteer', volunteerId: 'v-01' }
      : null;

  beforeEach(async () => {
    f = await createHttpFixture({ override: { testMode, authStrategies: [worker, volunteer] } });
    const clock = new ManualClock();
    const log = silentLogger();
    const bus = new EventBus(log);
    const tasks = new CareTaskService({ store: f.store, bus, clock, log });
    // No incident service here: the windows' own behaviour is tested end to end in test-presses.test.ts.
    presses = new TestPresses({
      repo: f.store.testPresses,
      registry: f.store.registry,
      tasks,
      bus,
      clock,
      log,
      timeZone: 'Asia/Shanghai',
      endTests: async () => [],
      triggers: 'manual',
    });
    await presses.start();
  });

  afterEach(async () => {
    await presses?.stop();
    await f.close();
  });

  const start = (headers: Record<string, string>) =>
    f.app.inject({ method: 'POST', url: '/api/devices/btn-001/test-mode', headers, payload: { minutes: 15 } });

  it("lets a worker of the device's community and staff open a window, and refuses anyone else", async () => {
    expect((await start({ 'x-test-worker': 'w-11@xinhe' })).statusCode).toBe(403);
    expect((await start({ 'x-test-volunteer': 'v-01' })).statusCode).toBe(403);
    expect((await f.app.inject({ method: 'POST', url: '/api/devices/btn-001/test-mode', payload: {} })).statusCode).toBe(401);
    const own = await start({ 'x-test-worker': 'w-01@andali' });
    expect(own.statusCode).toBe(201);
    expect(own.json()).toMatchObject({ startedBy: 'worker w-01', communityId: 'andali' });
    expect((await start(bearer())).statusCode).toBe(201);
  });

  it("keeps other communities' windows out of a worker's reach", async () => {
    const opened = (await start({ 'x-test-worker': 'w-01@andali' })).json<{ id: string }>();
    expect(
      (await f.app.inject({ method: 'POST', url: `/api/test-windows/${opened.id}/end`, headers: { 'x-test-worker': 'w-11@xinhe' } }))
        .statusCode,
    ).toBe(403);
    expect(
      (await f.app.inject({ method: 'GET', url: '/api/test-windows?community=andali', headers: { 'x-test-worker': 'w-11@xinhe' } }))
        .statusCode,
    ).toBe(403);
    const mine = await f.app.inject({ method: 'GET', url: '/api/test-windows', headers: { 'x-test-worker': 'w-01@andali' } });
    expect(mine.json<{ id: string }[]>().map((w) => w.id)).toEqual([opened.id]);
    expect(
      (
        await f.app.inject({ method: 'POST', url: `/api/test-windows/${opened.id}/end`, headers: { 'x-test-worker': 'w-01@andali' } })
      ).json(),
    ).toMatchObject({ endReason: 'ended_by_hand', endedBy: 'worker w-01' });
  });
});
