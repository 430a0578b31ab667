// Weekly test presses end to end: a test window from the API, a real button press over MQTT, the worker's test page, no family page, the window's end, the weekly list.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import type { TestWindow } from '../../gateway/test-presses/types.js';
import type { WeeklyTestReport } from '../../gateway/test-presses/weekly.js';
import { shanghaiLast } from '../helpers/calendar.js';

const LAST_THURSDAY_10 = shanghaiLast(4, 10);
const W1 = '+8613900000001';
const SON = '+8613800000001';
const DAUGHTER = '+8613800000002';
const MINUTE = 60_000;

describe('test presses', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;
  let seq = 0;

  beforeEach(async () => {
    clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const post = <T>(path: string, body: unknown) => api<T>(path, { method: 'POST', body: JSON.stringify(body) });
  const press = async () => {
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    await t.gateway.processor.idle();
  };
  const incidents = async () => (await api<IncidentView[]>('/api/incidents')).body;
  const storedSms = async (incidentId: string) => t.gateway.store.sms.listForIncident(incidentId);

  it('pages the worker a test page, never the family, and records the press as a test', async () => {
    const opened = await post<TestWindow>('/api/devices/btn-001/test-mode', { minutes: 30, note: '周检' });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({
      scope: { kind: 'device', deviceId: 'btn-001' },
      communityId: 'andali',
      startedBy: 'API',
      endsAt: clock.now() + 30 * MINUTE,
    });

    await press();
    const [incident] = await incidents();
    expect(incident).toMatchObject({ type: 'sos', state: 'open', test: true, step: 1 });
    const page = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    expect(page.body).toContain('测试');
    const sent = await storedSms(incident!.id);
    // Every SMS of the incident is stored as it is enqueued, in the transaction that opened it: none is for the family.
    expect(sent.map((m) => m.role)).toEqual(['worker', 'worker']);
    expect(sent.filter((m) => m.to === SON || m.to === DAUGHTER)).toEqual([]);
    // A test never escalates: no next step is armed.
    expect(incident!.nextStepAt).toBeNull();
    expect((await t.gateway.store.testPresses.lastPressByDevice()).get('btn-001')).toBe(clock.now());

    // The untested list no longer names the button.
    const report = await api<WeeklyTestReport>('/api/test-presses/untested');
    expect(report.body.untested.map((u) => u.deviceId)).toEqual(['btn-002']);
  });

  it('closes the test when the window runs out, and takes the next press as a real alarm that pages the family', async () => {
    await post<TestWindow>('/api/devices/btn-001/test-mode', { minutes: 10 });
    await press();
    const [test] = await incidents();
    expect(test).toMatchObject({ test: true, state: 'open' });

    clock.advance(10 * MINUTE);
    await t.gateway.testPresses.mode.idle();
    const closed = (await api<IncidentView>(`/api/incidents/${test!.id}`)).body;
    expect(closed).toMatchObject({ state: 'resolved', test: true });
    expect(closed.timeline?.at(-1)).toMatchObject({
      action: 'resolved',
      detail: expect.objectContaining({ test: true, reason: 'test ended: the test window ran out' }) as unknown,
    });

    await press();
    const real = (await incidents()).find((i) => i.id !== test!.id);
    expect(real).toMatchObject({ type: 'sos', state: 'open', test: false });
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
    expect((await storedSms(real!.id)).some((m) => m.role === 'family')).toBe(true);
  });

  it('ends a test at once when a real alarm arrives after a window ended by hand', async () => {
    const opened = await post<TestWindow>('/api/devices/btn-001/test-mode', {});
    expect(opened.body.endsAt - opened.body.startedAt).toBe(30 * MINUTE);
    await press();
    const ended = await post<TestWindow>(`/api/test-windows/${opened.body.id}/end`, {});
    expect(ended.body).toMatchObject({ endReason: 'ended_by_hand', endedBy: 'API' });
    await t.gateway.testPresses.mode.idle();
    expect((await post(`/api/test-windows/${opened.body.id}/end`, {})).status).toBe(409);

    clock.advance(MINUTE);
    await press();
    const list = await incidents();
    expect(list.map((i) => [i.test, i.state])).toEqual([
      [false, 'open'],
      [true, 'resolved'],
    ]);
  });

  it('tests every button of a building, and refuses bad windows', async () => {
    expect((await post('/api/devices/btn-001/test-mode', { minutes: 0 })).status).toBe(400);
    expect((await post('/api/devices/btn-001/test-mode', { minutes: 241 })).status).toBe(400);
    expect((await post('/api/devices/nope/test-mode', {})).status).toBe(404);
    expect((await post('/api/buildings/test-mode', { community: 'andali', building: '无此楼' })).status).toBe(404);
    const building = await post<TestWindow>('/api/buildings/test-mode', { community: 'andali', building: '安达里3号楼', minutes: 5 });
    expect(building.status).toBe(201);
    await press();
    expect((await incidents())[0]).toMatchObject({ test: true });
    const windows = await api<TestWindow[]>('/api/test-windows');
    expect(windows.body.map((w) => w.scope)).toEqual([{ kind: 'building', communityId: 'andali', building: '安达里3号楼' }]);
  });

  it('leaves test presses out of the monthly statistics', async () => {
    const alarms = async () => (await api<{ alarms: { total: number } }>('/api/reports/monthly')).body.alarms.total;
    const window = await post<TestWindow>('/api/devices/btn-001/test-mode', {});
    await press();
    expect((await incidents())[0]).toMatchObject({ test: true });
    expect(await alarms()).toBe(0);
    await post(`/api/test-windows/${window.body.id}/end`, {});
    await t.gateway.testPresses.mode.idle();
    clock.advance(MINUTE);
    await press();
    expect(await alarms()).toBe(1);
  });

  it('opens a care task for each button not tested for seven days, and closes it at the next test press', async () => {
    const weekly = t.gateway.testPresses.weekly;
    const first = await weekly.run();
    expect(first?.untested.map((u) => [u.deviceId, u.lastTestedAt])).toEqual([
      ['btn-001', null],
      ['btn-002', null],
    ]);
    await t.gateway.supervision.tasks.idle();
    const open = await t.gateway.store.supervision.listTasks({ state: 'open' });
    expect(open.map((task) => [task.kind, task.deviceId, task.workerId]).sort()).toEqual(
      [
        ['button_untested', 'btn-001', 'w-01'],
        ['button_untested', 'btn-002', 'w-01'],
      ].sort(),
    );

    await post('/api/devices/btn-001/test-mode', {});
    await press();
    await waitFor(
      'task closed by the test press',
      async () => !(await t.gateway.store.supervision.findOpenTask('button_untested', 'r-001', 'btn-001')),
    );

    // A week and a day later the test is too old again.
    clock.advance(8 * 24 * 60 * MINUTE);
    const later = await weekly.run();
    expect(later?.untested.map((u) => u.deviceId)).toEqual(['btn-001', 'btn-002']);
    expect(later?.untested[0]?.lastTestedAt).toBe(new Date(LAST_THURSDAY_10).toISOString());
  });
});
