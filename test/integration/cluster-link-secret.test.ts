// Nodes on one PostgreSQL sign links and sign-in codes with one secret: a node with another secret is refused at start, in one line.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { connectDevice, sharedLinkSecretFile, startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import { pageLinkFor } from '../helpers/page-link.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const W1 = '+8613900000001';

describe('the link secret of nodes sharing PostgreSQL', () => {
  let pg: PostgresFixture;
  const nodes: TestGateway<Gateway>[] = [];
  const dirs: { remove: () => void }[] = [];

  beforeAll(async () => {
    pg = await PostgresFixture.start();
  });
  afterAll(async () => {
    await pg.stop();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    for (const d of dirs.splice(0)) d.remove();
  });

  function dataDir(): string {
    const d = tempDir('care-gw-node-');
    dirs.push(d);
    return d.path;
  }

  it('refuses a second node whose DATA_DIR made a secret of its own, naming the first node and LINK_SECRET_FILE', async () => {
    const url = await pg.freshUrl();
    nodes.push(await startPostgresTestGateway(url, { dataDir: dataDir(), env: { GATEWAY_NODE_ID: 'node-a' } }));
    const second = dataDir();
    const err = await startPostgresTestGateway(url, { dataDir: second, env: { GATEWAY_NODE_ID: 'node-b' } }).then(
      (n) => {
        nodes.push(n);
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = err instanceof Error ? err.message : '';
    expect(message).toContain(
      `LINK_SECRET_FILE: this node's link secret (${join(second, 'link-secret')}) differs from the one node node-a uses`,
    );
    expect(message).not.toContain('\n');
  });

  it('starts every node given the same LINK_SECRET_FILE, and a page link from one node opens on the other', async () => {
    const url = await pg.freshUrl();
    const shared = join(dataDir(), 'shared-link-secret');
    writeFileSync(shared, randomBytes(32), { mode: 0o600 });
    // Thursday 10:00: the test registry's worker on duty is W1.
    const clock = new ManualClock(shanghaiLast(4, 10));
    for (const node of ['node-a', 'node-b']) {
      const env = { LINK_SECRET_FILE: shared, GATEWAY_NODE_ID: node };
      nodes.push(await startPostgresTestGateway(url, { clock, dataDir: dataDir(), env }));
    }
    const [a, b] = nodes as [TestGateway<Gateway>, TestGateway<Gateway>];
    const button = await connectDevice(a.mqttUrl, 'btn-001', 's3cret-btn-001');
    try {
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    } finally {
      await button.endAsync();
    }
    // Node A pages and signs the link; the worker's browser lands on node B (the load balancer's choice).
    const link = await pageLinkFor(a.sms, a.httpUrl, W1);
    const onB = await fetch(`${b.httpUrl}${link.pathname}${link.search}`, { redirect: 'manual' });
    expect(onB.status).toBe(200);
    expect(await onB.text()).toContain('张桂兰');
  });

  it('refuses a LINK_SECRET_FILE that does not exist, instead of making a secret of its own', async () => {
    const missing = join(dataDir(), 'no-such-secret');
    const err = await startPostgresTestGateway(await pg.freshUrl(), { env: { LINK_SECRET_FILE: missing } }).then(
      (n) => {
        nodes.push(n);
        return null;
      },
      (e: unknown) => e,
    );
    expect(err instanceof Error ? err.message : '').toBe(`LINK_SECRET_FILE: ${missing} does not exist`);
  });

  it('creates a missing DATA_DIR for its local state although the secret and the data live elsewhere', async () => {
    const missing = join(dataDir(), 'not', 'yet');
    const node = await startPostgresTestGateway(await pg.freshUrl(), {
      dataDir: missing,
      env: { LINK_SECRET_FILE: sharedLinkSecretFile() },
    });
    nodes.push(node);
    expect(existsSync(missing)).toBe(true);
    const health = (await (await fetch(`${node.httpUrl}/healthz`)).json()) as { status: string };
    expect(health.status).toBe('ok');
  });
});
