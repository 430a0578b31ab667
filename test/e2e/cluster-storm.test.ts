// An SOS storm on three `npm start` nodes behind HAProxy, two of them SIGKILLed in turn: no acknowledged alarm lost, none doubled, escalation goes on from the survivors once per step.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchRegistryDoc, type AlarmButton } from '../../bench/lib/registry.js';
import { ClusterRig } from '../helpers/cluster.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const RESIDENTS = 500;
const SECRET = 'storm-button-secret-0123456789';
/** SOS per second across all buttons, each button in turn. */
const RATE = 20;
/** A short ack timeout: step 2 of every incident comes due while the test runs (each step pages once per incident). */
const ACK_TIMEOUT_S = 20;

/** One button as it runs in the field: a persistent session, quick reconnects, its own sequence numbers. */
class Button {
  seq = 0;
  /** seq → acknowledged (PUBACK) or not yet. */
  readonly sent = new Map<number, boolean>();
  connects = 0;

  constructor(
    readonly device: AlarmButton,
    readonly client: MqttClient,
  ) {
    client.on('connect', () => this.connects++);
    client.on('error', () => undefined);
  }

  sos(): void {
    const seq = ++this.seq;
    this.sent.set(seq, false);
    // mqtt.js keeps an unacknowledged QoS 1 message and sends it again after a reconnect, until its PUBACK.
    this.client.publish(`care/v1/${this.device.id}/event`, JSON.stringify({ type: 'sos', seq }), { qos: 1 }, (err) => {
      if (!err) this.sent.set(seq, true);
    });
  }

  unacked(): number {
    return [...this.sent.values()].filter((acked) => !acked).length;
  }
}

function connectButton(url: string, device: AlarmButton): Promise<Button> {
  const client = mqtt.connect(url, {
    clientId: device.id,
    username: device.id,
    password: device.secret,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 200,
    connectTimeout: 10_000,
    keepalive: 30,
  });
  const button = new Button(device, client);
  return new Promise<Button>((resolve, reject) => {
    client.once('connect', () => resolve(button));
    client.once('offline', () => reject(new Error(`${device.id} could not connect through HAProxy`)));
  });
}

describe('an SOS storm on a three-node cluster, two nodes killed in turn', () => {
  let rig: ClusterRig;
  let db: pg.Client;
  const dir = tempDir('care-gw-storm-');
  const buttons: Button[] = [];

  beforeAll(async () => {
    const { doc, buttons: devices } = benchRegistryDoc({ residents: RESIDENTS, sensors: 0, secretOf: () => SECRET });
    doc.escalation = { ...doc.escalation, ackTimeoutSeconds: ACK_TIMEOUT_S };
    const registryFile = join(dir.path, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(doc));
    rig = await ClusterRig.start({ registryFile, heartbeatMs: 500, logDir: process.env.STORM_LOG_DIR ?? join(dir.path, 'logs') });
    db = new pg.Client({ connectionString: rig.databaseUrl });
    await db.connect();
    for (let i = 0; i < devices.length; i += 50)
      buttons.push(...(await Promise.all(devices.slice(i, i + 50).map((d) => connectButton(rig.mqttUrl, d)))));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(buttons.map((b) => b.client.endAsync(true)));
    await db?.end();
    await rig?.stop();
    dir.remove();
  });

  const rows = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await db.query<T>(sql, params)).rows;
  /** The devices Redis's presence hash lists under `node`. */
  const devicesOn = async (node: string): Promise<Set<string>> => {
    const r = rig.redis.client();
    try {
      const all = await r.hgetall('care:presence');
      return new Set(Object.entries(all).flatMap(([id, v]) => ((JSON.parse(v) as { node: string }).node === node ? [id] : [])));
    } finally {
      await r.quit();
    }
  };

  it('loses no acknowledged alarm, opens one incident per resident, pages each, and escalates each step once from the survivors', async () => {
    // The storm: RATE alarms a second, button after button, until stopped.
    let next = 0;
    let alarms = 0;
    const storm = setInterval(() => {
      for (let k = 0; k < RATE / 5; k++) {
        buttons[next++ % buttons.length]!.sos();
        alarms++;
      }
    }, 200);
    const stormedFor = (n: number) => waitFor(`${n} alarms sent`, () => alarms >= n, { timeoutMs: 60_000, intervalMs: 50 });

    const kills: { node: string; at: number; held: Set<string> }[] = [];
    try {
      await stormedFor(100);
      const kill = async (index: number): Promise<void> => {
        const node = rig.node(index);
        const held = await devicesOn(node.id);
        expect(held.size).toBeGreaterThan(0);
        const at = Date.now();
        expect((await rig.kill(index)).signal).toBe('SIGKILL');
        kills.push({ node: node.id, at, held });
      };
      await kill(1);
      await rig.restart(1);
      await stormedFor(alarms + 100);
      await kill(2);
      await stormedFor(alarms + 100);
    } finally {
      clearInterval(storm);
    }
    // Every alarm a button sent ends acknowledged: those in flight at a kill are resent after the reconnect.
    const waiting = () =>
      buttons
        .filter((b) => b.unacked() > 0)
        .map(
          (b) => `${b.device.id} (${b.unacked()} unacked, ${b.client.connected ? 'connected' : 'disconnected'}, ${b.connects} connects)`,
        );
    await waitFor(
      () => `every alarm acknowledged; still waiting: ${waiting().slice(0, 12).join(', ')}`,
      () => buttons.every((b) => b.unacked() === 0),
      { timeoutMs: 180_000, intervalMs: 100 },
    );
    // The survivors never went down with the dead (a replayed will, a lost Redis peer…).
    expect(rig.node(1).running && rig.node(3).running).toBe(true);
    const acked = buttons.flatMap((b) => [...b.sent.keys()].map((seq) => `${b.device.id}#${seq}`));
    expect(acked).toHaveLength(alarms);

    // Every acknowledged alarm is recorded once, and acted on (also those a killed node had recorded but not yet acted on).
    type EventRow = { id: string; device_id: string; seq: string; session: string | null; processed: boolean; incident_id: string | null };
    const events = async () =>
      rows<EventRow>(
        `SELECT e.id, e.device_id, e.seq, e.session, e.processed, s.incident_id FROM events e
           LEFT JOIN incident_signals s ON s.event_id = e.id WHERE e.type = 'sos'`,
      );
    let left: EventRow[] = [];
    const settled = await waitFor(
      () => `every alarm acted on; ${left.length} left, e.g. ${JSON.stringify(left.slice(0, 5))}`,
      async () => {
        const all = await events();
        left = all.filter((e) => !e.processed || !e.incident_id);
        return left.length === 0 ? all : null;
      },
      // Progress, not speed: on a loaded host the three nodes may need a while to work through the storm.
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    // Each event belongs to one incident.
    expect(new Set(settled.map((e) => e.id)).size).toBe(settled.length);
    const recorded = new Map<string, EventRow[]>();
    for (const e of settled) recorded.set(`${e.device_id}#${e.seq}`, [...(recorded.get(`${e.device_id}#${e.seq}`) ?? []), e]);
    expect(acked.filter((k) => !recorded.has(k))).toEqual([]);
    expect(recorded.size).toBe(acked.length);
    // mqtt.js resends an unacknowledged alarm on its new connection without the DUP flag, which the gateway cannot tell
    // from a rebooted button reusing its seq: it counts as a second press of the same incident, never on the same session.
    const resent = [...recorded.values()].filter((same) => same.length > 1);
    expect(resent.filter((same) => new Set(same.map((e) => e.session)).size !== same.length)).toEqual([]);

    // One incident per resident who pressed, holding all of that resident's alarms; each paged its first responder.
    type IncidentRow = { id: string; code: string; resident_id: string; plan: string; opened_at: string; state: string };
    const incidents = await rows<IncidentRow>('SELECT id, code, resident_id, plan, opened_at, state FROM incidents');
    const byResident = new Map(incidents.map((i) => [i.resident_id, i]));
    expect(byResident.size).toBe(incidents.length);
    expect(incidents.length).toBe(new Set(settled.map((e) => e.device_id)).size);
    const residentOf = new Map(buttons.map((b) => [b.device.id, b.device]));
    for (const e of settled) expect(byResident.get(residentOf.get(e.device_id)!.residentId)?.id).toBe(e.incident_id);
    // A page is handed to the provider after its incident commits, from the outbox: it may trail the incident.
    const unpaged = () => {
      const sent = rig.sms.messages();
      return incidents.filter((i) => {
        const first = (JSON.parse(i.plan) as { responders: { phone: string }[] }).responders[0];
        const name = [...residentOf.values()].find((d) => d.residentId === i.resident_id)!.residentName;
        return !sent.some((m) => m.to === first?.phone && m.body.includes(name));
      });
    };
    await waitFor(
      () =>
        `every incident's first responder paged; not yet: ${unpaged()
          .slice(0, 10)
          .map((i) => i.code)
          .join(', ')}`,
      () => unpaged().length === 0,
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const sms = rig.sms.messages();

    // Escalation: step 2 of every incident comes due; it fires once, wherever the incident was opened.
    type StepRow = { incident_id: string; step: number; at: string; n: number };
    const steps = async () =>
      rows<StepRow>(
        `SELECT incident_id, (detail::jsonb ->> 'step')::int AS step, min(at)::text AS at, count(*)::int AS n
           FROM audit_log WHERE action IN ('paged', 'unassigned') GROUP BY 1, 2`,
      );
    const escalated = await waitFor(
      'step 2 of every incident',
      async () => {
        const all = await steps();
        const second = new Set(all.filter((s) => s.step === 2).map((s) => s.incident_id));
        return incidents.every((i) => second.has(i.id)) ? all : null;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(escalated.filter((s) => s.n !== 1)).toEqual([]);
    const pagesPerStep = await rows<{ incident_id: string; step: number; n: number }>(
      `SELECT incident_id, step, count(*)::int AS n FROM sms_messages
        WHERE purpose = 'page' AND role IS DISTINCT FROM 'family' GROUP BY 1, 2 HAVING count(*) <> 1`,
    );
    expect(pagesPerStep).toEqual([]);
    // Incidents of the buttons a killed node held, opened before it died: their escalation goes on from the survivors.
    for (const k of kills) {
      const orphans = incidents.filter((i) => {
        const device = buttons.find((b) => b.device.residentId === i.resident_id)!.device.id;
        return k.held.has(device) && Number(i.opened_at) < k.at;
      });
      expect(orphans.length, `incidents of buttons on ${k.node} opened before its death`).toBeGreaterThan(0);
      const stepAfter = async () =>
        new Set(
          (
            await rows<{ incident_id: string }>("SELECT DISTINCT incident_id FROM audit_log WHERE action = 'paged' AND at > $1", [k.at])
          ).map((r) => r.incident_id),
        );
      await waitFor(
        `a step after ${k.node}'s death for each of its ${orphans.length} incidents`,
        async () => {
          const later = await stepAfter();
          return orphans.every((i) => later.has(i.id));
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
    }
    expect((await steps()).filter((s) => s.n !== 1)).toEqual([]);
    console.log(
      `storm: ${alarms} alarms from ${buttons.length} buttons (${resent.length} resent on a new connection), ${incidents.length} incidents, ${sms.length} SMS, ` +
        `reconnects ${buttons.reduce((n, b) => n + b.connects - 1, 0)}, kills ${kills.map((k) => `${k.node} held ${k.held.size}`).join(', ')}`,
    );
  }, 900_000);
});
