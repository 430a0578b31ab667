// The Aliyun and Tencent callbacks through a whole gateway: receipts update the stored message, replies "1" and "2"
// act on the incident exactly as Twilio's do, and a callback without the right ?key= is refused and recorded.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { AliyunSmsProvider } from '../../gateway/notifiers/aliyun.js';
import { TencentSmsProvider } from '../../gateway/notifiers/tencent.js';
import { AliyunSmsSim } from '../../simulators/sms/aliyun-server.js';
import { TencentSmsSim } from '../../simulators/sms/tencent-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import {
  ALIYUN_KEY_ID,
  ALIYUN_KEY_SECRET,
  SIGN_NAME,
  TENCENT_APP_ID,
  TENCENT_SECRET_ID,
  TENCENT_SECRET_KEY,
  TEST_CATALOGUE,
  WEBHOOK_KEY,
  pageIntent,
} from '../helpers/domestic-sms.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';

describe('Aliyun and Tencent callbacks', () => {
  let t: TestGateway;
  let aliyun: AliyunSmsSim;
  let tencent: TencentSmsSim;
  let button: MqttClient;
  let seq = 0;

  const hook = (path: string, key: string | null = WEBHOOK_KEY): string => `${t.publicUrl}${path}${key === null ? '' : `?key=${key}`}`;

  beforeEach(async () => {
    // A Thursday 10:00 in Tianjin: the fixture's workers are on duty.
    t = await startTestGateway({ clock: new ManualClock(shanghaiLast(4, 10)), env: { WEBHOOK_KEY } });
    const common = { catalogue: TEST_CATALOGUE, signNames: [SIGN_NAME], holdReceipts: true };
    aliyun = new AliyunSmsSim({
      ...common,
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      reportUrl: hook('/webhooks/aliyun/sms-report'),
      upUrl: hook('/webhooks/aliyun/sms-up'),
    });
    tencent = new TencentSmsSim({
      ...common,
      secretId: TENCENT_SECRET_ID,
      secretKey: TENCENT_SECRET_KEY,
      sdkAppId: TENCENT_APP_ID,
      statusUrl: hook('/webhooks/tencent/sms-status'),
      replyUrl: hook('/webhooks/tencent/sms-reply'),
    });
    await aliyun.start();
    await tencent.start();
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await aliyun.stop();
    await tencent.stop();
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
  const incident = async (id: string): Promise<IncidentView> => api<IncidentView>(`/api/incidents/${id}`);
  /** btn-001 raises an incident for r-001, whose nearest on-duty worker is W1; resolves once W1 has the page. */
  const alarm = async (): Promise<IncidentView> => {
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    const open = await waitFor('incident', async () =>
      (await api<IncidentView[]>('/api/incidents')).find((i) => i.resident === 'r-001' && i.state === 'open'),
    );
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    return open;
  };
  /** A message the gateway handed to the provider: stored as the dispatcher stores it once the provider accepted it. */
  const storeSent = async (provider: 'aliyun' | 'tencent', id: string, sid: string): Promise<void> => {
    const now = Date.now();
    const row: OutboundSms = {
      id,
      to: W1,
      body: 'page',
      purpose: 'notice',
      incidentId: null,
      step: null,
      role: null,
      personId: null,
      context: null,
      intent: null,
      priority: 'routine',
      status: 'accepted',
      provider,
      providerSid: sid,
      attempts: 1,
      errorCode: null,
      error: null,
      createdAt: now,
      sentAt: now,
      updatedAt: now,
    };
    await t.gateway.store.sms.insert(row);
  };
  const metrics = async (): Promise<string> => (await fetch(`${t.httpUrl}/metrics`)).text();

  it('Aliyun: SmsReport marks the stored message delivered, or undelivered with the carrier code', async () => {
    const provider = new AliyunSmsProvider({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      signName: SIGN_NAME,
      endpoint: aliyun.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    aliyun.setDeliveryOutcome('+8613900000002', 'undelivered');
    const ok = await provider.send({ id: 'sms-a1', to: W1, body: '', intent: pageIntent(), statusCallback: null });
    const bad = await provider.send({ id: 'sms-a2', to: '+8613900000002', body: '', intent: pageIntent(), statusCallback: null });
    await storeSent('aliyun', 'sms-a1', ok.sid);
    await storeSent('aliyun', 'sms-a2', bad.sid);
    await aliyun.releaseReceipts();
    const pushes = aliyun.pushes().filter((p) => p.kind === 'receipt');
    expect(pushes.map((p): [number | null, unknown] => [p.httpStatus, JSON.parse(p.answer)])).toEqual([
      [200, { code: 0, msg: '成功' }],
      [200, { code: 0, msg: '成功' }],
    ]);
    await waitFor('delivered', async () => (await t.gateway.store.sms.get('sms-a1'))?.status === 'delivered');
    await waitFor('undelivered', async () => (await t.gateway.store.sms.get('sms-a2'))?.status === 'undelivered');
    expect((await t.gateway.store.sms.get('sms-a2'))?.errorCode).toBe('MK:0001');
  });

  it('Aliyun: a reply "1" through SmsUp acknowledges the incident; the same push again is not acted on twice', async () => {
    const open = await alarm();
    const push = await aliyun.reply(W1, '1');
    expect(push?.httpStatus).toBe(200);
    await waitFor('acknowledged', async () => (await incident(open.id)).state === 'acknowledged');
    expect((await incident(open.id)).acknowledgedBy).toMatchObject({ id: 'w-01', role: 'worker' });
    // Aliyun pushes again when it thinks we missed it: the same sequence_id is a duplicate.
    const again = await fetch(hook('/webhooks/aliyun/sms-up'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(push?.body),
    });
    expect(again.status).toBe(200);
    expect(await metrics()).toMatch(/sms_inbound_duplicates_total\{provider="aliyun"\} 1/);
  });

  it('Aliyun: a reply "2" passes the page on: the incident stays open and the next worker is paged', async () => {
    const open = await alarm();
    expect((await aliyun.reply(W1, '2'))?.httpStatus).toBe(200);
    await t.sms.waitForMessage((m) => m.to === '+8613900000002' && m.body.includes('回1'));
    const after = await incident(open.id);
    expect(after.state).toBe('open');
    expect(after.timeline?.some((e) => JSON.stringify(e).includes('decline'))).toBe(true);
  });

  it('Tencent: the status callback marks the stored message delivered', async () => {
    const provider = new TencentSmsProvider({
      secretId: TENCENT_SECRET_ID,
      secretKey: TENCENT_SECRET_KEY,
      sdkAppId: TENCENT_APP_ID,
      signName: SIGN_NAME,
      region: 'ap-guangzhou',
      endpoint: tencent.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    const sent = await provider.send({ id: 'sms-t1', to: W1, body: '', intent: pageIntent(), statusCallback: null });
    await provider.close();
    await storeSent('tencent', 'sms-t1', sent.sid);
    await tencent.releaseReceipts();
    const [push] = tencent.pushes();
    expect(push && [push.httpStatus, JSON.parse(push.answer)]).toEqual([200, { result: 0, errmsg: 'OK' }]);
    await waitFor('delivered', async () => (await t.gateway.store.sms.get('sms-t1'))?.status === 'delivered');
  });

  it('Tencent: a reply "1" acknowledges the incident, and "2" after it is answered as too late', async () => {
    const open = await alarm();
    expect((await tencent.reply(W1, '1'))?.httpStatus).toBe(200);
    await waitFor('acknowledged', async () => (await incident(open.id)).state === 'acknowledged');
    const again = await tencent.reply(W1, '2');
    expect(again?.httpStatus).toBe(200);
    expect((await incident(open.id)).state).toBe('acknowledged');
  });

  it('refuses a callback without the key, with a wrong key or with the key twice: 403, a security event, nothing acted on', async () => {
    const open = await alarm();
    const reply = { extend: '', mobile: '13900000001', nationcode: '86', sign: SIGN_NAME, text: '1', time: 1_700_000_000 };
    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(hook('/webhooks/tencent/sms-reply', null), reply)).status).toBe(403);
    expect((await post(hook('/webhooks/tencent/sms-reply', 'webhook-key-0123456789abcdeX'), reply)).status).toBe(403);
    expect(
      (await post(`${hook('/webhooks/aliyun/sms-up')}&key=${WEBHOOK_KEY}`, [{ phone_number: '13900000001', content: '1', sequence_id: 7 }]))
        .status,
    ).toBe(403);
    expect((await post(hook('/webhooks/aliyun/sms-report', 'short'), [{ biz_id: 'x', success: true }])).status).toBe(403);
    expect((await incident(open.id)).state).toBe('open');
    const m = await metrics();
    expect(m).toMatch(/security_events_total\{kind="webhook_bad_key"\} 4/);
  });

  it('answers malformed pushes that carry the key with 400 or 415, and acts on nothing', async () => {
    const open = await alarm();
    const post = (path: string, body: string, type = 'application/json') =>
      fetch(hook(path), { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('/webhooks/aliyun/sms-up', '{"not":"an array"}')).status).toBe(400);
    expect((await post('/webhooks/aliyun/sms-up', '[{"phone_number":"13900000001","content":"1"}]')).status).toBe(400);
    expect((await post('/webhooks/tencent/sms-reply', '{"mobile":"x","text":"1","time":1}')).status).toBe(400);
    expect((await post('/webhooks/tencent/sms-status', 'not json')).status).toBe(400);
    expect((await post('/webhooks/tencent/sms-reply', 'mobile=13900000001&text=1', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await post('/webhooks/aliyun/sms-report', JSON.stringify([{ biz_id: 'x'.repeat(70_000), success: true }]))).status).toBe(413);
    expect((await incident(open.id)).state).toBe('open');
  });
});

describe('domestic callbacks without WEBHOOK_KEY', () => {
  it('refuses every callback, recorded as unverifiable', async () => {
    const t = await startTestGateway();
    try {
      const res = await fetch(`${t.publicUrl}/webhooks/tencent/sms-reply?key=anything-at-all-0000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(403);
      expect(await (await fetch(`${t.httpUrl}/metrics`)).text()).toMatch(/security_events_total\{kind="webhook_unverifiable"\} 1/);
    } finally {
      await t.stop();
    }
  });
});
