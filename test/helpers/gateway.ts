// The integration tests' one rig: the whole gateway in-process (temp DATA_DIR, ports 0, the test registry or a document, a local Twilio-compatible server).
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Gateway } from '../../gateway/app.js';
import { loadConfig, type Env } from '../../gateway/config/load.js';
import { silentLogger, type Logger } from '../../gateway/core/logger.js';
import type { Clock } from '../../gateway/core/clock.js';
import { SqliteStore } from '../../gateway/storage/sqlite/store.js';
import type { WireOptions } from '../../gateway/wiring/gateway.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { tempDir } from './tmp.js';
import { freePort } from '../../simulators/common/net.js';

export const TEST_REGISTRY = fileURLToPath(new URL('../fixtures/registry.yaml', import.meta.url));
export const API_TOKEN = 'test-api-token-0123456789';
export const SIM_SID = `AC${'1'.repeat(32)}`;
export const SIM_TOKEN = 'sim-auth-token';
export const SIM_FROM = '+15005550006';

export interface TestGatewayOptions extends WireOptions {
  clock?: Clock;
  env?: Env;
  /** Start over this data dir (a restart) instead of a new temp dir, which the rig then leaves in place. */
  dataDir?: string;
  /** A Twilio simulator of the caller's (kept running on stop); default: a new one the rig stops. */
  sms?: TwilioSimServer;
  /** false: no TWILIO_* settings, so pages go to the local outbox. */
  twilio?: boolean;
  /** REGISTRY_FILE: a file, or a registry document written into the data dir; default test/fixtures/registry.yaml. */
  registry?: string | Record<string, unknown>;
  /** The gateway's logger (default: silent); a test that checks a log line passes a capturing one. */
  log?: Logger;
}

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
  /** The options it was started with (a restart reuses them). */
  options: TestGatewayOptions;
  /** Stops the gateway (and optionally keeps the data dir and SMS server for a restart). */
  stop(opts?: { keep?: boolean }): Promise<void>;
  /** A process restart: stops this gateway, keeping its data dir and SMS server, and starts a new one over them. */
  restart(over?: TestGatewayOptions): Promise<TestGateway<G>>;
}

/** The gateway on the embedded SQLite store in a temp DATA_DIR. */
export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  if (opts.env?.DATABASE_URL) throw new Error('startTestGateway runs on SQLite: use startPostgresTestGateway for DATABASE_URL');
  return onSqliteStore(await launchTestGateway(opts));
}

/**
 * The gateway on PostgreSQL at `databaseUrl` (test/helpers/postgres.ts), DATA_DIR still a temp dir for local state. Nodes
 * on one database must sign links with one secret (the 'database' start step refuses another): unless the test brings
 * its own DATA_DIR or LINK_SECRET_FILE, every node of this test process shares sharedLinkSecretFile().
 */
export function startPostgresTestGateway(databaseUrl: string, opts: TestGatewayOptions = {}): Promise<TestGateway<Gateway>> {
  const secret = opts.dataDir || opts.env?.LINK_SECRET_FILE ? {} : { LINK_SECRET_FILE: sharedLinkSecretFile() };
  return launchTestGateway({ ...opts, env: { ...secret, ...opts.env, DATABASE_URL: databaseUrl } });
}

let linkSecretFile: string | null = null;

/** A link secret file for every gateway node this test process starts on PostgreSQL (removed when the process exits). */
export function sharedLinkSecretFile(): string {
  if (linkSecretFile) return linkSecretFile;
  const dir = tempDir('care-gw-secret-');
  const file = join(dir.path, 'link-secret');
  writeFileSync(file, randomBytes(32), { mode: 0o600 });
  process.once('exit', () => rmSync(dir.path, { recursive: true, force: true }));
  return (linkSecretFile = file);
}

function onSqliteStore(t: TestGateway<Gateway>): TestGateway {
  const { gateway } = t;
  if (!onSqlite(gateway)) throw new Error('the test gateway did not open the SQLite store');
  return { ...t, gateway, restart: async (over) => onSqliteStore(await t.restart(over)) };
}

async function launchTestGateway(opts: TestGatewayOptions): Promise<TestGateway<Gateway>> {
  const dir = opts.dataDir ? null : tempDir();
  const sms = opts.sms ?? new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
  if (!opts.sms) await sms.start({ port: 0 });
  // What the rig made is removed by whichever gateway (the first, or one after restarts) is finally stopped.
  const owned = async (): Promise<void> => {
    if (!opts.sms) await sms.stop();
    dir?.remove();
  };
  return launch({ ...opts, dataDir: opts.dataDir ?? dir!.path, sms }, owned);
}

async function launch(
  opts: TestGatewayOptions & { dataDir: string; sms: TwilioSimServer },
  owned: () => Promise<void>,
): Promise<TestGateway<Gateway>> {
  const { dataDir, sms } = opts;
  // The gateway must know its public URL before it listens; a fixed loopback port keeps the webhook signatures valid.
  const httpPort = await freePort();
  const publicUrl = `${opts.env?.HTTP_TLS_CERT_FILE ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const twilio = opts.twilio ?? true;
  let registryFile = TEST_REGISTRY;
  if (typeof opts.registry === 'string') registryFile = opts.registry;
  else if (opts.registry) writeFileSync((registryFile = join(dataDir, 'test-registry.json')), JSON.stringify(opts.registry));
  const config = loadConfig({
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    REGISTRY_FILE: registryFile,
    PUBLIC_URL: publicUrl,
    TZ: 'Asia/Shanghai',
    API_TOKEN,
    ...(twilio ? { TWILIO_ACCOUNT_SID: SIM_SID, TWILIO_AUTH_TOKEN: SIM_TOKEN, TWILIO_FROM: SIM_FROM, TWILIO_API_URL: sms.url } : {}),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const { liveHeartbeatMs, jobs, edge, accountLimits, sharedWork } = opts;
  const gateway = Gateway.create({
    config,
    log: opts.log ?? silentLogger(),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(liveHeartbeatMs ? { liveHeartbeatMs } : {}),
    ...(jobs ? { jobs } : {}),
    ...(edge ? { edge } : {}),
    ...(accountLimits ? { accountLimits } : {}),
    ...(sharedWork ? { sharedWork } : {}),
  });
  let started;
  try {
    started = await gateway.start();
  } catch (err) {
    // A start that fails (a bad DATABASE_URL, a port taken) still releases what it opened, as `npm start` does.
    await gateway.stop().catch(() => undefined);
    await owned();
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
    options: opts,
    async stop(stopOpts = {}) {
      await gateway.stop();
      if (!stopOpts.keep) await owned();
    },
    async restart(over = {}) {
      await gateway.stop();
      return launch({ ...opts, ...over, dataDir, sms }, owned);
    },
  };
}

export async function connectDevice(mqttUrl: string, id: string, secret: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(mqttUrl, { clientId: id, username: id, password: secret, reconnectPeriod: 0, protocolVersion: 4, ...extra });
}

/** A device as it runs in the field: its will says `offline`, and it announces `online` (retained) once connected. */
export async function connectOnlineDevice(mqttUrl: string, id: string, secret: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const will = { topic: `care/v1/${id}/status`, payload: Buffer.from('offline'), qos: 1 as const, retain: true };
  const client = await connectDevice(mqttUrl, id, secret, { will, ...extra });
  client.on('error', () => undefined);
  await client.publishAsync(`care/v1/${id}/status`, 'online', { qos: 1, retain: true });
  return client;
}

/** What a node's /healthz answered: its status and the components the cluster tests look at. */
export interface NodeHealth {
  status: number;
  components: {
    database: {
      status: string;
      engine?: string;
      detail?: string;
      /** The node's LISTEN connection (PostgreSQL only). */
      notices?: { state: string; since: number | null; reconnects: number; lastError: string | null };
    };
    cluster?: { status: string; node: string };
  };
}

/**
 * /healthz over a connection of its own: a keep-alive socket left idle while PostgreSQL stops (which can take seconds),
 * or across a test's network cuts, may be closed by the server just as it is reused.
 */
export function nodeHealth(node: Pick<TestGateway<Gateway>, 'httpUrl'>): Promise<NodeHealth> {
  return new Promise((resolve, reject) => {
    get(`${node.httpUrl}/healthz`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, components: (JSON.parse(body) as Omit<NodeHealth, 'status'>).components });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    }).on('error', reject);
  });
}

export { freePort };
