// The gateway's own inactivity monitor, end to end: real broker and mqtt.js sensors, real SQLite care tasks, incidents, visits and Twilio SDK.
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import type { CareTaskView } from '../../gateway/supervision/service.js';
import type { CareTask } from '../../gateway/supervision/types.js';
import type { InactivityMonitor } from '../../gateway/wellness/monitor.js';
import { HOUR_MS } from '../../gateway/wellness/rules.js';
import type { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const REGISTRY = fileURLToPath(new URL('../fixtures/wellness-registry.yaml', import.meta.url));
const W01 = '+8613900000001';
const V01 = '+8613700000001';
/** Wall time in Asia/Shanghai (UTC+8, no daylight saving): November 2026, Wednesday the 25th. */
const sh = (d: number, h: number, mi = 0): number => Date.UTC(2026, 10, d, h - 8, mi);
const iso = (ms: number): string => new Date(ms).toISOString();

/** A started gateway and the monitor it wired itself (gateway/app.ts): the care-task service and the visits' check-in hook. */
interface Rig {
  gw: TestGateway;
  clock: ManualClock;
  monitor: InactivityMonitor;
}

const open: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.stop();
});

async function startRig(clock: ManualClock, reuse: { dataDir?: string; sms?: TwilioSimServer } = {}): Promise<Rig> {
  const gw = await startTestGateway({ clock, env: { REGISTRY_FILE: REGISTRY }, ...reuse });
  open.push(gw);
  return { gw, clock, monitor: gw.gateway.inactivity };
}

/** Stops the gateway (its monitor with it) but keeps the data dir and SMS server, as a restart would. */
async function stopForRestart(rig: Rig): Promise<void> {
  open.splice(open.indexOf(rig.gw), 1);
  await rig.gw.stop({ keep: true });
}

/**
 * Moves the clock (the monitor's own minute timer fires on the way; its sweeps share one run at the new time)
 * and waits for a sweep at that time.
 */
async function at(rig: Rig, t: number): Promise<void> {
  rig.clock.set(t);
  await rig.monitor.sweep();
}

const sensors: MqttClient[] = [];
afterEach(async () => {
  for (const c of sensors.splice(0)) await c.endAsync();
});

/** Publishes a motion event at QoS 1: the PUBACK means the event is in the event log. */
async function publishMotion(rig: Rig, device: string, seq: number): Promise<void> {
  const client = await connectDevice(rig.gw.mqttUrl, device, `s3cret-${device}`);
  sensors.push(client);
  await client.publishAsync(`care/v1/${device}/event`, JSON.stringify({ type: 'motion', seq }), { qos: 1 });
}

async function motion(rig: Rig, device: string, residentId: string, seq: number): Promise<void> {
  await publishMotion(rig, device, seq);
  const now = rig.clock.now();
  await waitFor(`motion of ${residentId} taken as a sign of life`, () => rig.monitor.stateOf(residentId)?.lastSignAt === now);
}

/** The gateway's stored wellness-check care tasks, oldest first (device supervision's tasks of other kinds are left out). */
async function wellnessChecks(rig: Rig, residentId?: string): Promise<CareTask[]> {
  const tasks = await rig.gw.gateway.supervision.tasks.list({ limit: 1000 });
  return tasks
    .filter((t) => t.kind === 'wellness_check' && (residentId === undefined || t.residentId === residentId))
    .sort((a, b) => a.openedAt - b.openedAt || a.id.localeCompare(b.id));
}

async function openedAt(rig: Rig, residentId: string): Promise<number[]> {
  return (await wellnessChecks(rig, residentId)).map((t) => t.openedAt);
}

/** Waits until `count` of the resident's wellness checks are closed (sign-of-life closes run after the event), and returns them all, oldest first. */
async function untilClosed(rig: Rig, residentId: string, count: number): Promise<CareTask[]> {
  return waitFor(`wellness check of ${residentId} closed`, async () => {
    const tasks = await wellnessChecks(rig, residentId);
    return tasks.filter((t) => t.state === 'closed').length === count ? tasks : null;
  });
}

async function inactivityIncidents(rig: Rig, residentId: string) {
  return (await rig.gw.gateway.store.incidents.list({ residentId })).filter((i) => i.type === 'inactivity');
}

async function acknowledge(rig: Rig, incidentId: string): Promise<void> {
  await rig.gw.gateway.incidents.acknowledge(incidentId, { role: 'worker', id: 'w-01', name: '李明', phone: W01 }, 'api');
}

describe('inactivity monitor wired into the gateway', () => {
  it('lets the night pass, opens a wellness check after N waking hours, pages at 2N, and pages a high-risk resident at N', async () => {
    const rig = await startRig(new ManualClock(sh(25, 20)));
    await motion(rig, 'pir-001', 'r-001', 1);
    await motion(rig, 'pir-002', 'r-002', 1);

    // 20:00 -> 06:59: only 20:00-22:00 counts. Nothing happens at night.
    await at(rig, sh(25, 23));
    await at(rig, sh(26, 3));
    await at(rig, sh(26, 6, 59));
    expect(rig.monitor.stateOf('r-001')?.inactiveMs).toBe(2 * HOUR_MS);
    expect(await wellnessChecks(rig)).toEqual([]);
    expect(await rig.gw.gateway.store.incidents.list({})).toEqual([]);

    await at(rig, sh(26, 8, 59));
    expect(await openedAt(rig, 'r-001')).toEqual([]);
    expect(await openedAt(rig, 'r-002')).toEqual([]);
    // r-003 (3 h, never seen since the gateway started at 20:00) was due at 08:00; this test's first sweep after that is 08:59.
    expect(await openedAt(rig, 'r-003')).toEqual([sh(26, 8, 59)]);

    // 09:00: four waking hours without a sign of life: a care task for the resident's grid worker, no page.
    await at(rig, sh(26, 9));
    const r001Tasks = await wellnessChecks(rig, 'r-001');
    expect(r001Tasks).toHaveLength(1);
    const { id: taskId, ...task } = r001Tasks[0]!;
    expect(taskId).toMatch(/^task-/);
    expect(task).toEqual({
      kind: 'wellness_check',
      state: 'open',
      residentId: 'r-001',
      deviceId: null,
      communityId: 'andali',
      workerId: 'w-01',
      detail: {
        inactivityHours: 4,
        hoursWithoutSignOfLife: 4,
        wakingHours: '07:00-22:00',
        lastSignOfLifeAt: iso(sh(25, 20)),
        lastSignSource: 'motion',
      },
      openedAt: sh(26, 9),
      closedAt: null,
      closedBy: null,
      closeReason: null,
      closeNote: null,
      updatedAt: sh(26, 9),
    });
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);
    // The same task as the dashboard's API shows it.
    const res = await fetch(`${rig.gw.httpUrl}/api/tasks?state=open`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(200);
    const views = ((await res.json()) as CareTaskView[]).filter((v) => v.kind === 'wellness_check' && v.resident === 'r-001');
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({
      id: taskId,
      state: 'open',
      residentName: '张桂兰',
      community: 'andali',
      workerName: '李明',
      device: null,
      openedAt: iso(sh(26, 9)),
      closedAt: null,
    });

    // r-002 is high-risk: paged through the alarm path at N, with a task too.
    expect(await openedAt(rig, 'r-002')).toEqual([sh(26, 9)]);
    const [highRisk] = await inactivityIncidents(rig, 'r-002');
    expect(highRisk).toMatchObject({ state: 'open', type: 'inactivity', step: 1 });
    const page = await rig.gw.sms.waitForMessage((m) => m.to === W01 && m.body.startsWith('【求助】王淑珍'));
    expect(page.body).toBe('【求助】王淑珍家已4小时无活动迹象 请上门查看 地址安达里5号楼1门202 时间09:00 回1A接单 回2A转他人');
    await acknowledge(rig, highRisk!.id);

    // 2N = 8 waking hours: 13:00 pages for r-001, not a minute before.
    await at(rig, sh(26, 12, 59));
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);
    await at(rig, sh(26, 13));
    const [incident] = await inactivityIncidents(rig, 'r-001');
    expect(incident).toMatchObject({ state: 'open', step: 1, signalCount: 0 });
    const workerPage = await rig.gw.sms.waitForMessage((m) => m.to === W01 && m.body.startsWith('【求助】张桂兰'));
    // r-003's page of 12:59 holds the letter A on this phone, so this one is B; the son's phone has only this page.
    expect(workerPage.body).toBe('【求助】张桂兰家已8小时无活动迹象 请上门查看 地址安达里3号楼2门401 时间13:00 回1B接单 回2B转他人');
    const familyPage = await rig.gw.sms.waitForMessage((m) => m.to === '+8613800000001');
    expect(familyPage.body).toBe(
      '【紧急】您的家人张桂兰截至13:00已8小时无活动迹象，地址安达里3号楼2门401，社区已通知网格员李明上门查看。您能去请回1A。',
    );
    await acknowledge(rig, incident!.id);

    // Once per episode: later sweeps neither page nor open again, and the page joined nothing (one monitor only).
    await at(rig, sh(26, 15));
    await at(rig, sh(26, 21));
    expect(await inactivityIncidents(rig, 'r-001')).toHaveLength(1);
    expect(await inactivityIncidents(rig, 'r-002')).toHaveLength(1);
    // r-003 reached 2 x 3 h at 11:00; the first sweep after that (12:59) paged it, once.
    const r003 = await inactivityIncidents(rig, 'r-003');
    expect(r003.map((i) => i.openedAt)).toEqual([sh(26, 12, 59)]);
    for (const i of [incident!, highRisk!, r003[0]!]) {
      const actions = (await rig.gw.gateway.store.incidents.listAudit(i.id)).map((e) => e.action);
      expect(actions).not.toContain('alarm_joined');
      expect(actions.filter((a) => a === 'created')).toHaveLength(1);
    }
    // Still one open task each: no sign of life came, so nothing cleared them.
    expect((await wellnessChecks(rig, 'r-001')).map((t) => [t.openedAt, t.state])).toEqual([[sh(26, 9), 'open']]);
    expect((await wellnessChecks(rig, 'r-002')).map((t) => [t.openedAt, t.state])).toEqual([[sh(26, 9), 'open']]);
    expect((await wellnessChecks(rig, 'r-003')).map((t) => [t.openedAt, t.state])).toEqual([[sh(26, 8, 59), 'open']]);
    // r-004 has no inactivityHours: never watched, never a task.
    expect(rig.monitor.stateOf('r-004')).toBeNull();
    expect(await wellnessChecks(rig, 'r-004')).toEqual([]);
    expect(rig.gw.gateway.supervision.tasks.openCounts().wellness_check).toBe(3);
  });

  it('clears the task and ends the episode on motion, and on a volunteer check-in by SMS', async () => {
    const rig = await startRig(new ManualClock(sh(25, 20)));
    await motion(rig, 'pir-001', 'r-001', 1);
    await motion(rig, 'pir-003', 'r-003', 1);

    await at(rig, sh(26, 8));
    expect(await openedAt(rig, 'r-003')).toEqual([sh(26, 8)]); // 3 h: 20-22 and 07-08
    await at(rig, sh(26, 9));
    expect(await openedAt(rig, 'r-001')).toEqual([sh(26, 9)]);

    // Motion at 09:30 closes r-001's task at once, without waiting for a sweep.
    rig.clock.set(sh(26, 9, 30));
    await motion(rig, 'pir-001', 'r-001', 2);
    const [cleared] = await untilClosed(rig, 'r-001', 1);
    expect(cleared).toMatchObject({
      state: 'closed',
      openedAt: sh(26, 9),
      closedAt: sh(26, 9, 30),
      closedBy: 'system',
      closeReason: 'sign of life: motion',
      closeNote: null,
    });
    expect(rig.monitor.stateOf('r-001')).toMatchObject({ inactiveMs: 0, taskOpenedAt: null, pagedAt: null });

    // 10:00: the volunteer texts 到 for the 11:00 visit to r-003, a signed SMS on the gateway's webhook.
    rig.clock.set(sh(26, 10));
    const posted = await rig.gw.sms.reply(V01, '到', { webhookUrl: `${rig.gw.publicUrl}/webhooks/twilio/sms` });
    expect(posted.status).toBe(200);
    const ack = await rig.gw.sms.waitForMessage((m) => m.to === V01 && m.body.startsWith('已签到'));
    expect(ack.body).toBe('已签到：李秀英家 聊天。离开时请回“走”。');
    const [visit] = await rig.gw.gateway.visits.listOccurrences({ from: '2026-11-26', to: '2026-11-26', resident: 'r-003' });
    expect(visit).toMatchObject({ visit: 'vis-03', status: 'checked_in' });
    const [checkedTask] = await untilClosed(rig, 'r-003', 1);
    expect(checkedTask).toMatchObject({
      state: 'closed',
      openedAt: sh(26, 8),
      closedAt: sh(26, 10),
      closedBy: 'system',
      closeReason: 'sign of life: check_in',
    });
    expect(rig.monitor.stateOf('r-003')).toMatchObject({
      lastSignAt: sh(26, 10),
      lastSignSource: 'check_in',
      inactiveMs: 0,
      taskOpenedAt: null,
    });
    // A check-in is not in the event log, so it is saved at once.
    expect((await rig.gw.gateway.store.wellness.list()).find((s) => s.residentId === 'r-003')).toMatchObject({
      lastSignAt: sh(26, 10),
      lastSignSource: 'check_in',
      taskOpenedAt: null,
    });

    // Without those signs r-003 would be paged at 14:00 (2 x 3 h) and r-001 at 13:00; neither is.
    await at(rig, sh(26, 12));
    await at(rig, sh(26, 13, 1));
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);
    expect(await inactivityIncidents(rig, 'r-003')).toEqual([]);
    // A new episode starts from the sign: r-003 (checked in at 10:00) gets a new task at 13:00.
    expect(await openedAt(rig, 'r-003')).toEqual([sh(26, 8), sh(26, 13, 1)]);
    expect(await openedAt(rig, 'r-001')).toEqual([sh(26, 9)]);

    // The registry stops watching r-003: its open task is closed and its count dropped, for good.
    const unwatched = { id: 'r-003', name: '李秀英', community: 'andali', address: '安达里7号楼3门301' };
    await importRegistryDocument({ store: rig.gw.gateway.store, log: silentLogger() }, { residents: [unwatched] });
    await rig.gw.gateway.registryChanged();
    await at(rig, sh(26, 13, 2));
    const r003 = await wellnessChecks(rig, 'r-003');
    expect(r003.map((t) => [t.openedAt, t.state, t.closedAt, t.closeReason])).toEqual([
      [sh(26, 8), 'closed', sh(26, 10), 'sign of life: check_in'],
      [sh(26, 13, 1), 'closed', sh(26, 13, 2), 'inactivity monitoring turned off'],
    ]);
    expect(rig.monitor.stateOf('r-003')).toBeNull();
    expect((await rig.gw.gateway.store.wellness.list()).map((s) => s.residentId)).not.toContain('r-003');
    // Only r-002 (no sign of life since the gateway started) still has one open.
    expect((await wellnessChecks(rig)).filter((t) => t.state === 'open').map((t) => t.residentId)).toEqual(['r-002']);
    expect(rig.gw.gateway.supervision.tasks.openCounts().wellness_check).toBe(1);
  });

  it('keeps the count across a restart, does not count the time the gateway was down, and never repeats a task or a page', async () => {
    const clock = new ManualClock(sh(25, 20));
    const dir = tempDir();
    const first = await startRig(clock, { dataDir: dir.path });
    // Runs last: the SMS server and the data dir outlive each gateway of this test.
    open.unshift({
      stop: async () => {
        await first.gw.sms.stop();
        dir.remove();
      },
    });
    const reuse = { dataDir: dir.path, sms: first.gw.sms };
    await motion(first, 'pir-001', 'r-001', 1);
    await motion(first, 'pir-002', 'r-002', 1);
    await at(first, sh(26, 8)); // 3 waking hours each
    expect(first.monitor.stateOf('r-001')?.inactiveMs).toBe(3 * HOUR_MS);
    // r-003 (3 h, never seen) crosses its threshold before the restart.
    expect(await openedAt(first, 'r-003')).toEqual([sh(26, 8)]);
    await stopForRestart(first);

    // Down from 08:00 to 10:00. Back up: the count resumes at 3 h (5 h would have opened tasks at once).
    clock.set(sh(26, 10));
    const second = await startRig(clock, reuse);
    expect(second.monitor.stateOf('r-001')).toMatchObject({ inactiveMs: 3 * HOUR_MS, lastSignAt: sh(25, 20), lastSignSource: 'motion' });
    expect(await openedAt(second, 'r-001')).toEqual([]);
    expect(await openedAt(second, 'r-002')).toEqual([]);
    await at(second, sh(26, 10, 59));
    expect(await openedAt(second, 'r-001')).toEqual([]);
    expect(await openedAt(second, 'r-002')).toEqual([]);
    await at(second, sh(26, 11));
    expect(await openedAt(second, 'r-001')).toEqual([sh(26, 11)]);
    expect(await openedAt(second, 'r-002')).toEqual([sh(26, 11)]);
    expect(await inactivityIncidents(second, 'r-002')).toHaveLength(1);

    // Restart again at once: the open tasks and the page are remembered, nothing is opened or paged again.
    await stopForRestart(second);
    clock.set(sh(26, 11, 5));
    const third = await startRig(clock, reuse);
    await at(third, sh(26, 11, 30));
    for (const [id, when] of [
      ['r-001', sh(26, 11)],
      ['r-002', sh(26, 11)],
      ['r-003', sh(26, 8)],
    ] as const) {
      expect((await wellnessChecks(third, id)).map((t) => [t.openedAt, t.state])).toEqual([[when, 'open']]);
    }
    const paged = await inactivityIncidents(third, 'r-002');
    expect(paged).toHaveLength(1);
    const actions = (await third.gw.gateway.store.incidents.listAudit(paged[0]!.id)).map((e) => e.action);
    expect(actions).not.toContain('alarm_joined');
    expect(actions.filter((a) => a === 'created')).toHaveLength(1);
    expect(await inactivityIncidents(third, 'r-001')).toEqual([]);
    expect(third.monitor.stateOf('r-002')).toMatchObject({ taskOpenedAt: sh(26, 11), pagedAt: sh(26, 11) });
  });

  it('takes into account motion recorded while the monitor was not running (acknowledged, then a crash)', async () => {
    const clock = new ManualClock(sh(26, 9));
    const dir = tempDir();
    const rig = await startRig(clock, { dataDir: dir.path });
    open.unshift({
      stop: async () => {
        await rig.gw.sms.stop();
        dir.remove();
      },
    });
    await motion(rig, 'pir-001', 'r-001', 1);
    await at(rig, sh(26, 12));
    expect(rig.monitor.stateOf('r-001')?.inactiveMs).toBe(3 * HOUR_MS);

    // The gateway's monitor stops (as if the process died before its next save); the broker still records a motion event.
    await rig.monitor.stop();
    clock.set(sh(26, 12, 30));
    await publishMotion(rig, 'pir-001', 2);
    expect(rig.monitor.stateOf('r-001')?.lastSignAt).toBe(sh(26, 9));

    // The process comes back on the same data dir: the event log is read back from the saved cursor.
    await stopForRestart(rig);
    const restarted = await startRig(clock, { dataDir: dir.path, sms: rig.gw.sms });
    expect(restarted.monitor.stateOf('r-001')).toMatchObject({ lastSignAt: sh(26, 12, 30), lastSignSource: 'motion', inactiveMs: 0 });
    // The count runs from that sign: 13:00 is half an hour, and r-001's 4 h fall due at 16:30, not 13:00.
    await at(restarted, sh(26, 13));
    expect(restarted.monitor.stateOf('r-001')?.inactiveMs).toBe(HOUR_MS / 2);
    expect(await openedAt(restarted, 'r-001')).toEqual([]);
  });

  it('notes a sign of life after the page on the open incident, once, and leaves it open for the visit', async () => {
    const rig = await startRig(new ManualClock(sh(25, 20)));
    await motion(rig, 'pir-002', 'r-002', 1);
    // r-002 is high-risk (4 h): paged at 09:00 the next morning.
    await at(rig, sh(26, 9));
    const [incident] = await inactivityIncidents(rig, 'r-002');
    expect(incident).toMatchObject({ state: 'open', type: 'inactivity' });
    await acknowledge(rig, incident!.id);

    rig.clock.set(sh(26, 9, 20));
    await motion(rig, 'pir-002', 'r-002', 2);
    const noted = await waitFor('sign of life noted on the incident', async () => {
      const entries = await rig.gw.gateway.store.incidents.listAudit(incident!.id);
      return entries.some((e) => e.action === 'sign_of_life') ? entries : null;
    });
    const signs = noted.filter((e) => e.action === 'sign_of_life');
    expect(signs).toHaveLength(1);
    expect(signs[0]).toMatchObject({ at: sh(26, 9, 20), channel: 'system', detail: { source: 'motion', signAt: sh(26, 9, 20) } });
    // A motion sensor cannot say all is well: the worker still goes to the door.
    expect((await rig.gw.gateway.store.incidents.get(incident!.id))?.state).toBe('acknowledged');

    // The episode ended with that sign: more motion adds nothing to the incident.
    rig.clock.set(sh(26, 9, 40));
    await motion(rig, 'pir-002', 'r-002', 3);
    await at(rig, sh(26, 9, 41));
    const entries = await rig.gw.gateway.store.incidents.listAudit(incident!.id);
    expect(entries.filter((e) => e.action === 'sign_of_life')).toHaveLength(1);
  });
});
