// The idle benchmark's device fleet against a gateway at its MQTT connection cap: refused devices end the connect with
// their refusals counted, on both sides, instead of holding the fleet until a time-out (the session-11 baseline stall);
// and devices that retry a refused first connect as firmware does, counted apart from those held at the first attempt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerHost, sqliteGatewayEnv } from '../../bench/lib/broker-host.js';
import { DeviceFleet, type FleetOptions } from '../../bench/lib/fleet.js';
import type { FleetDevice } from '../../bench/lib/fleet-protocol.js';
import { waitUntil } from '../../bench/lib/net.js';
import { benchRegistryDoc } from '../../bench/lib/registry.js';
import { seedRegistry } from '../../bench/lib/seed-registry.js';

// The bench's child processes are TypeScript and inherit the parent's flags; under vitest they get tsx from the
// environment instead (as `npm run bench` gives it to them).
process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--import tsx'].filter(Boolean).join(' ');

const SECRET = 'bench-shared-secret-0123456789';
const CAP = 3;
const DEVICES = 8;

describe('bench device fleet at a gateway connection cap', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** A gateway on SQLite at `cap` MQTT connections, with the bench registry's devices; its MQTT URL and host. */
  const startHost = async (cap: number): Promise<{ url: string; host: BrokerHost; devices: FleetDevice[] }> => {
    const dir = mkdtempSync(join(tmpdir(), 'care-fleet-refusal-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const reg = benchRegistryDoc({ residents: 2, sensors: DEVICES, secretOf: () => SECRET });
    const seeded = await seedRegistry(dir, join(dir, 'data'), reg.doc);
    const host = new BrokerHost({ openFiles: 1024 });
    cleanups.push(() => host.stop());
    const started = await host.start('gateway', sqliteGatewayEnv(join(dir, 'data'), seeded.path, { MQTT_MAX_CONNECTIONS: String(cap) }));
    return { url: `mqtt://127.0.0.1:${started.mqttPort}`, host, devices: reg.sensors.map((d) => ({ id: d.id, secret: d.secret })) };
  };
  const fleetOf = (devices: FleetDevice[], url: string, retry: FleetOptions['retry']): DeviceFleet => {
    const fleet = new DeviceFleet(devices, {
      urls: [url],
      localAddresses: ['127.0.0.1'],
      reconnectPeriodMs: 0,
      keepaliveS: 60,
      presence: false,
      perProcess: devices.length,
      openFiles: 1024,
      concurrency: 1,
      ...(retry ? { retry } : {}),
    });
    cleanups.push(() => fleet.stop());
    return fleet;
  };

  it('ends its connect with the refused devices counted, and the gateway counts and reports them too', async () => {
    const { url, host, devices } = await startHost(CAP);
    // One at a time (fleetOf), so the first CAP devices are the ones the gateway holds.
    const fleet = fleetOf(devices, url, undefined);

    // Before the fix the fourth device's worker waited for a CONNACK that never came: connect() never resolved.
    const outcome = await Promise.race([
      fleet.connect().then(() => 'done' as const),
      new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 15_000).unref()),
    ]);
    expect(outcome).toBe('done');
    const status = await fleet.status();
    expect(status.connected).toBe(CAP);
    expect(status.failedAttempts).toBe(DEVICES - CAP);
    const clients = await host.clients();
    expect(clients.connected).toBe(CAP);
    expect(clients.refused).toBe(DEVICES - CAP);
    expect(clients.openFds).toBeGreaterThan(CAP);
  }, 60_000);

  it('tries a refused first connect again after its delay, and counts the device held after retries', async () => {
    const { url, host, devices } = await startHost(CAP);
    const holders = fleetOf(devices.slice(0, CAP), url, undefined);
    await holders.connect();
    const late = fleetOf(devices.slice(CAP, CAP + 1), url, { tries: 4, delayMs: 1000 });
    const connecting = late.connect();
    // Its first attempt meets the cap; then a place frees up while it waits to try again.
    await waitUntil(async () => (await host.clients()).refused >= 1, 15_000, 'the first attempt refused', 50);
    await holders.stop();
    await connecting;
    const status = await late.status();
    expect(status).toMatchObject({ connected: 1, heldFirstAttempt: 0, heldAfterRetry: 1, gaveUp: 0 });
    expect(status.failedAttempts).toBeGreaterThanOrEqual(1);
    expect((await host.clients()).connected).toBe(1);
  }, 60_000);

  it('gives up after its last retry of a CONNACK refusal, with every attempt counted by the device and by the gateway', async () => {
    const { url, host, devices } = await startHost(DEVICES);
    const [good, bad] = devices;
    if (!good || !bad) throw new Error('the registry has too few devices');
    const fleet = fleetOf([good, { id: bad.id, secret: 'not-the-secret' }], url, { tries: 2, delayMs: 200 });
    await fleet.connect();
    const status = await fleet.status();
    expect(status).toMatchObject({ connected: 1, heldFirstAttempt: 1, heldAfterRetry: 0, gaveUp: 1, failedAttempts: 3 });
    expect(status.failures).toEqual({ 'Connection refused: Bad username or password': 3 });
    expect(await host.connectRefusals()).toEqual({ bad_credentials: 3 });
  }, 60_000);
});
