// Two cluster nodes in this process on one PostgreSQL and one Redis, PostgreSQL stopped and started again under them: the nodes live on, /healthz is 503, no alarm is PUBACKed before it is recorded, and everything resumes.
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import {
  API_TOKEN,
  connectOnlineDevice,
  nodeHealth as health,
  SIM_SID,
  SIM_TOKEN,
  startPostgresTestGateway,
  type TestGateway,
} from '../helpers/gateway.js';
import { PostgresServer, queryRows, type HaltMode } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';

describe('PostgreSQL restarted under a running cluster', () => {
  let server: PostgresServer;
  let redis: RedisServer;
  let sms: TwilioSimServer;
  const nodes: TestGateway<Gateway>[] = [];
  const clients: MqttClient[] = [];
  const faults: unknown[] = [];
  const onFault = (reason: unknown): void => void faults.push(reason);

  beforeAll(async () => {
    [server, redis] = await Promise.all([
      // The WAL writer flushes unsynced commits at most every 10 s instead of every 200 ms: a crash then takes any
      // such commit of the last seconds with it, every run, where the default lets it through only on some.
      PostgresServer.start({ wal_writer_delay: '10s' }),
      RedisServer.start(),
    ]);
    process.on('unhandledRejection', onFault);
    process.on('uncaughtException', onFault);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onFault);
    process.off('uncaughtException', onFault);
    await Promise.all([server.stop(), redis.stop()]);
  });
  afterEach(async () => {
    await server.resume();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const n of nodes.splice(0)) await n.stop();
    await sms.stop();
    const r = redis.client();
    await r.flushall();
    await r.quit();
  });

  const startNodes = async (database: string, clock: ManualClock): Promise<[TestGateway<Gateway>, TestGateway<Gateway>]> => {
    const url = await server.createDatabase(database);
    // A simulator per test: each test's pages are its own.
    sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
    const started: TestGateway<Gateway>[] = [];
    // One after the other: the first migrates the shared database.
    for (const id of ['node-a', 'node-b']) {
      const env = { REDIS_URL: redis.url, GATEWAY_NODE_ID: id, CLUSTER_HEARTBEAT_MS: '200' };
      const node = await startPostgresTestGateway(url, {
        clock,
        sms,
        env,
        sharedWork: { pollMs: 200, noticesRetryMs: { first: 100, max: 500 } },
      });
      nodes.push(node);
      started.push(node);
    }
    const [a, b] = started;
    if (!a || !b) throw new Error('nodes did not start');
    return [a, b];
  };

  const incidents = async (node: TestGateway<Gateway>): Promise<IncidentView[]> => {
    const res = await fetch(`${node.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}`, connection: 'close' } });
    expect(res.status).toBe(200);
    return (await res.json()) as IncidentView[];
  };

  // 'fast' closes the sessions cleanly; 'immediate' and 'kill' (SIGKILL of the postmaster) are crashes: the server
  // recovers from its WAL at the next start, and only what was flushed to it before the crash is still there.
  for (const mode of ['fast', 'immediate', 'kill'] satisfies HaltMode[]) {
    it(`survives a ${mode} stop of PostgreSQL: 503 while down, the held SOS PUBACKed only once recorded, then one incident, one page, the due step once`, async () => {
      const clock = new ManualClock(shanghaiLast(4, 10));
      const [a, b] = await startNodes(`care_${mode}`, clock);
      const url = server.url(`care_${mode}`);

      // A device on each node; btn-001 reconnects by itself, as a fixture in the field does.
      const onB = await connectOnlineDevice(b.mqttUrl, 'btn-002', 's3cret-btn-002');
      clients.push(onB);
      const onA = await connectOnlineDevice(a.mqttUrl, 'btn-001', 's3cret-btn-001', {
        reconnectPeriod: 100,
        reconnectOnConnackError: true,
      });
      clients.push(onA);

      // An incident before the outage, whose second step falls due while PostgreSQL is away. The server goes down as
      // its first page reaches the provider (the answer held until then): the commit that opened it is the last one.
      sms.holdAnswers();
      await onB.publishAsync('care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      await waitFor('the first page at the provider', () => sms.requests().some((r) => r.path.endsWith('/Messages.json')));
      const before = await waitFor('r-002’s incident seen by the other node', async () =>
        (await incidents(a)).find((i) => i.resident === 'r-002'),
      );
      expect(before.step).toBe(1);

      // Every PUBACK btn-001 receives is noted with whether PostgreSQL was down at that moment.
      let databaseDown = false;
      const pubacks: { messageId: number | undefined; whileDown: boolean }[] = [];
      onA.on('packetreceive', (packet: Packet) => {
        if (packet.cmd === 'puback') pubacks.push({ messageId: packet.messageId, whileDown: databaseDown });
      });
      let closes = 0;
      onA.on('close', () => closes++);

      databaseDown = true;
      await server.halt(mode);
      sms.releaseAnswers();
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('王淑珍'), 10_000);

      for (const node of [a, b]) {
        const down = await waitFor(`${node === a ? 'node A' : 'node B'} to answer 503`, async () => {
          const h = await health(node);
          return h.status === 503 ? h : null;
        });
        expect(down.components.database).toMatchObject({ engine: 'postgresql', status: 'down' });
      }

      // Due while nobody can claim it.
      clock.advance(180_000);

      let acked = false;
      const puback = onA.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 7 }), { qos: 1 }).then(() => {
        acked = true;
      });
      // The node could not record it: it refused the message by closing the connection (the device will resend it).
      await waitFor('node A to refuse the SOS it could not record', () => closes > 0, { timeoutMs: 30_000 });
      expect(acked).toBe(false);
      expect(pubacks.filter((p) => p.whileDown)).toEqual([]);

      // Both nodes are still running and still say why.
      for (const node of [a, b]) expect((await health(node)).status).toBe(503);

      databaseDown = false;
      await server.resume();
      for (const node of [a, b]) {
        await waitFor(`${node === a ? 'node A' : 'node B'} to answer 200 again`, async () => (await health(node)).status === 200, {
          timeoutMs: 20_000,
        });
      }

      await puback;
      expect(pubacks.filter((p) => p.whileDown)).toEqual([]);
      const sosRows = await queryRows<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM events WHERE device_id = 'btn-001' AND type = 'sos'",
      );
      expect(sosRows[0]?.n).toBe(1);
      const opened = await waitFor('the held SOS’s incident', async () =>
        (await incidents(b)).find((i) => i.resident === 'r-001' && i.state === 'open'),
      );
      expect((await incidents(a)).filter((i) => i.resident === 'r-001')).toHaveLength(1);
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('张桂兰'), 10_000);

      // The step that fell due during the outage fires once, from whichever node claims it first.
      await waitFor(
        'the second step of r-002’s incident paged',
        () => {
          // The manual clock runs timers (the step armed for "now", the nodes' 200 ms table reads) only when it is
          // moved: each probe moves it by one read interval, as real time would.
          clock.advance(200);
          return sms.messages().find((m) => m.to === W2 && m.body.includes('王淑珍'));
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      const r002 = (await incidents(a)).find((i) => i.resident === 'r-002');
      // The same incident: the crash took nothing of it (not reopened afresh, its escalation clock from zero).
      expect(r002?.id).toBe(before.id);
      expect(r002?.step).toBe(2);
      const secondPages = await queryRows<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM sms_messages WHERE incident_id = $1 AND to_phone = $2 AND body LIKE '%王淑珍%'",
        [r002?.id, W2],
      );
      expect(secondPages[0]?.n).toBe(1);

      // Both nodes listen again for timers and the live feed.
      for (const node of [a, b]) {
        await waitFor('the notices connection listening again', () => node.gateway.feedChannel?.state().listening === true, {
          timeoutMs: 15_000,
        });
      }
      expect(opened.id).toBeTruthy();
      expect(faults).toEqual([]);
    }, 120_000);
  }
});
