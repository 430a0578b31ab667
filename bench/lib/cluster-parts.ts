// What a cluster benchmark runs: PostgreSQL, Redis, the Twilio-compatible SMS server, N gateway nodes as real child processes, and HAProxy on the shipped config.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  E2E_AUTH_TOKEN,
  E2E_SID,
  GatewayProcess,
  gatewayAddresses,
  httpGet,
  type GatewayAddresses,
} from '../../test/helpers/e2e-process.js';
import { clusterNodeEnv } from '../../test/helpers/cluster.js';
import { HaproxyServer } from '../../test/helpers/haproxy.js';
import { PostgresServer } from '../../test/helpers/postgres.js';
import { RedisServer } from '../../test/helpers/redis.js';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import { DEVICE_LIMITS_OFF } from './limits.js';
import { seedPostgresRegistry } from './seed-registry.js';
import { SmsServerProcess } from './sms-server-process.js';

/** This machine's hard RLIMIT_NOFILE: without CAP_SYS_RESOURCE no process here may open more descriptors. */
export const OPEN_FILES = 20_000;

export interface NodeHandle {
  name: string;
  addresses: GatewayAddresses;
  process: GatewayProcess;
}

/** Devices one node reports in /healthz (`components.cluster.devices`), or null when it does not answer. */
export async function nodeDevices(node: NodeHandle): Promise<number | null> {
  try {
    const res = await httpGet<{ components?: { cluster?: { devices?: number } } }>(node.addresses.publicUrl, '/healthz', null);
    return res.body.components?.cluster?.devices ?? null;
  } catch {
    return null;
  }
}

/** The shipped HAProxy config, with its shipped check interval (2 s) unless told otherwise, and a maxconn this machine's descriptors allow. */
class BenchHaproxy extends HaproxyServer {
  constructor(
    nodes: readonly [
      { mqttPort: number; httpPort: number },
      { mqttPort: number; httpPort: number },
      { mqttPort: number; httpPort: number },
    ],
    private readonly tuning: { checkInterval: string; maxconn: number },
  ) {
    super(nodes);
  }

  override environment(): Record<string, string> {
    return { ...super.environment(), HAPROXY_CHECK_INTERVAL: this.tuning.checkInterval, HAPROXY_MAXCONN: String(this.tuning.maxconn) };
  }
}

export interface ClusterPartsOptions {
  /** Gateway nodes started as `npm start` children (0: the caller runs its own, with nodeEnv()). */
  nodes: number;
  doc: RegistryDocument;
  /** Extra environment for every node (CLUSTER_HEARTBEAT_MS, MQTT_PROXY_*…). */
  env: Record<string, string>;
  /** Node flags for one node instead of `npm start` (e.g. `--cpu-prof`, which Node 20 refuses in NODE_OPTIONS); keep npm start's own. */
  nodeFlags?: (name: string) => string[];
  log: (line: string) => void;
}

/** Everything one cluster benchmark started; stop() ends all of it, whatever failed on the way. */
export class ClusterParts {
  readonly dir = mkdtempSync(join(tmpdir(), 'care-bench-cluster-'));
  readonly nodes: NodeHandle[] = [];
  readonly balancers: HaproxyServer[] = [];
  postgres: PostgresServer | null = null;
  redis: RedisServer | null = null;
  sms: SmsServerProcess | null = null;
  databaseUrl = '';
  registryFile = '';
  seedMs = 0;
  private readonly linkSecret = join(this.dir, 'link-secret');
  /** Nodes run with flags of their own (a CPU profile, written at exit): given time to stop cleanly. */
  private readonly flagged = new Set<NodeHandle>();

  async start(opts: ClusterPartsOptions): Promise<void> {
    const [postgres, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    this.postgres = postgres;
    this.redis = redis;
    this.sms = new SmsServerProcess({ provider: 'twilio', accountSid: E2E_SID, authToken: E2E_AUTH_TOKEN });
    await this.sms.start();
    this.databaseUrl = await postgres.createDatabase('care_bench');
    const seeded = await seedPostgresRegistry(this.dir, this.databaseUrl, opts.doc);
    this.seedMs = seeded.ms;
    this.registryFile = seeded.path;
    opts.log(
      `cluster: PostgreSQL, Redis and the SMS server up; registry of ${opts.doc.devices?.length ?? 0} devices seeded in ${Math.round(seeded.ms)} ms`,
    );
    writeFileSync(this.linkSecret, randomBytes(32), { mode: 0o600 });
    for (let i = 1; i <= opts.nodes; i++) {
      const name = `node${i}`;
      const addresses = await gatewayAddresses();
      const env = { ...this.nodeEnv(name, addresses), ...opts.env };
      // One socket per device: the node runs with this machine's whole descriptor limit (npm start keeps --min-semi-space-size).
      const flags = opts.nodeFlags?.(name) ?? [];
      // The same process as `npm start` (tsx with --min-semi-space-size=16), run by node itself when given flags of its own.
      const start =
        flags.length > 0 ? `exec node --min-semi-space-size=16 ${flags.join(' ')} --import tsx gateway/main.ts` : 'exec npm start';
      const child = new GatewayProcess(env, ['bash', '-c', `ulimit -n ${OPEN_FILES} && ${start}`]).spawn();
      const handle = { name, addresses, process: child };
      this.nodes.push(handle);
      if (flags.length > 0) this.flagged.add(handle);
    }
    await Promise.all(this.nodes.map((n) => n.process.waitForBanner(180_000)));
    if (opts.nodes > 0) opts.log(`cluster: ${opts.nodes} gateway nodes started (npm start, each its own process)`);
  }

  /** A node's environment: the shared PostgreSQL, Redis, link secret and SMS server, its own id and DATA_DIR. */
  nodeEnv(name: string, addresses: GatewayAddresses): Record<string, string> {
    const dataDir = join(this.dir, name);
    mkdirSync(dataDir, { recursive: true });
    return {
      ...clusterNodeEnv({
        id: name,
        dataDir,
        addresses,
        twilioApiUrl: this.sms?.url ?? '',
        registryFile: this.registryFile,
        databaseUrl: this.databaseUrl,
        redisUrl: this.redis?.url ?? '',
        linkSecretFile: this.linkSecret,
      }),
      ...DEVICE_LIMITS_OFF,
      // node-postgres names its connections after this: PostgreSQL's statement log tells the nodes apart.
      PGAPPNAME: name,
      LOG_LEVEL: process.env.BENCH_CLUSTER_LOGS ? 'info' : 'error',
    };
  }

  /** `count` HAProxy processes on the shipped config in front of the first three nodes, each its own listening port. */
  async startBalancers(count: number, tuning: { checkInterval: string; maxconn: number }): Promise<void> {
    const [a, b, c] = this.nodes.map((n) => ({ mqttPort: n.addresses.mqttPort, httpPort: n.addresses.httpPort }));
    if (!a || !b || !c) throw new Error('the shipped HAProxy config names three nodes');
    for (let i = 0; i < count; i++) {
      const h = new BenchHaproxy([a, b, c], tuning);
      this.balancers.push(h);
      await h.start();
    }
  }

  /** Writes each node's output to `<dir>/<node>.log` (BENCH_CLUSTER_LOGS), to see why a figure is what it is. */
  saveLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const n of this.nodes) writeFileSync(join(dir, `${n.name}.log`), `${n.process.stdout}\n--- stderr ---\n${n.process.stderr}`);
  }

  /** SIGKILL to the node's whole process group: a crash, nothing flushed. */
  kill(node: NodeHandle): void {
    node.process.signalGroup('SIGKILL');
  }

  async stop(): Promise<void> {
    const steps: (() => Promise<unknown>)[] = [
      ...this.balancers.map((h) => () => h.stop()),
      // A profile is written only by a node that exits by itself; kill() would SIGKILL one that takes over 5 s to stop.
      ...[...this.flagged].map((n) => async () => {
        n.process.signalGroup('SIGTERM');
        await n.process.waitForExit(60_000);
      }),
      ...this.nodes.map((n) => () => n.process.kill()),
      () => this.sms?.stop() ?? Promise.resolve(),
      () => this.redis?.stop() ?? Promise.resolve(),
      () => this.postgres?.stop() ?? Promise.resolve(),
    ];
    for (const step of steps) await step().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
