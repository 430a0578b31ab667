// Gateway nodes in this process on one PostgreSQL (and, for the cluster broker, one Redis and one Twilio simulator): the set-up and tear-down of in-process cluster tests.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from './calendar.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { connectDevice, SIM_SID, SIM_TOKEN, startPostgresTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.js';
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
  /** A node on `url` with GATEWAY_NODE_ID `id`, stopped after the test. */
  start(url: string, id: string, opts?: TestGatewayOptions): Promise<ClusterNode>;
  /** A store of the test's own on `url`, to read what the nodes wrote; closed after the test. */
  observe(url: string): Promise<PostgresStore>;
  /** btn-001 presses SOS (QoS 1, PUBACK awaited) through a client of its own on `mqttUrl`, ended after the test. */
  pressSos(mqttUrl: string, seq: number): Promise<void>;
  /** `node` is gone as a dead node is: the test's device clients end without a goodbye, and it stops, its DATA_DIR kept. */
  lose(node: ClusterNode): Promise<void>;
  /**
   * Runs `scenario` with a Twilio simulator of its own, then stops every node (a stop that fails fails the test) and
   * the simulator; answers what the scenario answered.
   */
  withSms<T>(scenario: (sms: TwilioSimServer) => Promise<T>): Promise<T>;
}

/** Registers the vitest hooks of a describe block whose nodes share one PostgreSQL server (no Redis); call it inside that block. */
export function postgresNodes(): PostgresNodes {
  let postgres: PostgresFixture | undefined;
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  const readers: SseReader[] = [];
  const observers: PostgresStore[] = [];
  const endClients = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  };
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
    for (const o of observers.splice(0)) await o.close();
  });
  return {
    get postgres() {
      if (!postgres) throw new Error('PostgreSQL is not running: call postgresNodes() inside a describe block');
      return postgres;
    },
    nodes,
    clients,
    readers,
    async start(url, id, opts = {}) {
      const node = await startPostgresTestGateway(url, { ...opts, env: { ...opts.env, GATEWAY_NODE_ID: id } });
      nodes.push(node);
      return node;
    },
    async observe(url) {
      const store = await openPostgresStore(url);
      observers.push(store);
      return store;
    },
    async pressSos(mqttUrl, seq) {
      const button = await connectDevice(mqttUrl, 'btn-001', 's3cret-btn-001');
      clients.push(button);
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq }), { qos: 1 });
    },
    async lose(node) {
      await endClients();
      nodes.splice(nodes.indexOf(node), 1);
      await node.stop({ keep: true });
    },
    async withSms<T>(scenario: (sms: TwilioSimServer) => Promise<T>): Promise<T> {
      const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
      await sms.start({ port: 0 });
      try {
        return await scenario(sms);
      } finally {
        await endClients();
        for (const n of nodes.splice(0)) await n.stop();
        await sms.stop();
      }
    },
  };
}

/** Advances the nodes' shared clock a second at a time, letting each node's polls run between the seconds. */
export async function passSeconds(clock: ManualClock, seconds: number, pauseMs = 15): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    clock.advance(1000);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
