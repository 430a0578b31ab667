// Inactivity monitor against a whole gateway: real broker and mqtt.js sensors, real SQLite, the real IncidentService and Twilio SDK.
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { CareTaskKind, CareTaskSink, NewCareTask } from '../../gateway/core/types.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { VisitService } from '../../gateway/visits/service.js';
import { inactivityAlarm } from '../../gateway/wellness/alarm.js';
import { InactivityMonitor } from '../../gateway/wellness/monitor.js';
import { HOUR_MS } from '../../gateway/wellness/rules.js';
import type { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { connectDevice, startTestGateway, until, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const REGISTRY = fileURLToPath(new URL('../fixtures/wellness-registry.yaml', import.meta.url));
const TZ = 'Asia/Shanghai';
const W01 = '+8613900000001';
const V01 = '+8613700000001';
/** Wall time in Asia/Shanghai (UTC+8, no daylight saving): November 2026, Wednesday the 25th. */
const sh = (d: number, h: number, mi = 0): number => Date.UTC(2026, 10, d, h - 8, mi);

/** The care-task service's side of the port, recorded: the collaborator here, not the thing under test. */
class RecordingTaskSink implements CareTaskSink {
  readonly opened: { task: NewCareTask; at: number }[] = [];
  readonly cleared: { kind: CareTaskKind; residentId: string; reason: string; at: number }[] = [];
  async open(task: NewCareTask, at: number): Promise<void> {
    this.opened.push({ task, at });
  }
  async clear(kind: CareTaskKind, residentId: string, _deviceId: string | undefined, reason: string, at: number): Promise<void> {
    this.cleared.push({ kind, residentId, reason, at });
  }
  openedFor(residentId: string): number[] {
    return this.opened.filter((o) => o.task.residentId === residentId).map((o) => o.at);
  }
}

interface Rig {
  gw: TestGateway;
  clock: ManualClock;
  tasks: RecordingTaskSink;
  monitor: InactivityMonitor;
  stopper: { stop(): Promise<void> };
}

const open: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.stop();
});

async function startRig(clock: ManualClock, tasks = new RecordingTaskSink(), reuse: { dataDir?: string; sms?: TwilioSimServer } = {}): Promise<Rig> {
  const gw = await startTestGateway({ clock, env: { REGISTRY_FILE: REGISTRY }, ...reuse });
  // Wired as gateway/app.ts is meant to wire it (README, "Inactivity (wellness checks)").
  const monitor = new InactivityMonitor({
    store: gw.gateway.store,
    bus: gw.gateway.bus,
    clock,
    log: silentLogger(),
    timeZone: TZ,
    tasks,
    raise: inactivityAlarm(gw.gateway.incidents),
  });
  await monitor.start();
  const stopper = { stop: async () => { await monitor.stop(); await gw.stop(); } };
  open.push(stopper);
  return { gw, clock, tasks, monitor, stopper };
}

/** Stops the monitor and the gateway but keeps the data dir and SMS server, as a restart would. */
async function stopForRestart(rig: Rig): Promise<void> {
  open.splice(open.indexOf(rig.stopper), 1);
  await rig.monitor.stop();
  await rig.gw.stop({ keep: true });
}

async function at(rig: Rig, t: number): Promise<void> {
  rig.clock.set(t);
  await rig.monitor.sweep();
}

const sensors: MqttClient[] = [];
afterEach(async () => {
  for (const c of sensors.splice(0)) await c.endAsync();
});

async function motion(rig: Rig, device: string, residentId: string, seq: number): Promise<void> {
  const client = await connectDevice(rig.gw.mqttUrl, device, `s3cret-${device}`);
  sensors.push(client);
  await client.publishAsync(`care/v1/${device}/event`, JSON.stringify({ type: 'motion', seq }), { qos: 1 });
  const now = rig.clock.now();
  await until(() => rig.monitor.stateOf(residentId)?.lastSignAt === now, 5000, `motion of ${residentId} taken as a sign of life`);
}

async function inactivityIncidents(rig: Rig, residentId: string) {
  return (await rig.gw.gateway.store.incidents.list({ residentId })).filter((i) => i.type === 'inactivity');
}

async function acknowledge(rig: Rig, incidentId: string): Promise<void> {
  await rig.gw.gateway.incidents.acknowledge(incidentId, { role: 'worker', id: 'w-01', name: '李明', phone: W01 }, 'api');
}

describe('inactivity monitor', () => {
  it('lets the night pass, opens a wellness check after N waking hours, pages at 2N, and pages a high-risk resident at N', async () => {
    const rig = await startRig(new ManualClock(sh(25, 20)));
    await motion(rig, 'pir-001', 'r-001', 1);
    await motion(rig, 'pir-002', 'r-002', 1);

    // 20:00 -> 06:59: only 20:00-22:00 counts. Nothing happens at night.
    await at(rig, sh(25, 23));
    await at(rig, sh(26, 3));
    await at(rig, sh(26, 6, 59));
    expect(rig.monitor.stateOf('r-001')?.inactiveMs).toBe(2 * HOUR_MS);
    expect(rig.tasks.opened).toEqual([]);
    expect(await rig.gw.gateway.store.incidents.list({})).toEqual([]);

    await at(rig, sh(26, 8, 59));
    expect(rig.tasks.openedFor('r-001')).toEqual([]);
    expect(rig.tasks.openedFor('r-002')).toEqual([]);
    // r-003 (3 h, never seen since the monitor started at 20:00) was due at 08:00; this test's first sweep after that is 08:59.
    expect(rig.tasks.openedFor('r-003')).toEqual([sh(26, 8, 59)]);

    // 09:00: four waking hours without a sign of life.
    await at(rig, sh(26, 9));
    expect(rig.tasks.openedFor('r-001')).toEqual([sh(26, 9)]);
    expect(rig.tasks.opened.find((o) => o.task.residentId === 'r-001')?.task).toMatchObject({
      kind: 'wellness_check',
      residentId: 'r-001',
      detail: { inactivityHours: 4, hoursWithoutSignOfLife: 4, wakingHours: '07:00-22:00', lastSignSource: 'motion' },
    });
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);

    // r-002 is high-risk: paged through the alarm path at N, with a task too.
    expect(rig.tasks.openedFor('r-002')).toEqual([sh(26, 9)]);
    const [highRisk] = await inactivityIncidents(rig, 'r-002');
    expect(highRisk).toMatchObject({ state: 'open', type: 'inactivity', step: 1 });
    const page = await rig.gw.sms.waitForMessage((m) => m.to === W01 && m.body.includes('王淑珍'));
    expect(page.body).toBe('【求助】王淑珍 安达里5号楼1门202 已4小时无活动迹象 请上门查看 09:00 回1接单 回2转他人');
    await acknowledge(rig, highRisk!.id);

    // 2N = 8 waking hours: 13:00 pages for r-001, not a minute before.
    await at(rig, sh(26, 12, 59));
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);
    await at(rig, sh(26, 13));
    const [incident] = await inactivityIncidents(rig, 'r-001');
    expect(incident).toMatchObject({ state: 'open', step: 1, signalCount: 0 });
    const workerPage = await rig.gw.sms.waitForMessage((m) => m.to === W01 && m.body.includes('张桂兰'));
    expect(workerPage.body).toContain('已8小时无活动迹象 请上门查看 13:00 回1接单');
    const familyPage = await rig.gw.sms.waitForMessage((m) => m.to === '+8613800000001');
    expect(familyPage.body).toBe('【紧急】您的家人张桂兰截至13:00已8小时无活动迹象（安达里3号楼2门401），已通知网格员李明上门查看。您能去请回1。');
    await acknowledge(rig, incident!.id);

    // Once per episode: later sweeps neither page nor open again.
    await at(rig, sh(26, 15));
    await at(rig, sh(26, 21));
    expect(await inactivityIncidents(rig, 'r-001')).toHaveLength(1);
    const audit = await rig.gw.gateway.store.incidents.listAudit(incident!.id);
    expect(audit.map((e) => e.action)).not.toContain('alarm_joined');
    expect(rig.tasks.openedFor('r-001')).toHaveLength(1);
    expect(rig.tasks.openedFor('r-002')).toHaveLength(1);
    // r-004 has no inactivityHours: never watched.
    expect(rig.monitor.stateOf('r-004')).toBeNull();
  });

  it('clears the task and ends the episode on motion, and on a volunteer check-in', async () => {
    const rig = await startRig(new ManualClock(sh(25, 20)));
    await motion(rig, 'pir-001', 'r-001', 1);
    await motion(rig, 'pir-003', 'r-003', 1);
    // The volunteer side, with the check-in hook connected to the monitor (the gateway's own VisitService is not, yet).
    const visits = new VisitService({
      store: rig.gw.gateway.store,
      clock: rig.clock,
      log: silentLogger(),
      timeZone: TZ,
      sms: rig.gw.gateway.dispatcher,
      replies: { register: () => undefined },
      onDoorUnanswered: async () => undefined,
      onCheckIn: (residentId, when) => rig.monitor.onCheckIn(residentId, when),
      triggers: 'manual',
    });

    await at(rig, sh(26, 8));
    expect(rig.tasks.openedFor('r-003')).toEqual([sh(26, 8)]); // 3 h: 20-22 and 07-08
    await at(rig, sh(26, 9));
    expect(rig.tasks.openedFor('r-001')).toEqual([sh(26, 9)]);

    // Motion at 09:30 clears r-001's task at once, without waiting for a sweep.
    rig.clock.set(sh(26, 9, 30));
    await motion(rig, 'pir-001', 'r-001', 2);
    await until(() => rig.tasks.cleared.some((c) => c.residentId === 'r-001'), 5000, 'task cleared');
    expect(rig.tasks.cleared.find((c) => c.residentId === 'r-001')).toEqual({ kind: 'wellness_check', residentId: 'r-001', reason: 'sign of life: motion', at: sh(26, 9, 30) });
    expect(rig.monitor.stateOf('r-001')).toMatchObject({ inactiveMs: 0, taskOpenedAt: null, pagedAt: null });

    // 10:00: the volunteer texts 到 for the 11:00 visit to r-003.
    rig.clock.set(sh(26, 10));
    const handled = await visits.replies.handle({ from: V01, body: '到', providerSid: null, receivedAt: rig.clock.now() }, '到');
    expect(handled).toBe('visit_check_in');
    expect(rig.tasks.cleared.find((c) => c.residentId === 'r-003')).toEqual({ kind: 'wellness_check', residentId: 'r-003', reason: 'sign of life: check_in', at: sh(26, 10) });

    // Without those signs r-003 would be paged at 14:00 (2 x 3 h) and r-001 at 13:00; neither is.
    await at(rig, sh(26, 12));
    await at(rig, sh(26, 13, 1));
    expect(await inactivityIncidents(rig, 'r-001')).toEqual([]);
    expect(await inactivityIncidents(rig, 'r-003')).toEqual([]);
    // A new episode starts from the sign: r-003 (checked in at 10:00) gets a new task at 13:00.
    expect(rig.tasks.openedFor('r-003')).toEqual([sh(26, 8), sh(26, 13, 1)]);
    expect(rig.tasks.openedFor('r-001')).toEqual([sh(26, 9)]);

    // The registry stops watching r-003: its open task is cleared and its count dropped, for good.
    const unwatched = { id: 'r-003', name: '李秀英', community: 'andali', address: '安达里7号楼3门301' };
    await importRegistryDocument({ store: rig.gw.gateway.store, log: silentLogger() }, { residents: [unwatched] });
    await at(rig, sh(26, 13, 2));
    expect(rig.tasks.cleared.filter((c) => c.residentId === 'r-003').map((c) => c.reason)).toEqual(['sign of life: check_in', 'inactivity monitoring turned off']);
    expect(rig.monitor.stateOf('r-003')).toBeNull();
    expect((await rig.gw.gateway.store.wellness.list()).map((s) => s.residentId)).not.toContain('r-003');
  });

  it('keeps the count across a restart, does not count the time the gateway was down, and never repeats a task or a page', async () => {
    const clock = new ManualClock(sh(25, 20));
    const tasks = new RecordingTaskSink();
    const dir = tempDir();
    const first = await startRig(clock, tasks, { dataDir: dir.path });
    // Runs last: the SMS server and the data dir outlive each gateway of this test.
    open.unshift({ stop: async () => { await first.gw.sms.stop(); dir.remove(); } });
    const reuse = { dataDir: dir.path, sms: first.gw.sms };
    await motion(first, 'pir-001', 'r-001', 1);
    await motion(first, 'pir-002', 'r-002', 1);
    await at(first, sh(26, 8)); // 3 waking hours each
    expect(first.monitor.stateOf('r-001')?.inactiveMs).toBe(3 * HOUR_MS);
    await stopForRestart(first);

    // Down from 08:00 to 10:00. Back up: the count resumes at 3 h (5 h would have opened tasks at once).
    clock.set(sh(26, 10));
    const second = await startRig(clock, tasks, reuse);
    expect(second.monitor.stateOf('r-001')).toMatchObject({ inactiveMs: 3 * HOUR_MS, lastSignAt: sh(25, 20), lastSignSource: 'motion' });
    const watched = ['r-001', 'r-002'];
    const opened = () => tasks.opened.filter((o) => watched.includes(o.task.residentId));
    expect(opened()).toEqual([]);
    await at(second, sh(26, 10, 59));
    expect(opened()).toEqual([]);
    await at(second, sh(26, 11));
    expect(tasks.openedFor('r-001')).toEqual([sh(26, 11)]);
    expect(tasks.openedFor('r-002')).toEqual([sh(26, 11)]);
    expect(await inactivityIncidents(second, 'r-002')).toHaveLength(1);

    // Restart again at once: the open task and the page are remembered, nothing is opened or paged again.
    await stopForRestart(second);
    clock.set(sh(26, 11, 5));
    const third = await startRig(clock, tasks, reuse);
    await at(third, sh(26, 11, 30));
    expect(opened()).toHaveLength(2);
    // r-003 crossed its 3 h during the same restart window: one task, opened once.
    expect(tasks.openedFor('r-003')).toHaveLength(1);
    const paged = await inactivityIncidents(third, 'r-002');
    expect(paged).toHaveLength(1);
    expect((await third.gw.gateway.store.incidents.listAudit(paged[0]!.id)).map((e) => e.action)).not.toContain('alarm_joined');
    expect(third.monitor.stateOf('r-002')).toMatchObject({ taskOpenedAt: sh(26, 11), pagedAt: sh(26, 11) });
  });

  it('takes into account motion recorded while the monitor was not running (acknowledged, then a crash)', async () => {
    const rig = await startRig(new ManualClock(sh(26, 9)));
    await motion(rig, 'pir-001', 'r-001', 1);
    await at(rig, sh(26, 12));
    expect(rig.monitor.stateOf('r-001')?.inactiveMs).toBe(3 * HOUR_MS);
    // The monitor stops (as if the process died before its next save); the broker still records a motion event.
    await rig.monitor.stop();
    rig.clock.set(sh(26, 12, 30));
    const client = await connectDevice(rig.gw.mqttUrl, 'pir-001', 's3cret-pir-001');
    sensors.push(client);
    await client.publishAsync('care/v1/pir-001/event', JSON.stringify({ type: 'motion', seq: 2 }), { qos: 1 });

    const restarted = new InactivityMonitor({
      store: rig.gw.gateway.store,
      bus: rig.gw.gateway.bus,
      clock: rig.clock,
      log: silentLogger(),
      timeZone: TZ,
      tasks: rig.tasks,
      raise: inactivityAlarm(rig.gw.gateway.incidents),
    });
    await restarted.start();
    open.push({ stop: () => restarted.stop() });
    expect(restarted.stateOf('r-001')).toMatchObject({ lastSignAt: sh(26, 12, 30), inactiveMs: 0 });
  });
});
