// The idle benchmark's device fleet against a gateway at its MQTT connection cap: refused devices end the connect with
// their refusals counted, on both sides, instead of holding the fleet until a time-out (the session-11 baseline stall).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerHost, sqliteGatewayEnv } from '../../bench/lib/broker-host.js';
import { DeviceFleet } from '../../bench/lib/fleet.js';
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

  it('ends its connect with the refused devices counted, and the gateway counts and reports them too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'care-fleet-refusal-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const reg = benchRegistryDoc({ residents: 2, sensors: DEVICES, secretOf: () => SECRET });
    const seeded = await seedRegistry(dir, join(dir, 'data'), reg.doc);
    const host = new BrokerHost({ openFiles: 1024 });
    cleanups.push(() => host.stop());
    const started = await host.start('gateway', sqliteGatewayEnv(join(dir, 'data'), seeded.path, { MQTT_MAX_CONNECTIONS: String(CAP) }));
    const fleet = new DeviceFleet(
      reg.sensors.map((d) => ({ id: d.id, secret: d.secret })),
      {
        urls: [`mqtt://127.0.0.1:${started.mqttPort}`],
        localAddresses: ['127.0.0.1'],
        reconnectPeriodMs: 0,
        keepaliveS: 60,
        presence: false,
        perProcess: DEVICES,
        openFiles: 1024,
        // One at a time, so the first CAP devices are the ones the gateway holds.
        concurrency: 1,
      },
    );
    cleanups.push(() => fleet.stop());

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
});
