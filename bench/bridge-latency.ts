// Alarm latency through a zigbee2mqtt bridge beside a direct device, in the same gateway and run: PUBLISH to PUBACK (durably recorded) and to the signal the rules act on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { Gateway } from '../gateway/app.js';
import { loadConfig } from '../gateway/config/load.js';
import { silentLogger } from '../gateway/core/logger.js';
import { freePort } from './lib/net.js';
import { summarize, type LatencySummary } from './lib/stats.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';

export interface BridgeBenchOptions {
  /** Alarms per path (direct and bridged, interleaved), after `warmup` of each. */
  alarms: number;
  warmup: number;
  gapMs: number;
  log: (line: string) => void;
}

export interface PathFigures {
  /** PUBLISH to PUBACK: the alarm is on disk. */
  puback: LatencySummary;
  /** PUBLISH to the signal the rules act on (in this process). */
  signal: LatencySummary;
}

export interface BridgeBenchResult {
  direct: PathFigures;
  zigbee2mqtt: PathFigures;
  /** zigbee2mqtt minus direct, p99 of PUBLISH to PUBACK; the target is at most 3 ms. */
  addedP99Ms: number;
  withinTarget: boolean;
}

const TARGET_ADDED_P99_MS = 3;
const Z2M_SECRET = 'bench-z2m-secret-0123';

export async function runBridgeBenchmark(opts: BridgeBenchOptions): Promise<BridgeBenchResult> {
  const n = opts.alarms + opts.warmup;
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-bridge-'));
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const registryPath = join(dir, 'registry.json');
    writeFileSync(registryPath, JSON.stringify(registry(n)));
    const config = loadConfig({
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: String(await freePort()),
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      REGISTRY_FILE: registryPath,
      TZ: 'Asia/Shanghai',
      LOG_LEVEL: 'silent',
      ...DEVICE_LIMITS_OFF,
    });
    const gateway = Gateway.create({ config, log: silentLogger() });
    const ports = await gateway.start();
    cleanup.unshift(() => gateway.stop());
    const url = `mqtt://127.0.0.1:${ports.mqttPort}`;
    const z2m = await mqtt.connectAsync(url, { clientId: 'z2m-bench', username: 'z2m-bench', password: Z2M_SECRET, reconnectPeriod: 0, protocolVersion: 4 });
    cleanup.unshift(() => z2m.endAsync(true));
    const directs: MqttClient[] = [];
    for (let i = 0; i < n; i++) {
      const id = `btn-${i}`;
      directs.push(await mqtt.connectAsync(url, { clientId: id, username: id, password: `bench-secret-${i}`, reconnectPeriod: 0, protocolVersion: 4 }));
    }
    cleanup.unshift(() => Promise.all(directs.map((c) => c.endAsync(true))).then(() => undefined));
    opts.log(`bridge: gateway up, ${n} direct buttons and one zigbee2mqtt bridge with ${n} buttons connected`);

    const signalAt = new Map<string, number>();
    const owner = {};
    gateway.bus.on(owner, 'signalReceived', (s) => void signalAt.set(s.deviceId, performance.now()));
    cleanup.unshift(() => gateway.bus.removeAll(owner));

    const samples = { direct: { puback: [] as number[], signal: [] as number[] }, zigbee2mqtt: { puback: [] as number[], signal: [] as number[] } };
    const measure = async (path: 'direct' | 'zigbee2mqtt', deviceId: string, send: () => Promise<unknown>, keep: boolean): Promise<void> => {
      const t0 = performance.now();
      await send();
      const acked = performance.now() - t0;
      const signalled = (signalAt.get(deviceId) ?? Number.NaN) - t0;
      if (!keep) return;
      samples[path].puback.push(acked);
      samples[path].signal.push(signalled);
    };
    for (let i = 0; i < n; i++) {
      const keep = i >= opts.warmup;
      const client = directs[i];
      if (!client) throw new Error('missing client');
      // Interleaved, so both paths meet the same gateway state (incidents, commits, timers) and the same host noise.
      await measure('direct', `btn-${i}`, () => client.publishAsync(`care/v1/btn-${i}/event`, JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 }), keep);
      await pause(opts.gapMs);
      await measure('zigbee2mqtt', `zb-${i}`, () => z2m.publishAsync(`zigbee2mqtt/zb-${i}`, JSON.stringify({ action: 'emergency', battery: 90, linkquality: 120 }), { qos: 1 }), keep);
      await pause(opts.gapMs);
    }
    const direct = { puback: summarize(samples.direct.puback), signal: summarize(samples.direct.signal) };
    const zigbee2mqtt = { puback: summarize(samples.zigbee2mqtt.puback), signal: summarize(samples.zigbee2mqtt.signal) };
    const addedP99Ms = zigbee2mqtt.puback.p99 - direct.puback.p99;
    const line = (name: string, f: PathFigures): string =>
      `${name.padEnd(12)} PUBACK p50 ${f.puback.p50.toFixed(2)} p99 ${f.puback.p99.toFixed(2)} ms | signal p50 ${f.signal.p50.toFixed(2)} p99 ${f.signal.p99.toFixed(2)} ms (n=${f.puback.n})`;
    opts.log(`bridge: ${line('direct', direct)}`);
    opts.log(`bridge: ${line('zigbee2mqtt', zigbee2mqtt)}`);
    opts.log(`bridge: zigbee2mqtt adds ${addedP99Ms.toFixed(2)} ms at p99 (target <= ${TARGET_ADDED_P99_MS} ms)`);
    return { direct, zigbee2mqtt, addedP99Ms, withinTarget: addedP99Ms <= TARGET_ADDED_P99_MS };
  } finally {
    for (const step of cleanup) await step();
  }
}

/** One resident per alarm and path, so every press opens an incident of its own on both paths. */
function registry(n: number): Record<string, unknown> {
  const residents = [];
  const devices = [];
  for (let i = 0; i < n; i++) {
    for (const path of ['d', 'z']) residents.push({ id: `r-${path}${i}`, name: '张桂兰', community: 'andali', address: `安达里${(i % 12) + 1}号楼1门${100 + i}`, location: { lat: 39.12, lon: 117.18 } });
    devices.push({ id: `btn-${i}`, kind: 'sos_button', resident: `r-d${i}`, secret: `bench-secret-${i}` });
    devices.push({ id: `zb-${i}`, kind: 'sos_button', resident: `r-z${i}`, bridge: 'z2m-bench', externalId: `zb-${i}`, model: 'TS0215A_sos' });
  }
  return {
    communities: [{ id: 'andali', name: '安达里社区' }],
    residents,
    workers: [{ id: 'w-01', name: '李明', phone: '+8613900000001', community: 'andali', location: { lat: 39.12, lon: 117.18 }, shifts: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }] }],
    bridges: [{ id: 'z2m-bench', kind: 'zigbee2mqtt', secret: Z2M_SECRET, baseTopic: 'zigbee2mqtt' }],
    devices,
  };
}

function pause(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
