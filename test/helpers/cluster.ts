// A whole cluster on one host for tests and benchmarks: PostgreSQL, Redis, an SMS simulator, N `npm start` nodes and HAProxy (the shipped config) in front.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import {
  E2E_AUTH_TOKEN,
  E2E_SID,
  freePort,
  gatewayAddresses,
  gatewayEnv,
  GatewayProcess,
  type Exit,
  type GatewayAddresses,
} from './e2e-process.js';
import { sharedLinkSecretFile } from './gateway.js';
import { startHaproxy, type BalancedNode, type HaproxyServer } from './haproxy.js';
import { PostgresFixture } from './postgres.js';
import { RedisServer } from './redis.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

/** The shipped haproxy.cfg names three servers: node1, node2, node3. */
export type BalancerSlot = 1 | 2 | 3;

export interface ClusterOptions {
  /** The registry every node loads (REGISTRY_FILE); one path for all, so the nodes after the first skip the import. */
  registryFile: string;
  /** How many gateway nodes (default 3). Only nodes 1–3 can sit behind HAProxy. */
  nodes?: number;
  /** Which nodes HAProxy balances (default: every node up to the third); a slot left out points at a closed port. */
  balanced?: readonly BalancerSlot[];
  /** Extra environment for every node (LOG_LEVEL, tunings…), applied over the rig's own. */
  env?: Record<string, string>;
  /** Extra environment for one node (index from 1), applied last. */
  nodeEnv?: (node: number) => Record<string, string>;
  /** CLUSTER_HEARTBEAT_MS (default 1000): a SIGKILLed node is taken for dead after three silent heartbeats. */
  heartbeatMs?: number;
  /** Append each node's stdout and stderr to `<logDir>/<node id>.log` (default: kept in memory only). */
  logDir?: string;
  /** A Twilio-compatible API of the caller's (its credentials must be E2E_SID / E2E_AUTH_TOKEN): no simulator is started. */
  smsApiUrl?: string;
  /** How long a node may take to print its banner (default 60 s: three nodes start on two shared cores). */
  startTimeoutMs?: number;
  /** false: start no SMS simulator even without smsApiUrl (`prepare`'s environment names the provider). */
  smsSimulator?: boolean;
  /** HAProxy's maxconn (default 2,000): a benchmark with more devices raises it. */
  haproxyMaxConnections?: number;
  /**
   * Runs once PostgreSQL, Redis and HAProxy are up and before any node starts, e.g. to seed the registry into the
   * database or to start an SMS simulator whose callbacks go to HAProxy; what it returns goes into every node's
   * environment (under `env` and `nodeEnv`).
   */
  prepare?: (ctx: { databaseUrl: string; httpUrl: string }) => Promise<Record<string, string>>;
}

/** One gateway node: a real child process whose id, ports and DATA_DIR stay the same across kill() and start(). */
export class ClusterNode {
  process: GatewayProcess | null = null;
  private log: WriteStream | null = null;

  constructor(
    /** 1-based: node 1 is HAProxy's `node1`. */
    readonly index: number,
    readonly id: string,
    readonly addresses: GatewayAddresses,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
    private readonly logFile: string | null,
  ) {}

  get httpUrl(): string {
    return this.addresses.publicUrl;
  }

  /** The node's own MQTT listener (it expects a PROXY header from 127.0.0.1: connect from 127.0.0.2 to bypass HAProxy). */
  get mqttUrl(): string {
    return this.addresses.mqttUrl;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Spawns `npm start` (again) and waits for its banner. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.id} is already running`);
    const proc = new GatewayProcess(this.env);
    if (this.logFile) {
      this.log ??= createWriteStream(this.logFile, { flags: 'a' });
      const log = this.log;
      log.write(`---- ${new Date().toISOString()} ${this.id} starts\n`);
      proc.onOutput = (_stream, chunk) => log.write(chunk);
    }
    this.process = proc.spawn();
    await proc.waitForBanner(timeoutMs);
  }

  /** A crash: SIGKILL to the node's whole process group, nothing flushed; resolves when it is gone. */
  async kill(): Promise<Exit> {
    const proc = this.process;
    if (!proc?.running) throw new Error(`${this.id} is not running`);
    proc.signalGroup('SIGKILL');
    return proc.waitForExit();
  }

  /** A clean stop (SIGTERM, then SIGKILL if it lingers). */
  async stop(): Promise<void> {
    await this.process?.kill();
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = null;
  }

  /** What the current (or last) run wrote. */
  output(): { stdout: string; stderr: string } {
    return { stdout: this.process?.stdout ?? '', stderr: this.process?.stderr ?? '' };
  }
}

/**
 * One cluster node's environment: its own id, ports and DATA_DIR, and what every node shares (PostgreSQL, Redis, the
 * link secret, so a link signed by one node opens on another, and the Twilio API address).
 */
export function clusterNodeEnv(opts: {
  id: string;
  dataDir: string;
  addresses: GatewayAddresses;
  twilioApiUrl: string;
  registryFile?: string;
  databaseUrl: string;
  redisUrl: string;
  linkSecretFile: string;
}): Record<string, string> {
  const { id, dataDir, addresses, twilioApiUrl, registryFile } = opts;
  return {
    ...gatewayEnv({ dataDir, addresses, twilioApiUrl, registryFile }),
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    GATEWAY_NODE_ID: id,
    LINK_SECRET_FILE: opts.linkSecretFile,
  };
}

export class ClusterRig {
  private constructor(
    readonly postgres: PostgresFixture,
    readonly databaseUrl: string,
    readonly redis: RedisServer,
    private readonly simulator: TwilioSimServer | null,
    readonly haproxy: HaproxyServer,
    readonly nodes: readonly ClusterNode[],
    private readonly dir: { path: string; remove: () => void },
  ) {}

  /**
   * Starts PostgreSQL, Redis, the SMS simulator, HAProxy and the nodes: node 1 first (it imports the registry), then
   * the others together. On a failure everything already started is stopped again.
   */
  static async start(opts: ClusterOptions): Promise<ClusterRig> {
    const count = opts.nodes ?? 3;
    const balanced = opts.balanced ?? ([1, 2, 3] as const).filter((i) => i <= count);
    if (count < 1) throw new Error('ClusterRig: at least one node');
    if (balanced.some((i) => i > count)) throw new Error(`ClusterRig: cannot balance node ${Math.max(...balanced)} of ${count}`);
    const dir = tempDir('care-gw-cluster-');
    const started: { stop(): Promise<void> }[] = [];
    try {
      const [postgres, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
      started.push(postgres, redis);
      const databaseUrl = await postgres.freshUrl();
      let simulator: TwilioSimServer | null = null;
      if (!opts.smsApiUrl && opts.smsSimulator !== false) {
        simulator = new TwilioSimServer({ accountSid: E2E_SID, authToken: E2E_AUTH_TOKEN, callbackDelayMs: 5 });
        await simulator.start({ port: 0 });
        started.push(simulator);
      }
      const addresses = await Promise.all(Array.from({ length: count }, () => gatewayAddresses()));
      const closed = await freePort();
      const slot = (i: BalancerSlot): BalancedNode => {
        const a = balanced.includes(i) ? addresses[i - 1] : undefined;
        return a ? { mqttPort: a.mqttPort, httpPort: a.httpPort } : { mqttPort: closed, httpPort: closed };
      };
      const haproxy = await startHaproxy([slot(1), slot(2), slot(3)], { maxConnections: opts.haproxyMaxConnections ?? 2000 });
      started.push(haproxy);
      const prepared = (await opts.prepare?.({ databaseUrl, httpUrl: haproxy.httpUrl })) ?? {};
      if (opts.logDir) mkdirSync(opts.logDir, { recursive: true });
      const nodes = addresses.map((a, k) => {
        const index = k + 1;
        const id = `node-${index}`;
        const dataDir = join(dir.path, id);
        const env = {
          // Without a simulator of the rig's, the Twilio address is a closed port until `prepare` names a provider.
          ...clusterNodeEnv({
            id,
            dataDir,
            addresses: a,
            twilioApiUrl: opts.smsApiUrl ?? simulator?.url ?? `http://127.0.0.1:${closed}`,
            registryFile: opts.registryFile,
            databaseUrl,
            redisUrl: redis.url,
            linkSecretFile: sharedLinkSecretFile(),
          }),
          // Links in pages must lead to the balancer, whichever node signed them.
          PUBLIC_URL: haproxy.httpUrl,
          CLUSTER_HEARTBEAT_MS: String(opts.heartbeatMs ?? 1000),
          // HAProxy reaches the nodes from 127.0.0.1 with send-proxy-v2, as the shipped config says.
          MQTT_PROXY_PROTOCOL: 'on',
          MQTT_PROXY_FROM: '127.0.0.1',
          TRUST_PROXY: '127.0.0.1',
          ...prepared,
          ...opts.env,
          ...opts.nodeEnv?.(index),
        };
        return new ClusterNode(index, id, a, dataDir, env, opts.logDir ? join(opts.logDir, `${id}.log`) : null);
      });
      const rig = new ClusterRig(postgres, databaseUrl, redis, simulator, haproxy, nodes, dir);
      started.push({ stop: () => Promise.all(nodes.map((n) => n.stop())).then(() => undefined) });
      const timeout = opts.startTimeoutMs ?? 60_000;
      const [first, ...rest] = nodes;
      await first?.start(timeout);
      await Promise.all(rest.map((n) => n.start(timeout)));
      await Promise.all(balanced.map((i) => rig.waitForBalancer(i, 'UP')));
      return rig;
    } catch (err) {
      for (const s of started.reverse()) await s.stop().catch(() => undefined);
      dir.remove();
      throw err;
    }
  }

  /** The rig's SMS simulator (absent when the caller gave smsApiUrl). */
  get sms(): TwilioSimServer {
    if (!this.simulator) throw new Error('ClusterRig: started with smsApiUrl, so it runs no SMS simulator');
    return this.simulator;
  }

  /** Where devices connect: HAProxy's MQTT frontend. */
  get mqttUrl(): string {
    return this.haproxy.mqttUrl;
  }

  /** Where browsers and webhooks go: HAProxy's HTTP frontend (also every node's PUBLIC_URL). */
  get httpUrl(): string {
    return this.haproxy.httpUrl;
  }

  node(index: number): ClusterNode {
    const n = this.nodes[index - 1];
    if (!n) throw new Error(`ClusterRig: no node ${index}`);
    return n;
  }

  /** SIGKILLs node `index` (a crash); resolves when its process group is gone. */
  kill(index: number): Promise<Exit> {
    return this.node(index).kill();
  }

  /** Starts node `index` again (same id, ports, DATA_DIR) and, when HAProxy balances it, waits until HAProxy has it UP. */
  async restart(index: number, timeoutMs = 60_000): Promise<void> {
    const n = this.node(index);
    await n.start(timeoutMs);
    if (index <= 3) await this.waitForBalancer(index as BalancerSlot, 'UP');
  }

  /** Waits until HAProxy's MQTT backend reports `node<slot>` in `state` (its health checks run every 100 ms here). */
  async waitForBalancer(slot: BalancerSlot, state: 'UP' | 'DOWN', timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => `haproxy to see node${slot} ${state}; log:\n${this.haproxy.log().slice(-2000)}`,
      async () => (await this.haproxy.status('gateway_mqtt', slot)) === state,
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** Stops everything the rig started: the nodes, HAProxy, the simulator, Redis and PostgreSQL, and removes its files. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.haproxy.stop();
    await this.simulator?.stop();
    await Promise.all([this.redis.stop(), this.postgres.stop()]);
    this.dir.remove();
  }
}
