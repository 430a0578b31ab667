// The whole alarm path in one process: real aedes + mqtt.js devices, SQLite, the twilio SDK against the local server, a manual clock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { shanghaiLast } from '../helpers/calendar.js';

/** A Thursday 10:00 in Shanghai (a weekday, inside the day shifts), the latest before today: recent, never in the future. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);

const W1 = '+8613900000001';
const W2 = '+8613900000002';
const W3 = '+8613900000003';
const STATION = '+8618200000001';
const SON = '+8613800000001';
const DAUGHTER = '+8613800000002';
const VOLUNTEER = '+8613700000001';

describe('core alarm path', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;
  let seq = 0;

  beforeEach(async () => {
    clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const press = async (client: MqttClient, deviceId: string, type = 'sos', extra: Record<string, unknown> = {}) => {
    await client.publishAsync(`care/v1/${deviceId}/event`, JSON.stringify({ type, seq: ++seq, ...extra }), { qos: 1 });
  };
  const smsTo = (phone: string) => t.sms.messages().filter((m) => m.to === phone);
  const incidents = async () => (await api<IncidentView[]>('/api/incidents')).body;
  const onlyIncident = async () => {
    const list = await incidents();
    expect(list).toHaveLength(1);
    return list[0]!;
  };
  const reply = (from: string, body: string) => t.sms.reply(from, body, { webhookUrl: `${t.publicUrl}/webhooks/twilio/sms` });

  it('pages the nearest on-duty worker and the family, with a one-segment page and a link', async () => {
    const commands: string[] = [];
    await button.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
    button.on('message', (_topic, payload) => commands.push(payload.toString()));

    await press(button, 'btn-001');
    const page = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    expect([...page.body].length).toBeLessThanOrEqual(70);
    expect(page.body).toContain('张桂兰');
    expect(page.body).toContain('安达里3号楼2门401');
    expect(page.body).toContain('10:00');
    const incident = await onlyIncident();
    // The link is fixed (PUBLIC_URL/i) and a short code stands for the signed link: no signature travels in the SMS.
    const link = await t.sms.waitForMessage((m) => m.to === W1 && m.body.startsWith(`详情及导航 ${t.publicUrl}/i 查看码`));
    expect(link.body).toMatch(/查看码[A-Z2-9]{10}$/);
    expect(link.body).not.toContain(incident.code);
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
    await t.sms.waitForMessage((m) => m.to === DAUGHTER && m.body.includes('回1'));
    await t.sms.waitForMessage((m) => m.to === SON && m.body.startsWith(`详情及导航 ${t.publicUrl}/i 查看码`));
    expect(smsTo(W2)).toHaveLength(0);

    expect(incident).toMatchObject({ resident: 'r-001', type: 'sos', state: 'open', step: 1, unassigned: false });
    const pages = (
      await waitFor('pages sent', async () => {
        const i = await onlyIncident();
        return i.pages.length === 3 && i.pages.every((p) => p.status !== 'queued' && p.status !== 'sending') ? i : null;
      })
    ).pages;
    expect(pages.map((p) => [p.to, p.role]).sort()).toEqual(
      [
        [W1, 'worker'],
        [SON, 'family'],
        [DAUGHTER, 'family'],
      ].sort(),
    );
    await waitFor('alarm_received command', () => commands.some((c) => (JSON.parse(c) as { type?: string }).type === 'alarm_received'));
  });

  it('joins repeated presses to the open incident without paging again', async () => {
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W1);
    await press(button, 'btn-001');
    await press(button, 'btn-001');
    await waitFor('joined signals', async () => (await onlyIncident()).signalCount === 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(smsTo(W1)).toHaveLength(2); // the page and its link
    expect(smsTo(SON)).toHaveLength(2);
  });

  it('stops escalating when the worker replies 1, tells the family who is coming and the device', async () => {
    const commands: Record<string, unknown>[] = [];
    await button.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
    button.on('message', (_topic, payload) => commands.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));

    const res = await reply(W1, ' 1 ');
    expect(res.status).toBe(200);
    const acked = await waitFor('acknowledged', async () => {
      const i = await onlyIncident();
      return i.state === 'acknowledged' ? i : null;
    });
    expect(acked.acknowledgedBy).toMatchObject({ role: 'worker', id: 'w-01', name: '李明' });
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('李明已接单'));
    await t.sms.waitForMessage((m) => m.to === DAUGHTER && m.body.includes('李明已接单'));
    await waitFor('responder_assigned', () => commands.find((c) => c.type === 'responder_assigned' && c.responder === '李明'));

    clock.advance(30 * 60 * 1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(smsTo(W2)).toHaveLength(0);
    const detail = (await api<IncidentView>(`/api/incidents/${acked.id}`)).body;
    const actions = detail.timeline?.map((e) => e.action) ?? [];
    expect(actions).toEqual(expect.arrayContaining(['created', 'opened', 'paged', 'acknowledged']));
    expect(detail.timeline?.find((e) => e.action === 'acknowledged')).toMatchObject({ channel: 'sms', actor: 'worker:w-01' });
  });

  it('escalates to the next-nearest worker every ackTimeoutSeconds, then the station, then starts again', async () => {
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    clock.advance(179_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(smsTo(W2)).toHaveLength(0);
    clock.advance(1_000);
    const second = await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect(second.body).toContain('仍无人接');
    clock.advance(180_000);
    await t.sms.waitForMessage((m) => m.to === W3 && m.body.includes('回1'));
    clock.advance(180_000);
    await t.sms.waitForMessage((m) => m.to === STATION && m.body.includes('回1'));
    clock.advance(180_000);
    await waitFor('second round to w-01', () => smsTo(W1).filter((m) => m.body.includes('回1')).length === 2);
    const incident = await onlyIncident();
    expect(incident.step).toBe(5);
    // The family is paged once (the page and its link), at the start, not on every step.
    expect(smsTo(SON)).toHaveLength(2);
  });

  it('pages the next responder at once when the paged worker replies 2', async () => {
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    await reply(W1, '2');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect((await onlyIncident()).step).toBe(2);
    // W2 acknowledges; W1, who was paged too, learns it is taken.
    await reply(W2, '1');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('赵强接单'));
  });

  it('pages the next responder at once when a page is not delivered', async () => {
    t.sms.setDeliveryOutcome(W1, 'undelivered');
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'), 8000);
    const incident = await onlyIncident();
    expect(incident.step).toBe(2);
    await waitFor('undelivered status', async () => (await onlyIncident()).pages.find((p) => p.to === W1)?.status === 'undelivered');
  });

  it('waits fallCancelSeconds before paging for a fall, and a cancel in time pages nobody', async () => {
    const fall = await connectDevice(t.mqttUrl, 'fall-001', 's3cret-fall-001');
    try {
      await press(fall, 'fall-001', 'fall', { confidence: 0.9 });
      const pending = await waitFor('pending incident', async () => (await incidents())[0]);
      expect(pending.state).toBe('pending');
      clock.advance(20_000);
      await press(fall, 'fall-001', 'cancel');
      await waitFor('cancelled', async () => (await onlyIncident()).state === 'cancelled');
      clock.advance(60_000);
      await new Promise((r) => setTimeout(r, 200));
      // Nobody was paged (the volunteer's visit reminder, caught up at start, is the only SMS).
      expect(t.sms.messages().filter((m) => m.to !== VOLUNTEER)).toHaveLength(0);

      await press(fall, 'fall-001', 'fall');
      await waitFor('second fall', async () => (await incidents()).some((i) => i.state === 'pending'));
      clock.advance(30_000);
      const page = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      expect(page.body).toContain('跌倒');
    } finally {
      await fall.endAsync();
    }
  });

  it('acknowledges and resolves from the API, and refuses an impossible transition', async () => {
    await press(button, 'btn-001');
    const incident = await waitFor('incident', async () => (await incidents())[0]);
    const ack = await api<{ state: string }>(`/api/incidents/${incident.id}/ack`, {
      method: 'POST',
      body: JSON.stringify({ note: '电话已联系', by: '值班员小刘' }),
    });
    expect(ack.status).toBe(200);
    expect(ack.body.state).toBe('acknowledged');
    const again = await api<{ error: { code: string } }>(`/api/incidents/${incident.id}/ack`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(409);
    const resolved = await api<{ state: string }>(`/api/incidents/${incident.id}/resolve`, {
      method: 'POST',
      body: JSON.stringify({ note: '已到场，无大碍' }),
    });
    expect(resolved.body.state).toBe('resolved');
    expect((await api<IncidentView[]>('/api/incidents?state=resolved')).body).toHaveLength(1);
    expect((await api<IncidentView[]>('/api/incidents?state=open')).body).toHaveLength(0);
    const detail = (await api<IncidentView>(`/api/incidents/${incident.id}`)).body;
    expect(detail.timeline?.find((e) => e.action === 'acknowledged')).toMatchObject({ channel: 'api' });
  });

  it('refuses a forged SMS webhook and changes nothing', async () => {
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    const res = await fetch(`${t.httpUrl}/webhooks/twilio/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
      body: new URLSearchParams({ From: W1, Body: '1', MessageSid: 'SMforged' }).toString(),
    });
    expect(res.status).toBe(403);
    expect((await onlyIncident()).state).toBe('open');
  });

  it('pages the station when no worker is on duty, and shows unassigned when nobody can be paged', async () => {
    const { store } = t.gateway;
    const workers = await store.registry.listWorkers();
    await store.registry.upsert({
      communities: [],
      residents: [],
      devices: [],
      volunteers: [],
      visits: [],
      workers: workers.map((w) => ({ ...w, shifts: [] })),
    });
    await press(button, 'btn-001');
    await t.sms.waitForMessage((m) => m.to === STATION && m.body.includes('回1'));
    expect(smsTo(W1)).toHaveLength(0);

    const community = await store.registry.getCommunity('andali');
    await store.registry.upsert({
      communities: [{ ...community!, dutyContacts: [] }],
      residents: [],
      devices: [],
      volunteers: [],
      visits: [],
      workers: [],
    });
    const lonely = await connectDevice(t.mqttUrl, 'btn-002', 's3cret-btn-002');
    try {
      await press(lonely, 'btn-002');
      const unassigned = await waitFor('r-002 incident', async () => (await incidents()).find((i) => i.resident === 'r-002'));
      expect(unassigned.unassigned).toBe(true);
      const health = await fetch(`${t.httpUrl}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'degraded',
        unassignedIncidents: 1,
        components: { sms: { status: 'up', provider: 'twilio', sender: 'thread', senderRestarts: 0 } },
      });
    } finally {
      await lonely.endAsync();
    }
  });
});
