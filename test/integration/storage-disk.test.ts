// The database's disk side seen from outside: /healthz reports WAL syncs and a lost checkpoint thread, and alarms go on either way.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';

describe('database disk health', () => {
  let t: TestGateway;
  beforeEach(async () => {
    t = await startTestGateway();
  });
  afterEach(async () => {
    await t.stop();
  });

  const health = async () =>
    (await (await fetch(`${t.httpUrl}/healthz`)).json()) as { status: string; components: { database: Record<string, unknown> } };

  it('acknowledges an alarm only after its WAL sync, degrades /healthz when the checkpoint thread is lost, and still pages', async () => {
    const button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    try {
      const before = (await health()).components.database;
      expect(before).toMatchObject({ status: 'up', walSyncFailures: 0 });
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      // The PUBACK came after the event's sync: the count has moved by the time publishAsync resolved.
      expect(t.gateway.store.database.storageHealth().walSyncs).toBeGreaterThan(Number(before.walSyncs));
      await t.sms.waitForMessage((m) => m.to === W1);

      await t.gateway.store.database.checkpointer?.terminate();
      const degraded = await waitFor('the database degraded in /healthz', async () => {
        const h = await health();
        return h.components.database.status === 'degraded' ? h : null;
      });
      expect(degraded.status).toBe('degraded');
      expect(String(degraded.components.database.detail)).toMatch(/checkpoint thread lost/);

      // Resolve the first incident, then a new press opens and pages a new one: checkpoints now run in COMMIT.
      const [incident] = (await (
        await fetch(`${t.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
      ).json()) as { id: string }[];
      const resolved = await fetch(`${t.httpUrl}/api/incidents/${incident?.id ?? ''}/resolve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ note: 'test' }),
      });
      expect(resolved.status).toBe(200);
      const paged = t.sms.messages().filter((m) => m.to === W1).length;
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 2 }), { qos: 1 });
      await waitFor('a second page to W1', () => t.sms.messages().filter((m) => m.to === W1).length > paged + 1 || null);
      expect(t.gateway.store.database.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    } finally {
      await button.endAsync();
    }
  });
});
