// The device fleet simulator against a whole in-process gateway: real logins, heartbeats and telemetry, alarms and cancels, bad input, power cuts and a dying battery, seen through the API.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { Random } from '../../simulators/common/random.js';
import { SimRegistry } from '../../simulators/common/registry.js';
import { BAD_INPUTS } from '../../simulators/fleet/device.js';
import { Fleet, QUIET_PLAN, type FleetPlan } from '../../simulators/fleet/fleet.js';
import { FleetStats, progressLine, summary } from '../../simulators/fleet/stats.js';
import { API_TOKEN, TEST_REGISTRY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

interface DeviceView {
  id: string;
  state: string;
  battery: number | null;
  rssi: number | null;
  lastRejection: { reason: string } | null;
  rejectedCount: number;
}

interface IncidentView {
  resident: string;
  type: string;
  state: string;
}

describe('fleet simulator', () => {
  let tg: TestGateway;
  let registry: SimRegistry;
  const fleets: Fleet[] = [];

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(tg.httpUrl + path, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  const device = (id: string) => api<DeviceView>(`/api/devices/${id}`);

  function fleet(plan: Partial<FleetPlan> = {}, stats = new FleetStats(registry.devices.length)): { fleet: Fleet; stats: FleetStats } {
    const f = new Fleet({
      url: tg.mqttUrl,
      devices: registry.devices,
      plan: { ...QUIET_PLAN, ...plan },
      random: new Random(7),
      stats,
      timeZone: 'Asia/Shanghai',
      reconnectMs: 100,
      ackTimeoutMs: 5000,
      tickMs: 50,
    });
    fleets.push(f);
    return { fleet: f, stats };
  }

  beforeAll(async () => {
    tg = await startTestGateway();
    registry = await SimRegistry.load(TEST_REGISTRY);
  });
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.stop();
  });
  afterAll(async () => {
    await tg.stop();
  });

  it('logs every device in with its own secret; heartbeats and telemetry fill the health records; a clean stop says offline', async () => {
    const { fleet: f, stats } = fleet({ heartbeatMs: 100, telemetryMs: 100, drainPerHour: 3600 });
    await f.start();
    expect(stats.snapshot()).toMatchObject({ devices: 3, connected: 3, connects: 3, errors: 0 });
    for (const d of registry.devices) {
      const seen = await waitFor(`${d.id} online with telemetry`, async () => {
        const v = await device(d.id);
        return v.state === 'online' && v.battery !== null && v.rssi !== null ? v : null;
      });
      expect(seen.rssi).toBeGreaterThanOrEqual(-95);
    }
    await waitFor('heartbeats', () => stats.snapshot().byKind.heartbeat >= 6);
    const snap = stats.snapshot();
    expect(snap.acked).toBeGreaterThan(0);
    expect(snap.errors).toBe(0);
    expect(progressLine(snap, stats.rate())).toMatch(/^connected 3\/3 {2}sent \d+ {2}acked \d+ {2}errors 0 {2}rate [\d.]+\/s/);
    expect(summary(snap)).toContain('devices      3 (3 connected');

    await f.stop();
    fleets.length = 0;
    for (const d of registry.devices) await waitFor(`${d.id} offline after stop`, async () => (await device(d.id)).state === 'offline');
  });

  it('an SOS opens an incident; a fall followed by a cancel inside the window closes as a false alarm', async () => {
    const { fleet: f } = fleet();
    await f.start();
    await f.raise('btn-002', 'sos');
    await waitFor('sos incident', async () =>
      (await api<IncidentView[]>('/api/incidents?resident=r-002')).some((i) => i.type === 'sos' && i.state === 'open'),
    );
    await f.raise('fall-001', 'fall', 200);
    await waitFor('fall cancelled', async () =>
      (await api<IncidentView[]>('/api/incidents?resident=r-001')).some((i) => i.type === 'fall' && i.state === 'cancelled'),
    );
    await expect(f.send('btn-001', 'fall')).rejects.toThrow('btn-001 is a sos_button, which cannot send "fall"');
  });

  it('each bad input is met as the contract says: rejections recorded, spoofed topic disconnected, wrong secret refused', async () => {
    const { fleet: f, stats } = fleet();
    await f.start();
    for (const kind of BAD_INPUTS) {
      await f.badInput(kind, 'btn-002');
      // A spoofed publish costs the device its connection; it comes back by itself.
      await waitFor(`btn-002 back after ${kind}`, () => f.device('btn-002')?.online === true);
    }
    const snap = stats.snapshot();
    expect(snap.errors).toBe(0);
    expect(snap.refusedAsExpected).toBe(2);
    expect(snap.byKind.bad_input).toBe(BAD_INPUTS.length);
    expect(snap.reconnects).toBeGreaterThanOrEqual(1);
    const health = await device('btn-002');
    expect(health.rejectedCount).toBeGreaterThanOrEqual(3);
    expect(health.lastRejection?.reason).toBe('payload_too_large');
  });

  it('a power cut drops every device of the building (their wills turn them offline) until power is back; a dying battery reports 3% and goes silent', async () => {
    const { fleet: f, stats } = fleet();
    await f.start();
    for (const d of registry.devices) await waitFor(`${d.id} online`, async () => (await device(d.id)).state === 'online');

    expect(f.powerCut('安达里3号楼')).toBe(2);
    for (const id of ['btn-001', 'fall-001']) await waitFor(`${id} offline`, async () => (await device(id)).state === 'offline');
    expect((await device('btn-002')).state).toBe('online');
    expect(stats.snapshot()).toMatchObject({ dropped: 2, connected: 1 });

    expect(await f.powerRestore('安达里3号楼')).toBe(2);
    for (const id of ['btn-001', 'fall-001']) await waitFor(`${id} back online`, async () => (await device(id)).state === 'online');

    await f.dyingBattery('btn-002');
    const dead = await waitFor('btn-002 offline', async () => {
      const v = await device('btn-002');
      return v.state === 'offline' ? v : null;
    });
    expect(dead.battery).toBe(3);
    expect(stats.snapshot().errors).toBe(0);
  });
});
