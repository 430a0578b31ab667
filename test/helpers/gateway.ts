// Starts a whole gateway in-process for integration tests: temp DATA_DIR, ports 0, the test registry and a local Twilio-compatible server.
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { Gateway } from '../../gateway/app.js';
import { loadConfig, type Env } from '../../gateway/config/load.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Clock } from '../../gateway/core/clock.js';
import { SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { tempDir } from './tmp.js';
import { freePort } from '../../simulators/common/net.js';

export const TEST_REGISTRY = fileURLToPath(new URL('../fixtures/registry.yaml', import.meta.url));
export const API_TOKEN = 'test-api-token-0123456789';
export const SIM_SID = `AC${'1'.repeat(32)}`;
export const SIM_TOKEN = 'sim-auth-token';
export const SIM_FROM = '+15005550006';

/** A gateway on the embedded SQLite store: tests that look at SQLite's internals (statements, pragmas, disk health) use it. */
export type SqliteGateway = Gateway & { readonly store: SqliteStore };

export function onSqlite(gateway: Gateway): gateway is SqliteGateway {
  return gateway.store instanceof SqliteStore;
}

export interface TestGateway<G extends Gateway = SqliteGateway> {
  gateway: G;
  sms: TwilioSimServer;
  mqttUrl: string;
  /** `mqtts://…` when MQTT_TLS_* is configured, else null. */
  mqttsUrl: string | null;
  /** `https://…` when HTTP_TLS_* is configured. */
  httpUrl: string;
  publicUrl: string;
  dataDir: string;
  /** Stops the gateway (and optionally keeps the data dir and SMS server for a restart). */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

export interface TestGatewayOptions {
  clock?: Clock;
  env?: Env;
  dataDir?: string;
  sms?: TwilioSimServer;
  twilio?: boolean;
  liveHeartbeatMs?: number;
}

/** The gateway on the embedded SQLite store in a temp DATA_DIR. */
export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  if (opts.env?.DATABASE_URL) throw new Error('startTestGateway runs on SQLite: use startPostgresTestGateway for DATABASE_URL');
  const t = await launchTestGateway(opts);
  const { gateway } = t;
  if (!onSqlite(gateway)) throw new Error('the test gateway did not open the SQLite store');
  return { ...t, gateway };
}

/** The gateway on PostgreSQL at `databaseUrl` (test/helpers/postgres.ts), DATA_DIR still a temp dir for local state. */
export function startPostgresTestGateway(databaseUrl: string, opts: TestGatewayOptions = {}): Promise<TestGateway<Gateway>> {
  return launchTestGateway({ ...opts, env: { ...opts.env, DATABASE_URL: databaseUrl } });
}

async function launchTestGateway(opts: TestGatewayOptions): Promise<TestGateway<Gateway>> {
  const dir = opts.dataDir ? null : tempDir();
  const dataDir = opts.dataDir ?? dir!.path;
  const sms = opts.sms ?? new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
  if (!opts.sms) await sms.start({ port: 0 });
  // The gateway must know its public URL before it listens; a fixed loopback port keeps the webhook signatures valid.
  const httpPort = await freePort();
  const publicUrl = `${opts.env?.HTTP_TLS_CERT_FILE ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const twilio = opts.twilio ?? true;
  const config = loadConfig({
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    REGISTRY_FILE: TEST_REGISTRY,
    PUBLIC_URL: publicUrl,
    TZ: 'Asia/Shanghai',
    API_TOKEN,
    ...(twilio ? { TWILIO_ACCOUNT_SID: SIM_SID, TWILIO_AUTH_TOKEN: SIM_TOKEN, TWILIO_FROM: SIM_FROM, TWILIO_API_URL: sms.url } : {}),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const gateway = Gateway.create({
    config,
    log: silentLogger(),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.liveHeartbeatMs ? { liveHeartbeatMs: opts.liveHeartbeatMs } : {}),
  });
  let started;
  try {
    started = await gateway.start();
  } catch (err) {
    // A start that fails (a bad DATABASE_URL, a port taken) still releases what it opened, as `npm start` does.
    await gateway.stop().catch(() => undefined);
    if (!opts.sms) await sms.stop();
    dir?.remove();
    throw err;
  }
  return {
    gateway,
    sms,
    mqttUrl: `mqtt://127.0.0.1:${started.mqttPort}`,
    mqttsUrl: started.mqttsPort !== null ? `mqtts://127.0.0.1:${started.mqttsPort}` : null,
    httpUrl: `${config.httpTls ? 'https' : 'http'}://127.0.0.1:${started.httpPort}`,
    publicUrl,
    dataDir,
    async stop(stopOpts = {}) {
      await gateway.stop();
      if (!stopOpts.keep) {
        if (!opts.sms) await sms.stop();
        dir?.remove();
      }
    },
  };
}

export async function connectDevice(mqttUrl: string, id: string, secret: string): Promise<MqttClient> {
  return mqtt.connectAsync(mqttUrl, { clientId: id, username: id, password: secret, reconnectPeriod: 0, protocolVersion: 4 });
}

export { freePort };
