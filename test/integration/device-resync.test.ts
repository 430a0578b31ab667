// A device's view of its resident's incident is restored from the store when its session starts: real aedes, mqtt.js, SQLite, restarts.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/core/logger.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { API_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectPendant, type Pendant } from '../helpers/pendant.js';
import { waitFor } from '../helpers/wait.js';

const BTN1 = { id: 'btn-001', secret: 's3cret-btn-001' };
const BTN2 = { id: 'btn-002', secret: 's3cret-btn-002' };
const HOUR = 3_600_000;

describe('device state restored at session start', () => {
  let t: TestGateway;
  let clock: ManualClock;
  const pendants: Pendant[] = [];

  beforeEach(async () => {
    clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock });
  });
  afterEach(async () => {
    await Promise.all(pendants.splice(0).map((p) => p.client.endAsync(true)));
    await t.stop();
  });

  const pendant = async (who: { id: string; secret: string }, opts: { clean?: boolean; subscribe?: boolean } = {}) => {
    const p = await connectPendant(t.mqttUrl, who.id, who.secret, opts);
    pendants.push(p);
    return p;
  };
  const away = async (p: Pendant) => {
    pendants.splice(pendants.indexOf(p), 1);
    await p.end();
  };
  const post = async (path: string): Promise<void> => {
    const res = await fetch(`${t.httpUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
  };
  const activeIncidentOf = async (resident: string): Promise<IncidentView> =>
    waitFor(`an open incident for ${resident}`, async () => {
      const res = await fetch(`${t.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      return ((await res.json()) as IncidentView[]).find((i) => i.resident === resident && i.state === 'open');
    });
  /** An SOS from the pendant, answered by `alarm_received`; returns the incident. */
  const raise = async (p: Pendant, resident: string): Promise<IncidentView> => {
    const before = p.commands.length;
    await p.press();
    const incident = await activeIncidentOf(resident);
    await p.received(before + 1, `alarm_received on ${p.id}`);
    return incident;
  };

  it('restores "help is coming" after a gateway restart lost the queued command of a device that was away', async () => {
    const p = await pendant(BTN1, { clean: false });
    const incident = await raise(p, 'r-001');
    await away(p);
    // Acknowledged while the pendant is away: the command waits in its (in-memory) session, which the restart loses.
    await post(`/api/incidents/${incident.id}/ack`);
    t = await t.restart();

    const back = await pendant(BTN1, { clean: false });
    const [first] = await back.received(1);
    expect(first).toMatchObject({ type: 'responder_assigned', incident: incident.id, resync: true });
    expect(first).toHaveProperty('role');
    expect(typeof first?.responder).toBe('string');
  });

  it('tells a device that was away that the incident was resolved, once: a later session is not told again', async () => {
    const p = await pendant(BTN1);
    const incident = await raise(p, 'r-001');
    await away(p);
    clock.advance(60_000);
    await post(`/api/incidents/${incident.id}/resolve`);
    clock.advance(60_000);

    const back = await pendant(BTN1);
    expect((await back.received(1))[0]).toEqual({ type: 'resolved', incident: incident.id, outcome: 'resolved', resync: true });
    await t.gateway.deviceState.idle();
    clock.advance(60_000);
    await away(back);

    const again = await pendant(BTN1);
    await t.gateway.deviceState.idle();
    // A new alarm's command is the first thing this connection receives: nothing was re-sent before it.
    const next = await raise(again, 'r-001');
    expect(again.commands).toEqual([{ type: 'alarm_received', incident: next.id, state: 'open' }]);
  });

  it('does not tell a device of an incident that ended longer ago than the resync window', async () => {
    const p = await pendant(BTN1);
    const incident = await raise(p, 'r-001');
    await away(p);
    await post(`/api/incidents/${incident.id}/resolve`);
    clock.advance(13 * HOUR);

    const back = await pendant(BTN1);
    await t.gateway.deviceState.idle();
    const next = await raise(back, 'r-001');
    expect(back.commands).toEqual([{ type: 'alarm_received', incident: next.id, state: 'open' }]);
  });

  it('sends the active incident to its own resident’s devices only; a resident with no incident gets nothing', async () => {
    const p = await pendant(BTN1);
    const incident = await raise(p, 'r-001');
    await away(p);
    await post(`/api/incidents/${incident.id}/ack`);

    const other = await pendant(BTN2);
    const back = await pendant(BTN1);
    expect((await back.received(1))[0]).toMatchObject({ type: 'responder_assigned', incident: incident.id, resync: true });
    await t.gateway.deviceState.idle();
    // btn-002's resident (r-002) has no incident: the first command it receives is for its own new alarm.
    const own = await raise(other, 'r-002');
    expect(own.id).not.toBe(incident.id);
    expect(other.commands).toEqual([{ type: 'alarm_received', incident: own.id, state: 'open' }]);
  });

  it('re-sends a restored persistent session’s state too; the queued copy and the resync carry the same incident and type', async () => {
    const p = await pendant(BTN1, { clean: false });
    const incident = await raise(p, 'r-001');
    await away(p);
    await post(`/api/incidents/${incident.id}/ack`);

    // The session is still in the broker: the device does not subscribe again and gets its queued command, then the resync.
    const back = await pendant(BTN1, { clean: false, subscribe: false });
    const got = await back.received(2);
    expect(got.map((c) => [c.type, c.incident])).toEqual([
      ['responder_assigned', incident.id],
      ['responder_assigned', incident.id],
    ]);
    expect(got.filter((c) => c.resync === true)).toHaveLength(1);
  });

  it('cannot be triggered by another device or a client that is not let in', async () => {
    const p = await pendant(BTN1);
    const incident = await raise(p, 'r-001');
    await post(`/api/incidents/${incident.id}/ack`);
    await p.received(2, 'the live responder_assigned');

    // btn-002 asks for btn-001's commands (SUBACK 0x80); a wrong secret and an unknown id are refused at CONNECT.
    const other = await pendant(BTN2);
    await expect(other.client.subscribeAsync(`care/v1/${BTN1.id}/command`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(connectPendant(t.mqttUrl, BTN1.id, 'wrong-secret')).rejects.toThrow();
    await expect(connectPendant(t.mqttUrl, 'ghost-001', 'whatever')).rejects.toThrow();
    await t.gateway.deviceState.idle();

    // The next thing btn-001 hears is the live `resolved`: none of the above re-sent it anything.
    await post(`/api/incidents/${incident.id}/resolve`);
    const got = await p.received(3);
    expect(got.map((c) => c.type)).toEqual(['alarm_received', 'responder_assigned', 'resolved']);
    expect(got.some((c) => c.resync === true)).toBe(false);
  });

  it('logs a store failure during the resync and leaves the device connected and its alarms taken', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    await t.stop();
    t = await startTestGateway({ clock, log: createLogger({ level: 'warn', destination }) });
    // A real failure of the real store: the table the resync writes first is gone.
    t.gateway.store.database.db.exec('DROP TABLE device_session_starts');

    const p = await pendant(BTN1);
    await t.gateway.deviceState.idle();
    expect(lines.some((l) => l.includes('device state not re-sent at session start') && l.includes('device_session_starts'))).toBe(true);
    expect(p.client.connected).toBe(true);
    const incident = await raise(p, 'r-001');
    expect(p.commands).toEqual([{ type: 'alarm_received', incident: incident.id, state: 'open' }]);
  });
});
