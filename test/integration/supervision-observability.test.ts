// Outages and care tasks in /healthz (the supervision component) and /metrics (gauges read at scrape time), over the real rig.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { SUPERVISION_METRIC_NAMES } from '../../gateway/metrics/metrics.js';
import { registerSupervisionMetrics, supervisionHealthComponent } from '../../gateway/supervision/health.js';
import { B5, BQ, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';

const MIN = 60_000;

describe('supervision in health and metrics', () => {
  let rig: SupervisionGateway;
  let registry: Registry;
  let clients: MqttClient[];

  beforeAll(async () => {
    rig = await startSupervisionGateway();
    registry = new Registry();
    registerSupervisionMetrics(registry, rig.supervision);
    clients = [];
    for (const id of [...B5, BQ[0]!]) clients.push(await rig.online(id));
    await rig.settle();
  });
  afterAll(async () => {
    await rig.close();
  });

  const scrape = async (name: string): Promise<string[]> =>
    (await registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith(name))
      .sort();

  it('reads zero everywhere and says up while nothing is open', async () => {
    expect(rig.supervision.health()).toEqual({ openOutages: 0, openTasks: 0, oldestOpenOutageAt: null });
    expect(supervisionHealthComponent(rig.supervision.health())).toEqual({
      status: 'up',
      openOutages: 0,
      openTasks: 0,
      oldestOpenOutageAt: null,
    });
    expect(await scrape(SUPERVISION_METRIC_NAMES.careTasksOpen)).toEqual([
      'care_tasks_open{kind="button_untested"} 0',
      'care_tasks_open{kind="device_flooding"} 0',
      'care_tasks_open{kind="device_offline"} 0',
      'care_tasks_open{kind="low_battery"} 0',
      'care_tasks_open{kind="never_reported"} 0',
      'care_tasks_open{kind="wellness_check"} 0',
    ]);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outagesOpen)).toEqual([
      'outages_open{place="bridge"} 0',
      'outages_open{place="building"} 0',
      'outages_open{place="community"} 0',
    ]);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outageOldestOpenSeconds)).toEqual(['outage_oldest_open_seconds 0']);
  });

  it('counts an open outage and a task at each scrape, and degrades /healthz with a detail line while the outage is open', async () => {
    await rig.publish(clients[5]!, 'telemetry', JSON.stringify({ battery: 9 }));
    const openedAt = rig.clock.now();
    for (const c of clients.slice(0, 5)) rig.drop(c);
    await rig.settle();
    await rig.advance(3 * MIN);
    const h = rig.supervision.health();
    expect(h).toEqual({ openOutages: 1, openTasks: 1, oldestOpenOutageAt: new Date(openedAt).toISOString() });
    const component = supervisionHealthComponent(h);
    expect(component).toMatchObject({ status: 'degraded', openOutages: 1, openTasks: 1 });
    expect(component.detail).toBe(
      `1 grouped device outage open since ${new Date(openedAt).toISOString()}: those devices cannot raise alarms`,
    );

    expect(await scrape('care_tasks_open{kind="low_battery"}')).toEqual(['care_tasks_open{kind="low_battery"} 1']);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outagesOpen)).toEqual([
      'outages_open{place="bridge"} 0',
      'outages_open{place="building"} 1',
      'outages_open{place="community"} 0',
    ]);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outageOldestOpenSeconds)).toEqual(['outage_oldest_open_seconds 180']);
    // Read at scrape time: the age grows with the clock, with nothing updating the gauge.
    rig.clock.advance(MIN);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outageOldestOpenSeconds)).toEqual(['outage_oldest_open_seconds 240']);
  });

  it('goes back to up and zero when the devices return and the battery is changed', async () => {
    for (const id of B5) await rig.online(id);
    await rig.publish(clients[5]!, 'telemetry', JSON.stringify({ battery: 98 }));
    await rig.settle();
    expect(supervisionHealthComponent(rig.supervision.health())).toEqual({
      status: 'up',
      openOutages: 0,
      openTasks: 0,
      oldestOpenOutageAt: null,
    });
    expect(await scrape(SUPERVISION_METRIC_NAMES.outagesOpen)).toEqual([
      'outages_open{place="bridge"} 0',
      'outages_open{place="building"} 0',
      'outages_open{place="community"} 0',
    ]);
    expect(await scrape('care_tasks_open{kind="low_battery"}')).toEqual(['care_tasks_open{kind="low_battery"} 0']);
    expect(await scrape(SUPERVISION_METRIC_NAMES.outageOldestOpenSeconds)).toEqual(['outage_oldest_open_seconds 0']);
  });
});
