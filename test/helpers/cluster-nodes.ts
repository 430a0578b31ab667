// Gateway nodes in this process on one PostgreSQL (and, for the cluster broker, one Redis and one Twilio simulator): the set-up and tear-down of in-process cluster tests.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from './calendar.js';
import { SIM_SID, SIM_TOKEN, startPostgresTestGateway, type TestGateway } from './gateway.js';
import { PostgresFixture } from './postgres.js';
import { RedisServer } from './redis.js';
import type { SseReader } from './sse.js';

export type ClusterNode = TestGateway<Gateway>;

export interface InProcessClusterOptions {
  /** CLUSTER_HEARTBEAT_MS of every node (short, so presence settles quickly). Default 200. */
  heartbeatMs?: number;
  /** Empty Redis before each test, so no test meets another's sessions or presence. */
  emptyRedisEachTest?: boolean;
}

export interface InProcessCluster {
  readonly postgres: PostgresFixture;
  readonly redis: RedisServer;
  /** The Twilio simulator every node sends through. */
  readonly sms: TwilioSimServer;
  /**
   * Nodes on a fresh database, REDIS_URL and GATEWAY_NODE_ID set, one shared clock (last Thursday 10:00 unless given),
   * started one after the other because the first migrates the database; stopped after the test.
   */
  startNodes(ids: string[], clock?: ManualClock): Promise<ClusterNode[]>;
  /** Node A and node B, started as startNodes does, and their clock. */
  twoNodes(): Promise<{ a: ClusterNode; b: ClusterNode; clock: ManualClock }>;
}

/** Registers the vitest hooks of a describe block that runs gateway nodes in this process; call it inside that block. */
export function inProcessCluster(opts: InProcessClusterOptions = {}): InProcessCluster {
  const heartbeatMs = opts.heartbeatMs ?? 200;
  let servers: { postgres: PostgresFixture; redis: RedisServer; sms: TwilioSimServer } | undefined;
  const running: ClusterNode[] = [];

  beforeAll(async () => {
    const [postgres, redis] = await Promise.all([PostgresFixture.start(), RedisServer.start()]);
    const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
    servers = { postgres, redis, sms };
  });
  afterAll(async () => {
    if (!servers) return;
    await servers.sms.stop();
    await Promise.all([servers.postgres.stop(), servers.redis.stop()]);
  });
  if (opts.emptyRedisEachTest)
    beforeEach(async () => {
      const r = started().redis.client();
      await r.flushall();
      await r.quit();
    });
  afterEach(async () => {
    for (const n of running.splice(0)) await n.stop();
  });

  function started(): NonNullable<typeof servers> {
    if (!servers) throw new Error('the cluster servers are not running: call inProcessCluster() inside a describe block');
    return servers;
  }

  async function startNodes(ids: string[], clock = new ManualClock(shanghaiLast(4, 10))): Promise<ClusterNode[]> {
    const { postgres, redis, sms } = started();
    const url = await postgres.freshUrl();
    const nodes: ClusterNode[] = [];
    for (const id of ids) {
      const env = { REDIS_URL: redis.url, GATEWAY_NODE_ID: id, CLUSTER_HEARTBEAT_MS: String(heartbeatMs) };
      const node = await startPostgresTestGateway(url, { clock, sms, env });
      running.push(node);
      nodes.push(node);
    }
    return nodes;
  }

  return {
    get postgres() {
      return started().postgres;
    },
    get redis() {
      return started().redis;
    },
    get sms() {
      return started().sms;
    },
    startNodes,
    async twoNodes() {
      const clock = new ManualClock(shanghaiLast(4, 10));
      const [a, b] = await startNodes(['node-a', 'node-b'], clock);
      if (!a || !b) throw new Error('nodes did not start');
      return { a, b, clock };
    },
  };
}

export interface PostgresNodes {
  readonly postgres: PostgresFixture;
  /** Nodes a test started: stopped after it, last of all. */
  readonly nodes: ClusterNode[];
  /** Device clients a test connected: ended after it, before the nodes stop. */
  readonly clients: MqttClient[];
  /** Live-feed readers a test opened: closed after it, first of all. */
  readonly readers: SseReader[];
}

/** Registers the vitest hooks of a describe block whose nodes share one PostgreSQL server (no Redis); call it inside that block. */
export function postgresNodes(): PostgresNodes {
  let postgres: PostgresFixture | undefined;
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const readers: SseReader[] = [];
  beforeAll(async () => {
    postgres = await PostgresFixture.start();
  });
  afterAll(async () => {
    await postgres?.stop();
  });
  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    for (const c of clients.splice(0)) await c.endAsync();
    for (const n of nodes.splice(0)) await n.stop();
  });
  return {
    get postgres() {
      if (!postgres) throw new Error('PostgreSQL is not running: call postgresNodes() inside a describe block');
      return postgres;
    },
    nodes,
    clients,
    readers,
  };
}
