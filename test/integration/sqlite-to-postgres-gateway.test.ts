// Moving a real installation: a gateway on SQLite takes an SOS (paged, answered), a visit check-in, a sign-in and a second SOS left open; after the move a gateway on PostgreSQL shows the same, signs the admin in, and escalates the open incident.
import type { MqttClient } from 'mqtt';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferSqliteToPostgres } from '../../gateway/backup/sqlite-to-postgres.js';
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
import { PostgresFixture } from '../helpers/postgres.js';
import { cookieOf, login } from '../helpers/sessions.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';
const V01 = '+8613700000001';
const ADMIN = { username: 'admin', password: 'correct horse battery' };

interface Occurrence {
  visit: string;
  status: string;
}

describe('moving a SQLite installation to PostgreSQL', () => {
  let pgFixture: PostgresFixture;
  beforeAll(async () => {
    pgFixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await pgFixture.stop();
  });

  it('keeps incidents, pages, audit, visits and accounts, and the open incident escalates on the PostgreSQL gateway', async () => {
    // A Thursday 10:30 in Asia/Shanghai: vis-01 (王奶奶 → 张桂兰) is at 11:00 on Tuesdays and Thursdays.
    const clock = new ManualClock(shanghaiLast(4, 10, 30));
    const day = new Date(clock.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
    let first: TestGateway | null = null;
    let second: TestGateway<Gateway> | null = null;
    const devices: MqttClient[] = [];
    let dataDir: string | null = null;
    try {
      first = await startTestGateway({ clock, sms, env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password } });
      dataDir = first.dataDir;
      const g1 = first;
      const api = async <T>(g: { httpUrl: string }, path: string): Promise<T> => {
        const res = await fetch(`${g.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
        expect(res.status, path).toBe(200);
        return (await res.json()) as T;
      };
      const reply = (g: TestGateway<Gateway>, from: string, body: string) =>
        sms.reply(from, body, { webhookUrl: `${g.publicUrl}/webhooks/twilio/sms` });
      const sos = async (id: string, secret: string, seq: number): Promise<void> => {
        const device = await connectDevice(g1.mqttUrl, id, secret);
        devices.push(device);
        await device.publishAsync(`care/v1/${id}/event`, JSON.stringify({ type: 'sos', seq }), { qos: 1 });
      };
      const activeOf = (g: { httpUrl: string }, resident: string) =>
        waitFor(`an incident of ${resident}`, async () =>
          (await api<IncidentView[]>(g, '/api/incidents')).find((i) => i.resident === resident),
        );

      // Before the move: a sign-in, a visit check-in, an SOS answered with "1", and an SOS nobody has answered yet.
      const signIn = await login(g1.gateway.httpApp!, ADMIN.username, ADMIN.password);
      expect(signIn.statusCode).toBe(200);
      const cookie = cookieOf(signIn);
      expect((await reply(g1, V01, '到')).status).toBe(200);
      await waitFor(
        'checked in',
        async () =>
          (await api<Occurrence[]>(g1, `/api/visits?from=${day}&to=${day}`)).find((o) => o.visit === 'vis-01')?.status === 'checked_in',
      );
      await sos('btn-001', 's3cret-btn-001', 1);
      const answered = await activeOf(g1, 'r-001');
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      expect((await reply(g1, W1, '1')).status).toBe(200);
      await waitFor('acknowledged', async () => (await api<IncidentView>(g1, `/api/incidents/${answered.id}`)).state === 'acknowledged');
      await sos('btn-002', 's3cret-btn-002', 1);
      const open = await activeOf(g1, 'r-002');
      await waitFor(
        'the open incident paged',
        async () => ((await api<IncidentView>(g1, `/api/incidents/${open.id}`)).pages ?? []).length > 0,
      );
      // Delivery receipts arrive on their own: the snapshot is taken once every page has its final status.
      await waitFor('every page delivered', async () =>
        (await Promise.all([answered.id, open.id].map((id) => api<IncidentView>(g1, `/api/incidents/${id}`)))).every((i) =>
          (i.pages ?? []).every((p) => p.status === 'delivered'),
        ),
      );
      const before = {
        incidents: await api<IncidentView[]>(g1, '/api/incidents'),
        answered: await api<IncidentView>(g1, `/api/incidents/${answered.id}`),
        open: await api<IncidentView>(g1, `/api/incidents/${open.id}`),
      };
      expect(before.open.state).toBe('open');
      for (const d of devices.splice(0)) await d.endAsync();
      await first.stop({ keep: true });
      first = null;

      const url = await pgFixture.freshUrl();
      const moved = await transferSqliteToPostgres({ sqliteFile: join(dataDir, 'gateway.db'), databaseUrl: url });
      const counts = Object.fromEntries(moved.copied.map((c) => [c.table, c.rows]));
      expect(counts.incidents).toBe(2);
      expect(counts.sessions).toBeGreaterThan(0);
      expect(counts.visit_occurrences).toBeGreaterThan(0);

      // The PostgreSQL gateway keeps DATA_DIR for its local state (the link secret); no ADMIN_* this time: the account must come across.
      second = await startPostgresTestGateway(url, { clock, sms, dataDir });
      const g2 = second;
      expect(await api<IncidentView[]>(g2, '/api/incidents')).toEqual(before.incidents);
      expect(await api<IncidentView>(g2, `/api/incidents/${answered.id}`)).toEqual(before.answered);
      expect(await api<IncidentView>(g2, `/api/incidents/${open.id}`)).toEqual(before.open);
      expect((await api<Occurrence[]>(g2, `/api/visits?from=${day}&to=${day}`)).find((o) => o.visit === 'vis-01')?.status).toBe(
        'checked_in',
      );
      const app = g2.gateway.httpApp!;
      expect((await app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode).toBe(200);
      expect((await login(app, ADMIN.username, ADMIN.password)).statusCode).toBe(200);

      clock.advance(180_000);
      const next = await sms.waitForMessage((m) => m.to === W2 && m.body.includes('仍无人接'));
      expect(next.body).toContain('回1');
      expect((await api<IncidentView>(g2, `/api/incidents/${open.id}`)).step).toBe(2);
    } finally {
      for (const d of devices) await d.endAsync();
      await first?.stop({ keep: true });
      await second?.stop();
      await sms.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
