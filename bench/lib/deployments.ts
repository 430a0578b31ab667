// The gateway deployments the cluster benchmarks compare, each as real `npm start` child processes: one node on SQLite, one node on PostgreSQL, three nodes on PostgreSQL + Redis behind HAProxy.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import { databaseFile } from '../../gateway/storage/sqlite/store.js';
import { ClusterRig } from '../../test/helpers/cluster.js';
import { gatewayAddresses, gatewayEnv, GatewayProcess } from '../../test/helpers/e2e-process.js';
import { sharedLinkSecretFile } from '../../test/helpers/gateway.js';
import { PostgresFixture, type PostgresServer } from '../../test/helpers/postgres.js';
import { seedPostgresRegistry, seedRegistry } from './seed-registry.js';

export const DEPLOYMENTS = ['sqlite', 'postgres', 'cluster'] as const;
export type DeploymentKind = (typeof DEPLOYMENTS)[number];

export const DEPLOYMENT_TEXT: Record<DeploymentKind, string> = {
  sqlite: '1 node, SQLite (DATA_DIR), devices direct to its port',
  postgres: '1 node, PostgreSQL (DATABASE_URL), devices direct to its port',
  cluster: '3 nodes, PostgreSQL + Redis (REDIS_URL), devices through HAProxy (deploy/haproxy/haproxy.cfg)',
};

/** What a benchmark needs of a running deployment. */
export interface Deployment {
  kind: DeploymentKind;
  /** Where devices connect: the node itself, or HAProxy's MQTT frontend. */
  mqttUrl: string;
  /** Where API calls and provider callbacks go (every node's PUBLIC_URL): the node, or HAProxy's HTTP frontend. */
  httpUrl: string;
  /** Each node's own HTTP address, for /metrics and /healthz. */
  nodeUrls: string[];
  /** The PostgreSQL store, when there is one. */
  databaseUrl: string | null;
  /** How long the node(s) took from spawn to banner (ms), and seeding the registry. */
  startMs: number;
  seedMs: number;
  /** Which node holds each connected device (Redis presence); empty for one node. */
  presence(): Promise<Map<string, string>>;
  /** Calls per Redis command since Redis started (INFO commandstats, lower-case names); null without Redis. */
  redisCommands(): Promise<Record<string, number> | null>;
  /** The PostgreSQL server (its log is `<dir>/server.log`), when there is one. */
  postgres: PostgresServer | null;
  /** What each node has written to stdout so far (its JSON log lines), by node id (the deployment's kind for one node). */
  nodeOutputs(): { node: string; stdout: string }[];
  /** Events recorded in the store from devices whose id starts with `prefix`, and how many of them rules have not acted on yet. */
  countEvents(prefix: string): Promise<{ recorded: number; unprocessed: number }>;
  stop(): Promise<void>;
}

export interface DeploymentOptions {
  kind: DeploymentKind;
  /** A temp dir of the benchmark's: registry file, DATA_DIRs, node logs. */
  dir: string;
  /** The registry, every device with one shared secret (seeded, not imported: see seed-registry.ts). */
  doc: RegistryDocument;
  /** Extra environment for every node (SMS provider, limits…), given the address provider callbacks must reach. */
  env: (publicUrl: string) => Promise<Record<string, string>>;
  /** Connections HAProxy must hold (cluster): devices of the benchmark plus a margin. */
  connections: number;
  log: (line: string) => void;
}

const START_TIMEOUT_MS = 180_000;

export async function startDeployment(opts: DeploymentOptions): Promise<Deployment> {
  if (opts.kind === 'cluster') return startCluster(opts);
  return startSingle(opts);
}

async function startSingle(opts: DeploymentOptions): Promise<Deployment> {
  const cleanup: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };
  try {
    const addresses = await gatewayAddresses();
    const dataDir = join(opts.dir, `${opts.kind}-data`);
    mkdirSync(dataDir, { recursive: true });
    let databaseUrl: string | null = null;
    let postgres: PostgresServer | null = null;
    let seeded;
    if (opts.kind === 'postgres') {
      const pg = await PostgresFixture.start();
      cleanup.push(() => pg.stop());
      postgres = pg.server;
      databaseUrl = await pg.freshUrl();
      seeded = await seedPostgresRegistry(opts.dir, databaseUrl, opts.doc);
    } else {
      seeded = await seedRegistry(opts.dir, dataDir, opts.doc);
    }
    const env = {
      ...gatewayEnv({ dataDir, addresses, twilioApiUrl: 'http://127.0.0.1:9', registryFile: seeded.path }),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl, LINK_SECRET_FILE: sharedLinkSecretFile() } : {}),
      ...(await opts.env(addresses.publicUrl)),
    };
    const node = new GatewayProcess(env).spawn();
    cleanup.push(() => node.kill());
    const t0 = performance.now();
    await node.waitForBanner(START_TIMEOUT_MS);
    const startMs = performance.now() - t0;
    return {
      kind: opts.kind,
      mqttUrl: addresses.mqttUrl,
      httpUrl: addresses.publicUrl,
      nodeUrls: [addresses.publicUrl],
      databaseUrl,
      postgres,
      nodeOutputs: () => [{ node: opts.kind, stdout: node.stdout }],
      startMs,
      seedMs: seeded.ms,
      presence: () => Promise.resolve(new Map()),
      redisCommands: () => Promise.resolve(null),
      countEvents: (prefix) =>
        databaseUrl ? countPostgresEvents(databaseUrl, prefix) : Promise.resolve(countSqliteEvents(dataDir, prefix)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startCluster(opts: DeploymentOptions): Promise<Deployment> {
  let seedMs = 0;
  const registryFile = join(opts.dir, 'registry.json');
  const t0 = performance.now();
  const rig = await ClusterRig.start({
    registryFile,
    logDir: join(opts.dir, 'logs'),
    startTimeoutMs: START_TIMEOUT_MS,
    haproxyMaxConnections: opts.connections,
    smsSimulator: false,
    // Before the first node starts: the registry into the rig's database, and the SMS simulator (it needs HAProxy's URL).
    prepare: async ({ databaseUrl, httpUrl }) => {
      const seeded = await seedPostgresRegistry(opts.dir, databaseUrl, opts.doc);
      if (seeded.path !== registryFile) throw new Error(`seeded registry at ${seeded.path}, expected ${registryFile}`);
      seedMs = seeded.ms;
      return opts.env(httpUrl);
    },
  });
  const startMs = performance.now() - t0 - seedMs;
  opts.log(`cluster: node logs in ${join(opts.dir, 'logs')}`);
  const redis = new Redis(rig.redis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  return {
    kind: 'cluster',
    mqttUrl: rig.mqttUrl,
    httpUrl: rig.httpUrl,
    nodeUrls: rig.nodes.map((n) => n.httpUrl),
    databaseUrl: rig.databaseUrl,
    postgres: rig.postgres.server,
    nodeOutputs: () => rig.nodes.map((n) => ({ node: n.id, stdout: n.output().stdout })),
    startMs,
    seedMs,
    presence: async () => {
      const out = new Map<string, string>();
      for (const [device, raw] of Object.entries(await redis.hgetall('care:presence'))) {
        const node = (JSON.parse(raw) as { node?: unknown }).node;
        if (typeof node === 'string') out.set(device, node);
      }
      return out;
    },
    redisCommands: async () => {
      const out: Record<string, number> = {};
      for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] ?? ''] = Number(m[2]);
      return out;
    },
    countEvents: (prefix) => countPostgresEvents(rig.databaseUrl, prefix),
    stop: async () => {
      redis.disconnect();
      await rig.stop();
    },
  };
}

/** Waits until no node has a signal or an SMS queued (from each node's /healthz), at most `timeoutMs`. */
export async function nodesIdle(nodeUrls: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const busy = await Promise.all(
      nodeUrls.map(async (url) => {
        const res = await fetch(`${url}/healthz`);
        const body = (await res.json()) as { components?: { sms?: { queued?: number }; signals?: { queued?: number } } };
        return (body.components?.sms?.queued ?? 0) + (body.components?.signals?.queued ?? 0);
      }),
    );
    if (busy.every((n) => n === 0)) return;
    if (performance.now() > deadline) throw new Error(`nodes still busy after ${timeoutMs} ms: ${busy.join(', ')} queued`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const COUNT_EVENTS =
  'SELECT count(*) AS recorded, count(*) FILTER (WHERE NOT processed) AS unprocessed FROM events WHERE device_id LIKE $1';

async function countPostgresEvents(url: string, prefix: string): Promise<{ recorded: number; unprocessed: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ recorded: string; unprocessed: string }>(COUNT_EVENTS, [`${prefix}%`]);
    return { recorded: Number(r.rows[0]?.recorded ?? 0), unprocessed: Number(r.rows[0]?.unprocessed ?? 0) };
  } finally {
    await client.end();
  }
}

/** Read-only beside the running node (WAL lets a reader in while it writes). */
function countSqliteEvents(dataDir: string, prefix: string): { recorded: number; unprocessed: number } {
  const db = new Database(databaseFile(dataDir), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare<[string], { recorded: number; unprocessed: number }>(
        'SELECT count(*) AS recorded, coalesce(sum(processed = 0), 0) AS unprocessed FROM events WHERE device_id LIKE ?',
      )
      .get(`${prefix}%`);
    return { recorded: row?.recorded ?? 0, unprocessed: row?.unprocessed ?? 0 };
  } finally {
    db.close();
  }
}
