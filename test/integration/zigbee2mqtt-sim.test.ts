// The zigbee2mqtt simulator of `npm run sim` against a real gateway: its bridge signs in, its devices come online, and its presses become alarms.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import { Random } from '../../simulators/common/random.js';
import { Zigbee2mqttFleet } from '../../simulators/bridges/zigbee2mqtt-fleet.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges, BRIDGED_DEVICES, Z2M_BRIDGE } from '../helpers/bridges.js';

let t: TestGateway;
beforeEach(async () => {
  t = await startTestGateway({ twilio: false });
  await addTestBridges(t.gateway);
});
afterEach(async () => {
  await t.stop();
});

it('drives the registry zigbee2mqtt bridge: availability, then SOS presses recorded as alarms', async () => {
  // The document as the simulator reads it from the registry file, the bridge's secret included.
  const doc = validateRegistry(
    { bridges: [Z2M_BRIDGE], devices: BRIDGED_DEVICES.filter((d) => d.bridge === Z2M_BRIDGE.id) },
    { residents: new Set(['r-001', 'r-002']) },
  );
  const sim = new Zigbee2mqttFleet({
    url: t.mqttUrl,
    doc,
    random: new Random(7),
    alarmsPerSecond: 20,
    telemetryMs: 0,
    motionPerHour: 0,
    say: () => undefined,
  });
  try {
    expect(await sim.start()).toBe(3);
    expect(t.gateway.ingest.healthOf('zb-motion-101')?.state).toBe('online');
    const alarms = () =>
      t.gateway.store.database
        .stmt<[], { n: number }>("SELECT count(*) AS n FROM events WHERE type = 'sos' AND device_id IN ('zb-btn-101', 'zb-btn-102')")
        .get()?.n ?? 0;
    await waitFor('simulated presses', () => alarms() >= 4, { timeoutMs: 10_000 });
  } finally {
    await sim.stop();
  }
  expect(sim.counts().errors).toBe(0);
});
