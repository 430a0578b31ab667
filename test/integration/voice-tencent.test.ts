// Voice calls through tencentcloud-sdk-nodejs-common's CommonClient against the local VMS (TC3 checked): keys, caps, refusals.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { TencentVmsSimServer } from '../../simulators/voice/tencent-vms-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';
const SON = '+8613800000001';
const KEY = 'voice-webhook-key-0123456789';

describe('voice calls (Tencent VMS)', () => {
  let t: TestGateway;
  let vms: TencentVmsSimServer;
  let clock: ManualClock;
  let button: MqttClient;
  let seq = 0;

  const start = async (at: number, env: Record<string, string> = {}) => {
    clock = new ManualClock(at);
    vms = new TencentVmsSimServer({ keyWaitMs: 2000 });
    await vms.start();
    t = await startTestGateway({
      clock,
      env: {
        VOICE_PROVIDER: 'tencent',
        TENCENT_SECRET_ID: vms.secretId,
        TENCENT_SECRET_KEY: vms.secretKey,
        TENCENT_VMS_SDK_APP_ID: vms.sdkAppId,
        TENCENT_VMS_TEMPLATE_ID: vms.template.id,
        TENCENT_VMS_ENDPOINT: vms.url,
        WEBHOOK_KEY: KEY,
        ...env,
      },
    });
    vms.callbackUrl = `${t.publicUrl}/webhooks/tencent/voice?key=${KEY}`;
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  };

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
    await vms.stop();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${t.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    });
    expect(res.status, path).toBeLessThan(300);
    return (await res.json()) as T;
  };
  const view = (id: string) => api<IncidentView>(`/api/incidents/${id}`);
  const alarm = async (): Promise<string> => {
    const pagedBefore = t.sms
      .messages()
      .filter((m) => m.to === W1)
      .map((m) => m.sid);
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    const incident = await waitFor('incident', () => t.gateway.store.incidents.findActiveForResident('r-001'));
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1') && !pagedBefore.includes(m.sid));
    return incident.id;
  };
  const actions = async (id: string) => (await view(id)).timeline?.map((e) => e.action) ?? [];
  const pushed = (body: unknown, key: string | null) =>
    fetch(`${t.publicUrl}/webhooks/tencent/voice${key === null ? '' : `?key=${encodeURIComponent(key)}`}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('calls through SendTtsVoice with the page in words; key 1 acknowledges and the family hears who is coming', async () => {
    await start(shanghaiLast(4, 10));
    vms.setScript(W1, [{ kind: 'answer' }, { kind: 'key', key: '1' }]);
    const id = await alarm();
    clock.advance(60_000);
    const call = await vms.waitFor((c) => c.to === W1 && c.endedAt !== null);
    expect(call.keys).toEqual(['1']);
    expect(call.spoken[0]).toContain('张桂兰，安达里三号楼二门四零一，按了求助按钮，');
    const sent = vms.requests().find((r) => r.action === 'SendTtsVoice' && r.error === null);
    expect(sent?.params).toMatchObject({ CalledNumber: W1, VoiceSdkAppid: vms.sdkAppId, TemplateId: vms.template.id });
    const params = sent?.params.TemplateParamSet;
    expect(Array.isArray(params) && params.every((p) => typeof p === 'string' && !/[0-9]/.test(p))).toBe(true);
    const acked = await waitFor('the incident acknowledged', async () => {
      const v = await view(id);
      return v.state === 'acknowledged' ? v : null;
    });
    expect(acked.acknowledgedBy).toMatchObject({ name: '李明', phone: W1 });
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('李明已接单'));
    expect(acked.pages).toContainEqual(expect.objectContaining({ to: W1, purpose: 'call', status: 'acknowledged' }));
    // Tencent's status push after the key leaves the call as it was.
    await waitFor('status push', () => vms.callbacks().some((c) => 'voiceprompt_callback' in c.body && c.status === 200));
    expect((await view(id)).pages.find((p) => p.purpose === 'call')?.status).toBe('acknowledged');
  });

  it('a busy (not answered) call and an answered call without a key each move escalation on at once', async () => {
    await start(shanghaiLast(4, 10));
    vms.setScript(W1, [{ kind: 'busy' }]);
    vms.setScript(W2, [{ kind: 'answer' }]);
    const id = await alarm();
    clock.advance(60_000);
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect(await actions(id)).toContain('call_no_answer');
    clock.advance(60_000);
    const second = await vms.waitFor((c) => c.to === W2 && c.endedAt !== null);
    expect(second.keys).toEqual([]);
    await waitFor('step 3', async () => (await view(id)).step === 3);
    expect(await actions(id)).toContain('call_answered_no_key');
    expect((await view(id)).state).toBe('open');
  });

  it('refuses callbacks without the right ?key= (403, a security event) and acts on none of them', async () => {
    await start(shanghaiLast(4, 10));
    const id = await alarm();
    clock.advance(60_000);
    const ringing = await vms.waitFor((c) => c.to === W1 && c.status === 'ringing');
    const press = { voicekey_callback: { call_from: '', callid: ringing.id, keypress: '1', mobile: '13900000001', nationcode: '86' } };
    expect((await pushed(press, null)).status).toBe(403);
    expect((await pushed(press, 'voice-webhook-key-0123456788')).status).toBe(403);
    expect((await pushed(press, KEY.slice(0, -1))).status).toBe(403);
    await new Promise((r) => setTimeout(r, 200));
    expect((await view(id)).state).toBe('open');
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/security_events_total\{kind="webhook_bad_key"\} 3/);
    // The same push with the key is taken: the person did press 1.
    expect((await pushed(press, KEY)).status).toBe(200);
    await waitFor('acknowledged', async () => (await view(id)).state === 'acknowledged');
  });

  it('at night a number gets one call: the second alarm is not called but passed on at once, and says why', async () => {
    await start(shanghaiLast(4, 23));
    vms.setScript(W1, [{ kind: 'answer' }, { kind: 'key', key: '1' }]);
    const first = await alarm();
    clock.advance(60_000);
    await waitFor('first acknowledged', async () => (await view(first)).state === 'acknowledged');
    await api(`/api/incidents/${first}/resolve`, { method: 'POST', body: JSON.stringify({ note: '已处理' }) });

    clock.advance(30 * 60_000);
    const second = await alarm();
    clock.advance(60_000);
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    const v = await view(second);
    expect(v.step).toBe(2);
    const capped = v.timeline?.find((e) => e.action === 'call_capped');
    expect(String(capped?.detail?.reason)).toContain('22:00');
    expect(v.pages).toContainEqual(expect.objectContaining({ to: W1, purpose: 'call', status: 'capped' }));
    expect(vms.requests().filter((r) => r.params.CalledNumber === W1)).toHaveLength(1);
  });

  it('a call the provider refuses (here for a bad TC3 signature) moves escalation on at once and shows why', async () => {
    await start(shanghaiLast(4, 10), { TENCENT_SECRET_KEY: 'not-the-secret-key' });
    const id = await alarm();
    clock.advance(60_000);
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect(vms.requests()[0]?.error).toBe('AuthFailure.SignatureFailure');
    const failed = (await view(id)).timeline?.find((e) => e.action === 'call_failed');
    expect(String(failed?.detail?.reason)).toContain('AuthFailure.SignatureFailure');
    const health = (await (await fetch(`${t.httpUrl}/healthz`)).json()) as { components: { voice?: { status: string; provider: string } } };
    expect(health.components.voice).toMatchObject({ status: 'degraded', provider: 'tencent' });
  });
});
