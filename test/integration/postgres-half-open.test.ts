// A network cut between a node and PostgreSQL (no reset, nothing answers): the alarm's commit fails within the query bound, /healthz is 503, no PUBACK for an unrecorded alarm, and the node recovers when the network does.
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectOnlineDevice, nodeHealth, startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { Gateway } from '../../gateway/app.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { PostgresFixture, queryRows } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/** The node's bound on one round trip to PostgreSQL in this test (the default is 5 s). */
const BOUND_MS = 2000;
/** What a loaded two-core host may add to the bound before the node acts on it. */
const SLACK_MS = 3000;

describe('a half-open connection to PostgreSQL (a network cut, no reset)', () => {
  let pgFixture: PostgresFixture;
  let proxy: CuttableProxy;
  let node: TestGateway<Gateway> | null = null;
  const clients: MqttClient[] = [];
  const faults: unknown[] = [];
  const onFault = (reason: unknown): void => void faults.push(reason);

  beforeAll(async () => {
    pgFixture = await PostgresFixture.start();
    proxy = await CuttableProxy.start(pgFixture.server.port);
    process.on('unhandledRejection', onFault);
    process.on('uncaughtException', onFault);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onFault);
    process.off('uncaughtException', onFault);
    await proxy.stop();
    await pgFixture.stop();
  });
  afterEach(async () => {
    proxy.mend();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await node?.stop();
    node = null;
  });

  it('fails the SOS commit within the bound, answers 503, sends no PUBACK for it, and records it once the network is back', async () => {
    const url = await pgFixture.freshUrl();
    node = await startPostgresTestGateway(proxy.urlFor(url), { sharedWork: { queryTimeoutMs: BOUND_MS } });
    const started = node;
    expect((await nodeHealth(started)).status).toBe(200);
    const device = await connectOnlineDevice(started.mqttUrl, 'btn-001', 's3cret-btn-001', {
      reconnectPeriod: 200,
      reconnectOnConnackError: true,
    });
    clients.push(device);
    await device.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });

    let cut = false;
    const pubacksWhileCut: Packet[] = [];
    device.on('packetreceive', (packet: Packet) => {
      if (packet.cmd === 'puback' && cut) pubacksWhileCut.push(packet);
    });
    let refusedAt: number | null = null;
    device.on('close', () => (refusedAt ??= Date.now()));

    cut = true;
    proxy.cutOff();
    const sentAt = Date.now();
    let acked = false;
    const puback = device.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 2 }), { qos: 1 }).then(() => {
      acked = true;
    });

    // The commit waits on a connection that answers nothing: it fails at the bound, and the node refuses the message
    // by closing the device's connection (the device keeps it and sends it again).
    const refused = await waitFor('node to refuse the SOS it could not record', () => refusedAt, { timeoutMs: 4 * BOUND_MS + SLACK_MS });
    expect(refused - sentAt).toBeLessThan(BOUND_MS + SLACK_MS);
    expect(acked).toBe(false);

    // /healthz answers (it does not hang on the cut connection), and says the alarms cannot be recorded.
    const askedAt = Date.now();
    const down = await nodeHealth(started);
    expect(Date.now() - askedAt).toBeLessThan(BOUND_MS + SLACK_MS);
    expect(down.status).toBe(503);
    expect(down.components.database).toMatchObject({ engine: 'postgresql' });
    expect(down.components.database.status).not.toBe('up');

    // Still cut after a while: still no PUBACK, and the alarm is not in the database (asked directly, not via the proxy).
    await new Promise((resolve) => setTimeout(resolve, BOUND_MS));
    expect(pubacksWhileCut).toEqual([]);
    const sos = (): Promise<{ n: number }[]> =>
      queryRows<{ n: number }>(url, "SELECT count(*)::int AS n FROM events WHERE device_id = 'btn-001' AND type = 'sos'");
    expect((await sos())[0]?.n).toBe(1);

    cut = false;
    proxy.mend();
    await waitFor('the node to answer 200 again', async () => (await nodeHealth(started)).status === 200, { timeoutMs: 20_000 });
    await puback;
    expect((await sos())[0]?.n).toBe(2);
    expect(pubacksWhileCut).toEqual([]);
    expect(faults).toEqual([]);
  }, 60_000);
});
