// The whole gateway on PostgreSQL (DATABASE_URL): an SOS acknowledged only once stored, paged and answered; a restart resuming escalation; a dead database.
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import {
  API_TOKEN,
  SIM_SID,
  SIM_TOKEN,
  connectDevice,
  startPostgresTestGateway,
  startTestGateway,
  type TestGateway,
} from '../helpers/gateway.js';
import { PostgresFixture, PostgresServer } from '../helpers/postgres.js';
import { expectDeadDatabaseUrlRefused } from '../helpers/postgres-refusal.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';

describe('the gateway on PostgreSQL', () => {
  let pgFixture: PostgresFixture;
  let t: TestGateway<Gateway> | null = null;
  let button: MqttClient | null = null;
  let seq = 0;

  beforeAll(async () => {
    pgFixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await pgFixture.stop();
  });
  afterEach(async () => {
    await button?.endAsync();
    button = null;
    await t?.stop();
    t = null;
  });

  const api = async <T>(g: { httpUrl: string }, path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${g.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    });
    expect(res.status, path).toBeLessThan(300);
    return (await res.json()) as T;
  };
  const sos = (client: MqttClient) => client.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
  const openIncident = (g: { httpUrl: string }) =>
    waitFor('an open incident of r-001', async () =>
      (await api<IncidentView[]>(g, '/api/incidents')).find((i) => i.resident === 'r-001' && i.state !== 'resolved'),
    );

  it('takes an SOS end to end: PUBACK only after the event is committed, the incident opened, the worker paged, "1" acknowledges', async () => {
    const url = await pgFixture.freshUrl();
    const g = (t = await startPostgresTestGateway(url, { clock: new ManualClock(shanghaiLast(4, 10)) }));
    button = await connectDevice(g.mqttUrl, 'btn-001', 's3cret-btn-001');

    // Another session holds a lock that lets nobody insert into events: the alarm cannot be committed until it lets go.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE events IN SHARE MODE');
      let acked = false;
      const puback = sos(button).then(() => (acked = true));
      await new Promise((r) => setTimeout(r, 400));
      expect(acked).toBe(false);
      expect((await blocker.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'sos'")).rows[0]?.n).toBe(0);
      await blocker.query('COMMIT');
      await puback;
      const rows = await blocker.query<{ device_id: string }>("SELECT device_id FROM events WHERE type = 'sos'");
      expect(rows.rows.map((r) => r.device_id)).toEqual(['btn-001']);
    } finally {
      await blocker.end();
    }

    const incident = await openIncident(g);
    expect(incident.state).toBe('open');
    await g.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    const res = await g.sms.reply(W1, '1', { webhookUrl: `${g.publicUrl}/webhooks/twilio/sms` });
    expect(res.status).toBe(200);
    await waitFor('acknowledged', async () => (await api<IncidentView>(g, `/api/incidents/${incident.id}`)).state === 'acknowledged');
    const health = await fetch(`${g.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { components: { database: unknown } }).components.database).toMatchObject({
      engine: 'postgresql',
      status: 'up',
    });
  });

  it('resumes an open incident’s escalation after a restart on the same database', async () => {
    const url = await pgFixture.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
    try {
      const first = await startPostgresTestGateway(url, { clock, sms });
      button = await connectDevice(first.mqttUrl, 'btn-001', 's3cret-btn-001');
      await sos(button);
      const incident = await openIncident(first);
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      await button.endAsync();
      button = null;
      await first.stop({ keep: true });

      const g = (t = await startPostgresTestGateway(url, { clock, sms }));
      expect((await openIncident(g)).id).toBe(incident.id);
      clock.advance(180_000);
      const next = await sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
      expect(next.body).toContain('仍无人接');
      expect((await api<IncidentView>(g, `/api/incidents/${incident.id}`)).step).toBe(2);
    } finally {
      await t?.stop();
      t = null;
      await sms.stop();
    }
  });

  it('answers /healthz 503 with the database down while PostgreSQL is stopped', async () => {
    const server = await PostgresServer.start();
    let stopped = false;
    try {
      const g = (t = await startPostgresTestGateway(await server.createDatabase('care')));
      // No keep-alive socket left idle across the server's stop: the HTTP server may close it just as it is reused.
      const before = await fetch(`${g.httpUrl}/healthz`, { headers: { connection: 'close' } });
      expect(before.status).toBe(200);
      await server.stop();
      stopped = true;
      const after = await fetch(`${g.httpUrl}/healthz`);
      expect(after.status).toBe(503);
      expect(((await after.json()) as { components: { database: unknown } }).components.database).toMatchObject({
        engine: 'postgresql',
        status: 'down',
      });
    } finally {
      await t?.stop();
      t = null;
      if (!stopped) await server.stop();
    }
  });

  it('fails to start with one line naming DATABASE_URL, the password hidden, when nothing answers there', async () => {
    await expectDeadDatabaseUrlRefused((url) => startPostgresTestGateway(url));
  });

  it('names SQLite as the engine in /healthz when DATABASE_URL is not set', async () => {
    const g = (t = await startTestGateway());
    const body = (await (await fetch(`${g.httpUrl}/healthz`)).json()) as { components: { database: unknown } };
    expect(body.components.database).toMatchObject({ engine: 'sqlite', status: 'up' });
  });
});
