// SMS replies through the whole gateway: replayed webhooks, the reply window, answered pages and reply codes (1A, 1B).
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import twilio from 'twilio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shanghaiLast } from '../helpers/calendar.js';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { API_TOKEN, SIM_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';
const SON = '+8613800000001';

describe('SMS replies', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let buttons: MqttClient[];
  let seq = 0;

  beforeEach(async () => {
    // The latest Thursday before today, 10:00 in Asia/Shanghai (a worker on duty then).
    clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock });
    buttons = [await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001'), await connectDevice(t.mqttUrl, 'btn-002', 's3cret-btn-002')];
  });

  afterEach(async () => {
    for (const b of buttons) await b.endAsync();
    await t.stop();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${t.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    });
    expect(res.status, path).toBeLessThan(300);
    return (await res.json()) as T;
  };
  /** r-001 (btn-001) and r-002 (btn-002) have the same nearest worker, W1. */
  const press = async (index: 0 | 1) => {
    const id = index === 0 ? 'btn-001' : 'btn-002';
    await buttons[index]?.publishAsync(`care/v1/${id}/event`, JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
  };
  const incidentOf = async (resident: string) =>
    waitFor(`incident of ${resident}`, async () =>
      (await api<IncidentView[]>('/api/incidents')).find((i) => i.resident === resident && i.state !== 'resolved'),
    );
  const stateOf = async (id: string) => (await api<IncidentView>(`/api/incidents/${id}`)).state;
  const smsTo = (phone: string) => t.sms.messages().filter((m) => m.to === phone);
  const webhookUrl = () => `${t.publicUrl}/webhooks/twilio/sms`;
  const reply = (from: string, body: string) => t.sms.reply(from, body, { webhookUrl: webhookUrl() });
  /** Posts exactly what Twilio posted before, with its valid signature: what an attacker holding a captured request does. */
  const replay = async (params: Record<string, string>) => {
    const res = await fetch(webhookUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(SIM_TOKEN, webhookUrl(), params),
      },
      body: new URLSearchParams(params).toString(),
    });
    return res.status;
  };
  const inbound = async (from: string) => {
    const log = await api<{ messages: { direction: string; phone: string; purpose: string }[] }>(`/api/sms/log?direction=in`);
    return log.messages.filter((m) => m.phone === from).map((m) => m.purpose);
  };
  /** Lets queued sends and replies settle, so "nothing more was sent" means something. */
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('drops a replayed signed "1": it does not acknowledge a newer incident paged to the same phone', async () => {
    await press(0);
    const first = await incidentOf('r-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1A接单'));
    const original = await reply(W1, '1');
    expect(original.status).toBe(200);
    await waitFor('first acknowledged', async () => (await stateOf(first.id)) === 'acknowledged');
    await api(`/api/incidents/${first.id}/resolve`, { method: 'POST', body: JSON.stringify({ note: '已处理' }) });

    // A newer alarm pages the same worker; then the old "1" arrives again, byte for byte, validly signed.
    await press(0);
    const second = await incidentOf('r-001');
    expect(second.id).not.toBe(first.id);
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1B接单'));
    await settle();
    const sentBefore = smsTo(W1).length;
    expect(await replay(original.params)).toBe(200);
    await settle();
    expect(await stateOf(second.id)).toBe('open');
    expect(smsTo(W1)).toHaveLength(sentBefore);
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/sms_inbound_duplicates_total\{provider="twilio"\} 1/);
    // The worker's own new "1" still works.
    await reply(W1, '1');
    await waitFor('second acknowledged', async () => (await stateOf(second.id)) === 'acknowledged');
  });

  it('drops a replayed "2": no second SMS, and the alarm is not passed on again', async () => {
    await press(0);
    const incident = await incidentOf('r-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回2A'));
    const original = await reply(W1, '2');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('已转给下一位'));
    await settle();
    const toW1 = smsTo(W1).length;
    const toW2 = smsTo(W2).length;
    for (let i = 0; i < 3; i++) expect(await replay(original.params)).toBe(200);
    await settle();
    expect(smsTo(W1)).toHaveLength(toW1);
    expect(smsTo(W2)).toHaveLength(toW2);
    expect((await api<IncidentView>(`/api/incidents/${incident.id}`)).step).toBe(2);
    expect(await inbound(W1)).toEqual(['decline']);
  });

  it('takes one answer per page: a second "2" (a new message) does not pass the alarm on again', async () => {
    await press(0);
    const incident = await incidentOf('r-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回2A'));
    await reply(W1, '2');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    await reply(W1, '2');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('您已回复过'));
    await settle();
    expect((await api<IncidentView>(`/api/incidents/${incident.id}`)).step).toBe(2);
    expect(smsTo(W2).filter((m) => m.body.includes('回1'))).toHaveLength(1);
  });

  it('refuses a "1" to a page older than the reply window, with a clear answer', async () => {
    await press(0);
    const incident = await incidentOf('r-001');
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('请回1A'));
    // The family is paged once; 31 minutes later the son's "1" is too late to be taken as his answer to that page.
    clock.advance(31 * 60_000);
    await reply(SON, '1');
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('已过回复时限'));
    const view = await api<IncidentView>(`/api/incidents/${incident.id}`);
    expect(view.acknowledgedBy).toBeFalsy();
    expect(await inbound(SON)).toEqual(['too_old']);
  });

  it('asks which alarm a bare "1" means when two are open on one phone, and "1B" acknowledges exactly the second', async () => {
    await press(0);
    const first = await incidentOf('r-001');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('张桂兰') && m.body.includes('回1A接单 回2A转他人'));
    await press(1);
    const second = await incidentOf('r-002');
    const page = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('王淑珍') && m.body.includes('回1B接单'));
    expect([...page.body].length).toBeLessThanOrEqual(70);

    await reply(W1, '1');
    const question = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('待处理求助'));
    expect(question.body).toContain('1A 张桂兰');
    expect(question.body).toContain('1B 王淑珍');
    expect(await stateOf(first.id)).toBe('open');
    expect(await stateOf(second.id)).toBe('open');

    // Full-width, lower case, with a space: as phones send it.
    await reply(W1, '１ ｂ');
    await waitFor('second acknowledged', async () => (await stateOf(second.id)) === 'acknowledged');
    expect(await stateOf(first.id)).toBe('open');
    // Only one alarm is left waiting on this phone: a bare "1" is unambiguous again.
    await reply(W1, '1');
    await waitFor('first acknowledged', async () => (await stateOf(first.id)) === 'acknowledged');
    await reply(W1, '1C');
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('没有找到'));
    expect(await inbound(W1)).toEqual(['unknown_code', 'ack', 'ack', 'ambiguous']);
  });
});
