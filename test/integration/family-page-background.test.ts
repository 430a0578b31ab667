// On PostgreSQL the family's deferred page runs beside the next batch of alarms instead of ahead of it: another resident's alarm is paged while the family's transaction is held, a second alarm of the same resident waits for it, and the family page is not lost.
import pg from 'pg';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { connectDevice, startPostgresTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PostgresFixture, queryRows } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const SON = '+8613800000001';
/** The advisory lock (two-key form, apart from the gateway's one-key locks) the family's audit INSERT must take. */
const HOLD = [915, 42] as const;

describe('the family page beside the next alarms, on PostgreSQL', () => {
  let pgFixture: PostgresFixture;
  const clients: MqttClient[] = [];
  let gateway: TestGateway<Gateway> | null = null;
  let holder: pg.Client | null = null;

  beforeAll(async () => {
    pgFixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await pgFixture.stop();
  });
  afterEach(async () => {
    await holder?.end();
    holder = null;
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await gateway?.stop();
    gateway = null;
  });

  const press = async (g: TestGateway<Gateway>, device: string, seq: number): Promise<void> => {
    const button = await connectDevice(g.mqttUrl, device, `s3cret-${device}`);
    clients.push(button);
    await button.publishAsync(`care/v1/${device}/event`, JSON.stringify({ type: 'sos', seq }), { qos: 1 });
  };
  const actions = async (url: string, resident: string): Promise<string[]> =>
    (
      await queryRows<{ action: string }>(
        url,
        'SELECT a.action FROM audit_log a JOIN incidents i ON i.id = a.incident_id WHERE i.resident_id = $1 ORDER BY a.id',
        [resident],
      )
    ).map((r) => r.action);

  it("pages another resident's alarm while the family's transaction is held, and keeps each incident's order", async () => {
    const url = await pgFixture.freshUrl();
    const g = (gateway = await startPostgresTestGateway(url, { clock: new ManualClock(shanghaiLast(4, 10)) }));
    // The family's page (its `family_paged` audit entry) waits on a lock this test holds: a slow transaction, for real.
    holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query(`
      CREATE FUNCTION hold_family_page() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock(${HOLD[0]}, ${HOLD[1]}); RETURN NEW; END $$;
      CREATE TRIGGER hold_family_page BEFORE INSERT ON audit_log FOR EACH ROW
        WHEN (NEW.action = 'family_paged') EXECUTE FUNCTION hold_family_page();`);
    await holder.query('SELECT pg_advisory_lock($1, $2)', [...HOLD]);

    await press(g, 'btn-001', 1);
    await g.sms.waitForMessage((m) => m.to === W1 && m.body.includes('张桂兰'));
    await waitFor('the family page to wait on the lock', async () => {
      const rows = await queryRows<{ n: string }>(
        url,
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2",
        [...HOLD],
      );
      return Number(rows[0]?.n) === 1;
    });

    // Another resident's alarm is paged while the family's transaction is still open.
    await press(g, 'btn-002', 1);
    await g.sms.waitForMessage((m) => m.to === W1 && m.body.includes('王淑珍'));
    expect(g.sms.messages().filter((m) => m.to === SON)).toEqual([]);

    // The same resident presses again: that alarm waits for the family's page, so it cannot join before it.
    await press(g, 'btn-001', 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await actions(url, 'r-001')).not.toContain('signal_joined');

    await holder.query('SELECT pg_advisory_unlock($1, $2)', [...HOLD]);
    await g.sms.waitForMessage((m) => m.to === SON && m.body.includes('张桂兰'));
    await waitFor('the second press to join', async () => (await actions(url, 'r-001')).includes('signal_joined'));
    const trail = await actions(url, 'r-001');
    expect(trail.indexOf('family_paged')).toBeGreaterThan(-1);
    expect(trail.indexOf('family_paged')).toBeLessThan(trail.indexOf('signal_joined'));
    await g.gateway.processor.idle();
    expect(g.sms.messages().filter((m) => m.to === SON && m.body.includes('回1'))).toHaveLength(1);
  });
});
