// Several gateway nodes on one PostgreSQL: an escalation step fires once with both alive and goes on when its node is gone; a SIGKILLed node's queued page is sent by the survivor.
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { PostgresStore } from '../../gateway/storage/postgres/store.js';
import type { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { ChildTracker, freePort, gatewayAddresses, gatewayEnv, GatewayProcess } from '../helpers/e2e-process.js';
import { passSeconds, postgresNodes } from '../helpers/cluster-nodes.js';
import { sharedLinkSecretFile, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';

describe('work that runs once across gateway nodes on one PostgreSQL', () => {
  const cluster = postgresNodes();
  const children = new ChildTracker();

  afterEach(async () => {
    await children.killAll();
  });

  const stepPages = async (store: PostgresStore, step: number): Promise<number> =>
    (
      await store.database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'paged' AND (detail::jsonb ->> 'step')::int = $1",
        [step],
      )
    )[0]?.n ?? 0;

  /** Nodes a and b on a fresh database and one clock; btn-001 has pressed SOS on node a and W1 has its page. */
  const pagedOnTwoNodes = async (sms: TwilioSimServer): Promise<{ a: TestGateway<Gateway>; clock: ManualClock; store: PostgresStore }> => {
    const url = await cluster.postgres.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    const a = await cluster.start(url, 'node-a', { clock, sms });
    await cluster.start(url, 'node-b', { clock, sms });
    const store = await cluster.observe(url);
    await cluster.pressSos(a.mqttUrl, 1);
    await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    return { a, clock, store };
  };

  it('fires the next escalation step exactly once with both nodes alive on one clock', async () => {
    await cluster.withSms(async (sms) => {
      const { clock, store } = await pagedOnTwoNodes(sms);
      await passSeconds(clock, 185);
      await sms.waitForMessage((m) => m.to === W2 && m.body.includes('仍无人接'));
      // Both nodes read the shared table every second while the clock passes the step's due time: one claim wins.
      await passSeconds(clock, 5);
      expect(await stepPages(store, 2)).toBe(1);
      expect(sms.messages().filter((m) => m.to === W2 && m.body.includes('回1'))).toHaveLength(1);
    });
  });

  it('goes on with the escalation of an incident opened on a node that is gone, once, from the node left', async () => {
    await cluster.withSms(async (sms) => {
      const { a, clock, store } = await pagedOnTwoNodes(sms);
      await cluster.lose(a);
      await passSeconds(clock, 185);
      await sms.waitForMessage((m) => m.to === W2 && m.body.includes('仍无人接'));
      expect(await stepPages(store, 2)).toBe(1);
      expect(sms.messages().filter((m) => m.to === W2 && m.body.includes('回1'))).toHaveLength(1);
    });
  });

  it('acts on an alarm a node recorded and acknowledged but died before acting on, from the node left, once', async () => {
    const url = await cluster.postgres.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    await cluster.withSms(async (sms) => {
      await cluster.start(url, 'node-b', { clock, sms });
      // What node a left behind: the SOS on disk (its PUBACK went out), no incident; node b was already running.
      const store = await cluster.observe(url);
      const payload = JSON.stringify({ type: 'sos', seq: 1 });
      const sos = {
        deviceId: 'btn-001',
        seq: 1,
        type: 'sos' as const,
        payload,
        payloadHash: 'h1',
        deviceTs: null,
        receivedAt: clock.now(),
      };
      const [id] = (await store.events.recordBatch([sos], 0)).ids;
      await passSeconds(clock, 5);
      expect(await store.incidents.listActive()).toEqual([]);
      // Ten seconds on, node b takes it up as its own.
      await passSeconds(clock, 8);
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      expect((await store.events.get(id!))?.processed).toBe(true);
      expect(await store.incidents.listActive()).toHaveLength(1);
      expect(await stepPages(store, 1)).toBe(1);
    });
  });

  it('sends the page a SIGKILLed node had queued but not sent, from the survivor once that node’s lease runs out', async () => {
    const url = await cluster.postgres.freshUrl();
    const dir = tempDir('care-gw-cluster-');
    await cluster
      .withSms(async (sms) => {
        // Node a pages through an SMS provider that does not answer: its page stays queued, retried, leased to it.
        const deadProvider = `http://127.0.0.1:${await freePort()}`;
        const addresses = await gatewayAddresses();
        const a = children.add(
          new GatewayProcess({
            ...gatewayEnv({ dataDir: dir.path, addresses, twilioApiUrl: deadProvider }),
            DATABASE_URL: url,
            LINK_SECRET_FILE: sharedLinkSecretFile(),
            GATEWAY_NODE_ID: 'node-a',
          }),
        );
        a.spawn();
        await a.waitForBanner(60_000);
        await cluster.start(url, 'node-b', { sms });
        const store = await cluster.observe(url);
        await cluster.pressSos(addresses.mqttUrl, 1);
        const leased = async () =>
          (
            await store.database.query<{ id: string; status: string; attempts: number; claimed_by: string }>(
              "SELECT id, status, attempts, claimed_by FROM sms_messages WHERE to_phone = $1 AND purpose = 'page'",
              [W1],
            )
          )[0];
        // Tried and failed at least twice on node a, so it has renewed its lease past the first term; b left it alone.
        const held = await waitFor(
          'the page retried on node a',
          async () => {
            const row = await leased();
            return row && row.attempts >= 2 ? row : null;
          },
          { timeoutMs: 30_000 },
        );
        expect(held.claimed_by).toBe('node-a');
        expect(held.status).toBe('sending');
        expect(sms.messages().filter((m) => m.to === W1)).toEqual([]);

        a.signalGroup('SIGKILL');
        expect((await a.waitForExit()).signal).toBe('SIGKILL');
        const sent = await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'), 40_000);
        expect(sent.body).toContain('回1');
        await waitFor('the page recorded as handed over by node b', async () => {
          const row = await leased();
          return row?.claimed_by === 'node-b' && !['queued', 'sending', 'failed'].includes(row.status);
        });
        expect(sms.messages().filter((m) => m.to === W1 && m.body.includes('回1'))).toHaveLength(1);
      })
      .finally(async () => {
        await children.killAll();
        dir.remove();
      });
  }, 150_000);
});
