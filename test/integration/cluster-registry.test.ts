// Nodes sharing PostgreSQL follow each other's registry imports (even across a notices gap), and start together on an empty database with one import.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { createLogger, type Logger } from '../../gateway/core/logger.js';
import { DEMO_REGISTRY_FILE } from '../../gateway/registry/demo.js';
import { PostgresStore } from '../../gateway/storage/postgres/store.js';
import {
  API_TOKEN,
  connectDevice,
  startPostgresTestGateway,
  TEST_REGISTRY,
  type TestGateway,
  type TestGatewayOptions,
} from '../helpers/gateway.js';
import { PostgresFixture, queryRows } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const OLD_PHONE = '+8613900000001';
const NEW_PHONE = '+8613900000099';

/** The test registry with w-01's phone changed and btn-002's secret rotated (its old secret no longer signs in). */
function changedRegistry(): string {
  const text = readFileSync(TEST_REGISTRY, 'utf8');
  const changed = text.replace(`phone: '${OLD_PHONE}'`, `phone: '${NEW_PHONE}'`).replace("'s3cret-btn-002'", "'rotated-btn-002'");
  expect(changed).not.toBe(text);
  return changed;
}

/** A logger that keeps each line's message, so a test can count what every node did. */
function recordingLog(lines: string[]): Logger {
  return createLogger({
    level: 'info',
    destination: {
      write(line: string) {
        lines.push((JSON.parse(line) as { msg: string }).msg);
      },
    },
  });
}

function pgStoreOf(node: TestGateway<Gateway>): PostgresStore {
  const { store } = node.gateway;
  if (!(store instanceof PostgresStore)) throw new Error('the node does not run on PostgreSQL');
  return store;
}

async function importThrough(node: TestGateway<Gateway>, text: string): Promise<void> {
  const res = await fetch(`${node.httpUrl}/api/registry`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ format: 'yaml', text }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe('the registry across nodes on one PostgreSQL', () => {
  let pgFixture: PostgresFixture;
  const nodes: TestGateway<Gateway>[] = [];
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    pgFixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await pgFixture.stop();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync();
    for (const n of nodes.splice(0)) await n.stop();
  });

  const start = async (url: string, node: string, opts: TestGatewayOptions = {}): Promise<TestGateway<Gateway>> => {
    const g = await startPostgresTestGateway(url, { ...opts, env: { ...opts.env, GATEWAY_NODE_ID: node } });
    nodes.push(g);
    return g;
  };

  const pagedPhones = async (url: string, resident: string): Promise<string[]> =>
    (
      await queryRows<{ to_phone: string }>(
        url,
        `SELECT s.to_phone FROM sms_messages s JOIN incidents i ON i.id = s.incident_id WHERE i.resident_id = $1 ORDER BY s.id`,
        [resident],
      )
    ).map((r) => r.to_phone);

  it('pages the new phone from node B after an import on node A, and disconnects from B a device whose secret changed', async () => {
    const url = await pgFixture.freshUrl();
    const a = await start(url, 'node-a');
    const b = await start(url, 'node-b');

    // Node B pages an SOS first, so it holds the workers as they were.
    const first = await connectDevice(b.mqttUrl, 'btn-001', 's3cret-btn-001');
    clients.push(first);
    await first.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await waitFor('the first page to w-01', async () => (await pagedPhones(url, 'r-001')).includes(OLD_PHONE));

    const rotated = await connectDevice(b.mqttUrl, 'btn-002', 's3cret-btn-002');
    clients.push(rotated);
    const closed = new Promise<void>((resolve) => rotated.once('close', () => resolve()));
    rotated.options.reconnectPeriod = 0;

    await importThrough(a, changedRegistry());

    // The device with the old secret is signed out of node B, and that secret is refused there from now on.
    await closed;
    await expect(connectDevice(b.mqttUrl, 'btn-002', 's3cret-btn-002', { reconnectPeriod: 0 })).rejects.toThrow();
    const renewed = await connectDevice(b.mqttUrl, 'btn-002', 'rotated-btn-002');
    clients.push(renewed);

    await renewed.publishAsync('care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await waitFor('a page of r-002 to the new phone', async () => (await pagedPhones(url, 'r-002')).includes(NEW_PHONE));
    expect(await pagedPhones(url, 'r-002')).not.toContain(OLD_PHONE);
    expect(b.gateway.registryFollower.reloads).toBeGreaterThanOrEqual(1);
    // Node A reloaded when it imported: its own notice does not make it reload again.
    expect(a.gateway.registryFollower.reloads).toBe(0);
  }, 60_000);

  it('reloads node B when its notices connection listens again after a gap in which node A imported', async () => {
    const url = await pgFixture.freshUrl();
    const a = await start(url, 'node-a');
    // Node B waits 8 s before it listens again: the import below falls inside that gap, even on a loaded host.
    const b = await start(url, 'node-b', { sharedWork: { noticesRetryMs: { first: 8000, max: 8000 } } });
    const rotated = await connectDevice(b.mqttUrl, 'btn-002', 's3cret-btn-002');
    clients.push(rotated);
    rotated.options.reconnectPeriod = 0;
    let closed = false;
    rotated.once('close', () => (closed = true));
    // Fill node B's cache of workers before the gap.
    expect((await pgStoreOf(b).registry.listWorkers()).find((w) => w.id === 'w-01')?.phone).toBe(OLD_PHONE);

    const notices = pgStoreOf(b).database.notices;
    const pid = notices.backendPid();
    expect(pid).not.toBeNull();
    await pgStoreOf(a).database.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('node B to see its notices connection down', () => notices.status().state === 'down');

    await importThrough(a, changedRegistry());
    // While node B does not hear notices it reads the registry from the database, never from its cache.
    expect((await pgStoreOf(b).registry.listWorkers()).find((w) => w.id === 'w-01')?.phone).toBe(NEW_PHONE);
    expect(notices.status().state).toBe('down');
    expect(closed).toBe(false);
    expect(b.gateway.registryFollower.reloads).toBe(0);

    await waitFor('node B to listen again and reload', () => b.gateway.registryFollower.reloads >= 1, { timeoutMs: 20_000 });
    await waitFor('btn-002 signed out of node B', () => closed);
  }, 60_000);

  it('reloads node B for a registry change on node A, never for a setting write (the write probe, the import digest)', async () => {
    const url = await pgFixture.freshUrl();
    const bLines: string[] = [];
    const a = await start(url, 'node-a');
    const b = await start(url, 'node-b', { log: recordingLog(bLines) });
    const rotated = await connectDevice(b.mqttUrl, 'btn-002', 's3cret-btn-002');
    clients.push(rotated);
    rotated.options.reconnectPeriod = 0;
    const closed = new Promise<void>((resolve) => rotated.once('close', () => resolve()));

    // What node A's RecordingGuard probe and start-up import write, then a registry change.
    const registry = pgStoreOf(a).registry;
    await registry.setSetting('storage.write_probe', String(Date.now()));
    await registry.setSetting('registry_digest', 'elsewhere.yaml:0');
    await registry.setSetting('storage.write_probe', String(Date.now()));
    await importThrough(a, changedRegistry());

    // Notices arrive in commit order: once node B has acted on the import, it has heard anything sent before it.
    await closed;
    await waitFor('node B to finish its reload', () => b.gateway.registryFollower.reloads >= 1);
    expect(bLines.filter((m) => m === 'registry changed on another node: reloading')).toHaveLength(1);
    expect(b.gateway.registryFollower.reloads).toBe(1);
  }, 60_000);

  it('starts three nodes at once on an empty database with one REGISTRY_FILE: one import, the others find it unchanged', async () => {
    const url = await pgFixture.freshUrl();
    const lines: string[][] = [[], [], []];
    await Promise.all(['node-1', 'node-2', 'node-3'].map((id, i) => start(url, id, { log: recordingLog(lines[i]!) })));
    const imports = lines.map((l) => l.filter((m) => m === 'registry imported').length);
    expect(imports.reduce((x, y) => x + y, 0)).toBe(1);
    expect(lines.map((l) => l.filter((m) => m === 'registry unchanged since the last import').length).reduce((x, y) => x + y, 0)).toBe(2);
    const [counts] = await queryRows<{ residents: string; devices: string; workers: string }>(
      url,
      'SELECT (SELECT count(*) FROM residents) AS residents, (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM workers) AS workers',
    );
    expect(counts).toEqual({ residents: '2', devices: '3', workers: '4' });
  });

  it('without REGISTRY_FILE: the first node imports its demo, a second uses the database registry and writes no demo of its own', async () => {
    const url = await pgFixture.freshUrl();
    const aLines: string[] = [];
    const bLines: string[] = [];
    const a = await start(url, 'node-a', { env: { REGISTRY_FILE: '' }, log: recordingLog(aLines) });
    expect(aLines).toContain('registry imported');
    const b = await start(url, 'node-b', { env: { REGISTRY_FILE: '' }, log: recordingLog(bLines) });
    expect(bLines).toContain('no REGISTRY_FILE: using the registry already in the database');
    expect(bLines).not.toContain('registry imported');
    expect(bLines).not.toContain('no REGISTRY_FILE: generated a demo neighbourhood');
    expect(existsSync(join(b.dataDir, DEMO_REGISTRY_FILE))).toBe(false);

    // A button of node A's demo signs in on node B: one registry, one set of secrets.
    const demo = readFileSync(join(a.dataDir, DEMO_REGISTRY_FILE), 'utf8');
    const button = /\{ ?id: (btn-\d+), kind: sos_button, resident: [^,]+, secret: '?([^',}\s]+)/.exec(demo);
    expect(button).not.toBeNull();
    const device = await connectDevice(b.mqttUrl, button![1]!, button![2]!);
    clients.push(device);

    // Node A restarted keeps going as the demo it imported (its file unchanged): no second import.
    aLines.length = 0;
    nodes.splice(nodes.indexOf(a), 1);
    const again = await a.restart();
    nodes.push(again);
    expect(aLines).toContain('registry unchanged since the last import');
    // Hashing the demo's few hundred device secrets takes a while on a loaded host.
  }, 240_000);
});
