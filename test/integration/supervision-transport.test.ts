// Offline thresholds per transport: a device's own offlineAfterSeconds, then its bridge's, then its kind's, then its transport's default, then the registry-wide one.
import { afterEach, describe, expect, it } from 'vitest';
import { BridgeSink } from '../../gateway/bridges/sink.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { TRANSPORT_OFFLINE_AFTER_SECONDS } from '../../gateway/supervision/offline-after.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import { B3, B5, registryDoc, secretOf, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Five devices, one per rule, each with its own silence limit. */
function transportRegistry(): Record<string, unknown> {
  const base = registryDoc();
  const devices = base.devices as Record<string, unknown>[];
  return {
    ...base,
    supervision: { offlineAfterSeconds: { pull_cord: 3600 } },
    bridges: [
      { id: 'z2m', kind: 'zigbee2mqtt', secret: 'z2m-secret-123', baseTopic: 'zigbee2mqtt', offlineAfterSeconds: 7200 },
      { id: 'cs', kind: 'chirpstack', url: 'mqtt://127.0.0.1:1884', applicationId: 'app-1' },
    ],
    devices: [
      ...devices,
      { id: 'cord-1', kind: 'pull_cord', resident: `r-${B3[1]}`, secret: secretOf('cord-1') },
      { id: 'zb-1', kind: 'sos_button', resident: `r-${B3[2]}`, bridge: 'z2m', externalId: 'zb-one' },
      { id: 'zb-2', kind: 'pull_cord', resident: `r-${B3[3]}`, bridge: 'z2m', externalId: 'zb-two', offlineAfterSeconds: 1200 },
      { id: 'lora-1', kind: 'sos_button', resident: `r-${B3[4]}`, bridge: 'cs', externalId: '0102030405060708' },
    ],
  };
}

describe('supervision per transport', () => {
  let rig: SupervisionGateway | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it('declares each device offline after its own limit, in order of precedence', async () => {
    rig = await startSupervisionGateway({ registry: transportRegistry() });
    const r = rig;
    const sink = new BridgeSink({
      ingest: r.ingest,
      registry: r.store.registry,
      store: r.store,
      bus: r.bus,
      clock: r.clock,
      log: silentLogger(),
    });
    const report = async (bridgeId: string, externalId: string) => {
      const device = await sink.device(bridgeId, externalId, `test/${externalId}`);
      if (!device) throw new Error(`no device ${externalId}`);
      await sink.accept(device, {
        bridgeId,
        source: `test/${externalId}`,
        delivery: { kind: 'key', key: `${externalId}:${r.clock.now()}` },
        telemetry: { battery: 90 },
        bytes: 20,
      });
    };
    await r.online(B5[0]!);
    await r.online('cord-1');
    await report('z2m', 'zb-one');
    await report('z2m', 'zb-two');
    await report('cs', '0102030405060708');
    await r.settle();
    const state = () =>
      Object.fromEntries(['btn-5-01', 'zb-2', 'cord-1', 'zb-1', 'lora-1'].map((id) => [id, r.ingest.healthOf(id)?.state]));
    const sup = r.supervision.supervisor;
    const device = async (id: string) => (await r.store.registry.getDevice(id))!;
    expect(sup.offlineAfterFor(await device('btn-5-01'))).toBe(900_000);
    expect(sup.offlineAfterFor(await device('zb-2'))).toBe(1_200_000);
    expect(sup.offlineAfterFor(await device('cord-1'))).toBe(3_600_000);
    expect(sup.offlineAfterFor(await device('zb-1'))).toBe(7_200_000);
    expect(sup.offlineAfterFor(await device('lora-1'))).toBe(TRANSPORT_OFFLINE_AFTER_SECONDS.chirpstack * 1000);

    // The direct button speaks only at its connection; the others are silent from now on too.
    await r.advance(16 * MIN, 30_000);
    expect(state()).toEqual({ 'btn-5-01': 'offline', 'zb-2': 'online', 'cord-1': 'online', 'zb-1': 'online', 'lora-1': 'online' });
    await r.advance(5 * MIN, 30_000);
    expect(state()).toMatchObject({ 'zb-2': 'offline', 'cord-1': 'online' });
    await r.advance(40 * MIN, MIN);
    expect(state()).toMatchObject({ 'cord-1': 'offline', 'zb-1': 'online' });
    await r.advance(HOUR, MIN);
    expect(state()).toMatchObject({ 'zb-1': 'offline', 'lora-1': 'online' });
    // A LoRaWAN button reporting once a day is still online after 24 hours of silence, and offline after 25.
    await r.advance(22 * HOUR - 2 * MIN, 10 * MIN);
    expect(state()['lora-1']).toBe('online');
    await r.advance(HOUR + 10 * MIN, 5 * MIN);
    expect(state()['lora-1']).toBe('offline');
  });

  it('refuses a supervision section that names an unknown kind or an impossible limit', () => {
    const bad = { ...registryDoc(), supervision: { offlineAfterSeconds: { smoke_alarm: 600, sos_button: 10 } } };
    expect(() => validateRegistry(bad)).toThrow(/supervision\.offlineAfterSeconds/);
  });
});
