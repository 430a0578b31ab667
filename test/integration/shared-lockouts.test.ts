// Three gateway nodes on one PostgreSQL share their sign-in failures: a device or a browser guessing through all three meets one lockout, and another address none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectFrom, signInFrom } from '../helpers/haproxy.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/** Two free wrong secrets per (address, device id) over all nodes, then a minute's wait. */
const AUTH_LIMITS = { freeFailures: 2, windowMs: 10 * 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000, addressFailures: 50 };
const ADMIN = { ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'correct-horse-battery' };

describe('sign-in lockouts across three nodes on one PostgreSQL', () => {
  let pg: PostgresFixture;
  let nodes: TestGateway<Gateway>[] = [];

  beforeAll(async () => {
    pg = await PostgresFixture.start();
    const url = await pg.freshUrl();
    for (let i = 0; i < 3; i++) nodes.push(await startPostgresTestGateway(url, { env: ADMIN, edge: { authLimits: AUTH_LIMITS } }));
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    nodes = [];
    await pg?.stop();
  }, 60_000);

  const received = (n: TestGateway<Gateway>): number => n.gateway.sharedFailures?.stats().received ?? 0;

  it('slows a device id guessed from one address on every node, one wrong secret per node, and not the same id from another address', async () => {
    const before = nodes.map(received);
    for (const node of nodes) {
      await expect(
        connectFrom(node.mqttUrl, '127.0.0.2', { clientId: 'btn-002', username: 'btn-002', password: 'guess' }),
      ).rejects.toThrow();
    }
    // Each node saw one failure itself (free on its own) and learns the other two from the ledger.
    for (const [i, node] of nodes.entries()) {
      await waitFor(`node ${i + 1} read the other nodes' failures`, () => received(node) >= before[i]! + 2);
      expect(node.gateway.broker.authDelayOf('127.0.0.2', 'btn-002')).toBeGreaterThan(0);
      expect(node.gateway.broker.authDelayOf('127.0.0.3', 'btn-002')).toBe(0);
    }
    // The right secret from another address is let in at once, on any node.
    const real = await connectFrom(nodes[1]!.mqttUrl, '127.0.0.3', {
      clientId: 'btn-002',
      username: 'btn-002',
      password: 's3cret-btn-002',
    });
    expect(real.connected).toBe(true);
    real.end(true);
  });

  it('refuses a sixth dashboard password from one address on the node that saw only one of the five', async () => {
    const before = received(nodes[2]!);
    // Five wrong passwords for one account from 127.0.0.6: four on nodes 1 and 2, one on node 3.
    for (const node of [nodes[0]!, nodes[1]!, nodes[0]!, nodes[1]!, nodes[2]!]) {
      expect(await signInFrom(node.httpUrl, '127.0.0.6', 'wrong-password')).toBe(401);
    }
    // Each failure counts under the address and under (address, account).
    await waitFor('node 3 read the four failures of nodes 1 and 2', () => received(nodes[2]!) >= before + 8);
    expect(await signInFrom(nodes[2]!.httpUrl, '127.0.0.6', ADMIN.ADMIN_PASSWORD)).toBe(429);
    expect(await signInFrom(nodes[2]!.httpUrl, '127.0.0.7', ADMIN.ADMIN_PASSWORD)).toBe(200);
  });
});
