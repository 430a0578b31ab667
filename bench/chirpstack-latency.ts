// Alarm latency through the ChirpStack bridge beside a direct device, in one run on one gateway: from the PUBLISH of an alarm (a button on our broker, or ChirpStack's `up` on its mosquitto) to the first SMS request of its incident.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { Gateway } from '../gateway/app.js';
import { loadConfig } from '../gateway/config/load.js';
import { silentLogger } from '../gateway/core/logger.js';
import { MosquittoServer } from '../simulators/bridges/mosquitto.js';
import { ChirpstackPublisher } from '../simulators/bridges/chirpstack.js';
import { SmsServerProcess } from './lib/sms-server-process.js';
import { FirstSmsTracker } from './lib/sms-tracker.js';
import { benchRegistryDoc } from './lib/registry.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';
import { freePort } from './lib/net.js';
import { summarize, type LatencySummary } from './lib/stats.js';

export const CHIRPSTACK_PATHS = ['direct', 'chirpstack'] as const;
export type ChirpstackPath = (typeof CHIRPSTACK_PATHS)[number];

export interface ChirpstackBenchOptions {
  /** Measured alarms per path; the paths take turns, each alarm on a resident of its own. */
  count: number;
  warmup: number;
  /** Pause after each alarm's follow-up work is done (ms). */
  gapMs: number;
  timeoutMs: number;
  log: (line: string) => void;
}

export interface ChirpstackBenchResult {
  /** Per path: ms from just before the PUBLISH to the first SMS request's arrival at the Twilio-compatible server. */
  paths: Record<ChirpstackPath, LatencySummary>;
  /** chirpstack minus direct, at p50 and p99. */
  addedMs: { p50: number; p99: number };
  externalBroker: string;
}

const SIM_SID = `AC${'c'.repeat(32)}`;
const SIM_TOKEN = 'bench-bridge-sim-token';
const APP = 'b3e5a7c9-0d1f-4a2b-8c3d-4e5f6a7b8c9d';
const GW_LOGIN = { username: 'care-gateway', password: randomBytes(12).toString('hex') };
const CS_LOGIN = { username: 'chirpstack', password: randomBytes(12).toString('hex') };

const devEuiOf = (i: number): string => `70b3d5${i.toString(16).padStart(10, '0')}`;

export async function runChirpstackBenchmark(opts: ChirpstackBenchOptions): Promise<ChirpstackBenchResult> {
  const total = opts.warmup + opts.count * CHIRPSTACK_PATHS.length;
  const cleanup: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-bridge-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const mosquitto = new MosquittoServer({ users: [GW_LOGIN, CS_LOGIN] });
    await mosquitto.start();
    cleanup.push(() => mosquitto.dispose());

    // Resident i raises alarm i, through the path of its turn: a button on our broker, or a LoRaWAN button behind ChirpStack.
    const { doc, buttons } = benchRegistryDoc({ residents: total, sensors: 0, secretOf: () => randomBytes(16).toString('hex') });
    const pathOf = (i: number): ChirpstackPath => CHIRPSTACK_PATHS[i % CHIRPSTACK_PATHS.length] ?? 'direct';
    const registry = {
      ...doc,
      bridges: [{ id: 'cs-bench', kind: 'chirpstack', url: mosquitto.url, ...GW_LOGIN, applicationId: APP }],
      devices: [
        ...(doc.devices ?? []),
        ...buttons.map((b, i) => ({ id: `lora-${i}`, kind: 'sos_button', resident: b.residentId, bridge: 'cs-bench', externalId: devEuiOf(i) })),
      ],
    };
    const registryPath = join(dir, 'registry.json');
    writeFileSync(registryPath, JSON.stringify(registry));

    const sim = new SmsServerProcess({ provider: 'twilio', accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sim.start();
    cleanup.push(() => sim.stop());
    const httpPort = await freePort();
    const config = loadConfig({
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      REGISTRY_FILE: registryPath,
      PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      TZ: 'Asia/Shanghai',
      TWILIO_ACCOUNT_SID: SIM_SID,
      TWILIO_AUTH_TOKEN: SIM_TOKEN,
      TWILIO_FROM: '+15005550006',
      TWILIO_API_URL: sim.url,
      LOG_LEVEL: 'silent',
      ...DEVICE_LIMITS_OFF,
    });
    const gateway = Gateway.create({ config, log: silentLogger() });
    const ports = await gateway.start();
    cleanup.push(() => gateway.stop());

    const direct = new Map<number, MqttClient>();
    for (let i = 0; i < total; i++) {
      const b = buttons[i];
      if (pathOf(i) !== 'direct' || !b) continue;
      direct.set(i, await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqttPort}`, { clientId: b.id, username: b.id, password: b.secret, reconnectPeriod: 0, protocolVersion: 4 }));
    }
    cleanup.push(async () => {
      for (const c of direct.values()) await c.endAsync(true);
    });
    const cs = new ChirpstackPublisher({ url: mosquitto.url, ...CS_LOGIN, applicationId: APP });
    await cs.connect();
    cleanup.push(() => cs.close());
    await waitFor(async () => {
      await cs.join({ devEui: devEuiOf(1) });
      return gateway.ingest.healthOf('lora-1')?.state === 'online';
    }, 15_000, 'the ChirpStack bridge to subscribe');
    opts.log(`bridges: gateway up, ${direct.size} direct buttons connected, ChirpStack bridge on mosquitto ${mosquitto.url}`);

    const tracker = new FirstSmsTracker({ sim });
    tracker.start();
    cleanup.push(() => tracker.stop());
    const samples: Record<ChirpstackPath, number[]> = { direct: [], chirpstack: [] };
    for (let i = 0; i < total; i++) {
      const path = pathOf(i);
      const arrival = tracker.expect(i, opts.timeoutMs);
      const startedAt = performance.now();
      if (path === 'direct') {
        await direct.get(i)?.publishAsync(`care/v1/${buttons[i]?.id ?? ''}/event`, JSON.stringify({ type: 'sos', seq: 1, ts: new Date().toISOString() }), { qos: 1 });
      } else {
        await cs.uplink({ devEui: devEuiOf(i) }, { fPort: 10, object: { event: 'sos' } });
      }
      const arrivedHr = await arrival;
      if (i >= opts.warmup) samples[path].push(arrivedHr - startedAt);
      // Each alarm meets a gateway with the previous one's SMS and callbacks done.
      await waitFor(async () => {
        await sim.settled();
        return gateway.processor.backlog().queued === 0 && gateway.dispatcher.health().queued === 0;
      }, 60_000, 'SMS traffic to settle');
      if (opts.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.gapMs));
    }
    const paths = { direct: summarize(samples.direct), chirpstack: summarize(samples.chirpstack) };
    return { paths, addedMs: { p50: paths.chirpstack.p50 - paths.direct.p50, p99: paths.chirpstack.p99 - paths.direct.p99 }, externalBroker: 'mosquitto 2 (Debian), loopback' };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`bridges: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bridges: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
