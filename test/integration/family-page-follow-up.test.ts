// The family's step-1 pages leave in a transaction after the responder's: never lost if the node stops between the two, never sent twice.
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const SON = '+8613800000001';
const DAUGHTER = '+8613800000002';

describe('the family page after the first page, on SQLite', () => {
  let t: TestGateway | null = null;
  let button: MqttClient | null = null;
  let seq = 0;

  afterEach(async () => {
    await button?.endAsync(true);
    button = null;
    await t?.stop();
    t = null;
  });

  const api = async <T>(g: TestGateway, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${g.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const familyRows = async (g: TestGateway, incidentId: string) =>
    (await g.gateway.store.sms.listForIncident(incidentId)).filter((m) => m.role === 'family');

  /** A restart of the gateway, a minute on: the family still holds its two pages (the son's and the daughter's), no more. */
  const expectNoFamilyPageAfterRestart = async (g: TestGateway, incidentId: string, clock: ManualClock): Promise<void> => {
    await button?.endAsync(true);
    button = null;
    const again = (t = await g.restart());
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect((await familyRows(again, incidentId)).filter((m) => m.purpose === 'page')).toHaveLength(2);
  };

  /** btn-001 presses SOS on a gateway whose follow-up never runs (as if the process stopped right after the first commit). */
  const pressAndStopBeforeFamily = async (clock: ManualClock): Promise<{ g: TestGateway; incident: IncidentView }> => {
    const g = (t = await startTestGateway({ clock }));
    g.gateway.timers.fireNow = () => Promise.resolve();
    button = await connectDevice(g.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    await g.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    const incident = await waitFor('the open incident', async () => (await api<IncidentView[]>(g, '/api/incidents')).body[0]);
    expect(await familyRows(g, incident.id)).toEqual([]);
    return { g, incident };
  };

  it('pages the family once after a restart when the process stopped between the two commits', async () => {
    const clock = new ManualClock(shanghaiLast(4, 10));
    const { g, incident } = await pressAndStopBeforeFamily(clock);
    await button?.endAsync(true);
    button = null;
    const again = (t = await g.restart());
    // The family's timer was due at once: the restart arms it with no delay.
    clock.advance(0);
    await again.sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
    await again.sms.waitForMessage((m) => m.to === DAUGHTER && m.body.includes('回1'));
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 200));
    const rows = await familyRows(again, incident.id);
    expect(rows.map((m) => [m.to, m.purpose]).sort()).toEqual(
      [
        [DAUGHTER, 'page'],
        [DAUGHTER, 'page_link'],
        [SON, 'page'],
        [SON, 'page_link'],
      ].sort(),
    );
    // Step 1 itself is not run again: the worker holds one page.
    expect((await again.gateway.store.sms.listForIncident(incident.id)).filter((m) => m.to === W1 && m.purpose === 'page')).toHaveLength(1);
    // The trail says when the family was paged, once, after step 1's `paged`.
    const actions = (await again.gateway.store.incidents.listAudit(incident.id)).map((e) => e.action);
    expect(actions.filter((a) => a === 'family_paged')).toHaveLength(1);
    expect(actions.indexOf('family_paged')).toBeGreaterThan(actions.indexOf('paged'));
  });

  it('pages the family first, once, when the worker acknowledges before the follow-up ran, then tells them who is coming', async () => {
    const clock = new ManualClock(shanghaiLast(4, 10));
    const { g, incident } = await pressAndStopBeforeFamily(clock);
    const ack = await api<{ state: string }>(g, `/api/incidents/${incident.id}/ack`, {
      method: 'POST',
      body: JSON.stringify({ by: '值班员小刘' }),
    });
    expect(ack.status).toBe(200);
    const rows = await familyRows(g, incident.id);
    // The page says what step 1 would have said (who was paged), and comes before the notice of who is coming.
    const son = rows.filter((m) => m.to === SON).map((m) => m.purpose);
    expect(son).toEqual(['page', 'page_link', 'notice']);
    const sonPage = await g.sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
    expect(sonPage.body).toContain('李明');
    const actions = (await g.gateway.store.incidents.listAudit(incident.id)).map((e) => e.action);
    expect(actions.slice(actions.indexOf('paged'))).toEqual(['paged', 'family_paged', 'acknowledged']);
    // The restarted node finds nothing left to send the family.
    await expectNoFamilyPageAfterRestart(g, incident.id, clock);
  });

  it('pages the family before the all-clear when the incident is resolved before the follow-up ran, and never after', async () => {
    const clock = new ManualClock(shanghaiLast(4, 10));
    const { g, incident } = await pressAndStopBeforeFamily(clock);
    const resolved = await api<{ state: string }>(g, `/api/incidents/${incident.id}/resolve`, { method: 'POST', body: '{}' });
    expect(resolved.status).toBe(200);
    const son = (await familyRows(g, incident.id)).filter((m) => m.to === SON).map((m) => m.purpose);
    expect(son).toEqual(['page', 'page_link', 'notice']);
    await expectNoFamilyPageAfterRestart(g, incident.id, clock);
  });
});
