// Voice calls through the twilio SDK against the local Twilio server: the call step of escalation end to end.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import twilio from 'twilio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_TOKEN, SIM_TOKEN, TEST_REGISTRY, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** A Thursday 10:00 in Shanghai, the latest before today. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);
const W1 = '+8613900000001';
const W2 = '+8613900000002';
const SON = '+8613800000001';

describe('voice calls (Twilio)', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;
  let seq = 0;

  beforeEach(async () => {
    clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock, env: { VOICE_PROVIDER: 'twilio' } });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
  });

  const view = async (id: string): Promise<IncidentView> => {
    const res = await fetch(`${t.httpUrl}/api/incidents/${id}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    return (await res.json()) as IncidentView;
  };
  /** An sos press, its incident, and the first worker's SMS page delivered. */
  const alarm = async (): Promise<string> => {
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
    const incident = await waitFor('incident', () => t.gateway.store.incidents.findActiveForResident('r-001'));
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    return incident.id;
  };
  const actions = async (id: string) => (await view(id)).timeline?.map((e) => e.action) ?? [];
  const callOf = (phone: string) => t.sms.calls.waitFor((c) => c.to === phone && c.endedAt !== null, 5000);

  it('calls the worker whose page is unanswered after 60 s; key 1 acknowledges, stops escalation, and the family hears who is coming', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'answer' }, { kind: 'key', key: '1' }]);
    const id = await alarm();
    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.sms.calls.list()).toHaveLength(0);
    clock.advance(1_000);
    const call = await callOf(W1);
    expect(call.status).toBe('completed');
    expect(call.keys).toEqual(['1']);
    expect(call.spoken.join('')).toContain('张桂兰，安达里三号楼二门四零一，按了求助按钮');
    expect(call.spoken.join('')).toContain('已由您接单');
    const taken = await waitFor('the incident acknowledged', async () => {
      const v = await view(id);
      return v.state === 'acknowledged' ? v : null;
    });
    expect(taken.acknowledgedBy).toMatchObject({ name: '李明', role: 'worker', phone: W1 });
    const ack = taken.timeline?.find((e) => e.action === 'acknowledged');
    expect(ack?.channel).toBe('voice');
    expect(taken.pages).toContainEqual(expect.objectContaining({ to: W1, role: 'worker', purpose: 'call', status: 'acknowledged' }));
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('李明已接单'));
    // Escalation stopped: the step-2 timeout passes and nobody else is paged or called.
    clock.advance(200_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.sms.messages().filter((m) => m.to === W2)).toHaveLength(0);
    expect(t.sms.calls.list()).toHaveLength(1);
    // The SMS page was answered by the call: a late "1" to it is not acted on as a new answer.
    await t.sms.reply(W1, '1', { webhookUrl: `${t.publicUrl}/webhooks/twilio/sms` });
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('您已回复过'));
  });

  it('takes the time before a call from the registry escalation section (voiceAfterSeconds) over VOICE_AFTER_SECONDS', async () => {
    await button.endAsync();
    await t.stop();
    const dir = mkdtempSync(join(tmpdir(), 'voice-registry-'));
    const registry = join(dir, 'registry.yaml');
    writeFileSync(
      registry,
      readFileSync(TEST_REGISTRY, 'utf8').replace('fallCancelSeconds: 30', 'fallCancelSeconds: 30\n  voiceAfterSeconds: 20'),
    );
    t = await startTestGateway({ clock, env: { VOICE_PROVIDER: 'twilio', REGISTRY_FILE: registry } });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    t.sms.calls.setScript(W1, [{ kind: 'busy' }]);
    await alarm();
    clock.advance(19_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.sms.calls.list()).toHaveLength(0);
    clock.advance(1_000);
    expect((await callOf(W1)).status).toBe('busy');
    rmSync(dir, { recursive: true, force: true });
  });

  it('calls at once instead of an SMS page no SMS provider may carry (the dispatcher divert hook), and not again a minute later', async () => {
    const id = await alarm();
    const sent = await t.gateway.store.sms.listForIncident(id);
    const page = sent.find((m) => m.purpose === 'page' && m.to === W1);
    const family = sent.find((m) => m.purpose === 'page' && m.to === SON);
    if (!page || !family || !t.gateway.voice) throw new Error('expected the pages of the alarm and voice calls on');
    expect(await t.gateway.voice.callInstead(family, 'over the SMS caps')).toBe(false);
    expect(await t.gateway.voice.callInstead(page, 'every SMS provider is over its cap for this number')).toBe(true);
    const ringing = await t.sms.calls.waitFor((c) => c.to === W1 && c.status === 'ringing');
    const diverted = (await view(id)).timeline?.find((e) => e.action === 'call_instead_of_sms');
    expect(diverted?.detail).toMatchObject({ to: W1, reason: 'every SMS provider is over its cap for this number' });
    // The step's own call, due a minute after the page, is not made while this one rings.
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(t.sms.calls.list()).toHaveLength(1);
    t.sms.calls.act(ringing.id, { kind: 'answer' });
    await t.sms.calls.waitFor((c) => c.id === ringing.id && c.spoken.length > 0);
    t.sms.calls.act(ringing.id, { kind: 'key', key: '1' });
    await waitFor('acknowledged', async () => (await view(id)).state === 'acknowledged');
    // Once taken, a second divert of the same page places nothing.
    expect(await t.gateway.voice.callInstead(page, 'again')).toBe(false);
  });

  it('places after a restart a call that was recorded but not yet placed when the gateway stopped', async () => {
    const id = await alarm();
    const incident = await t.gateway.store.incidents.get(id);
    if (!incident) throw new Error('no incident');
    const now = clock.now();
    // What the call timer commits before the call goes out: a stop right then leaves it queued.
    await t.gateway.store.voice.create({
      id: 'call-left-queued',
      incidentId: id,
      step: 1,
      to: W1,
      personId: 'w-01',
      role: 'worker',
      name: '李明',
      provider: 'twilio',
      providerCallId: null,
      status: 'queued',
      key: null,
      createdAt: now,
      updatedAt: now,
      endedAt: null,
      error: null,
    });
    const sim = t.sms;
    await button.endAsync();
    await t.stop({ keep: true });
    sim.calls.setScript(W1, [{ kind: 'busy' }]);
    // The call must not go out while the gateway is still starting: its status callbacks (sent once, never again)
    // would find no HTTP server, and escalation would wait on a call whose end it never hears.
    let started = false;
    const placedWhileStarting: string[] = [];
    sim.calls.on('call', (c) => {
      if (!started) placedWhileStarting.push(c.to);
    });
    t = await startTestGateway({ clock, dataDir: t.dataDir, sms: sim, env: { VOICE_PROVIDER: 'twilio' } });
    started = true;
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    expect((await callOf(W1)).status).toBe('busy');
    expect(placedWhileStarting).toEqual([]);
    await sim.waitForMessage((m) => m.to === W2 && m.body.includes('回1'), 15_000);
    expect((await view(id)).pages).toContainEqual(expect.objectContaining({ id: 'call-left-queued', status: 'busy' }));
    await button.endAsync();
    await t.stop();
    await sim.stop();
    t = await startTestGateway({ clock });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  it('an answered call with no key is no acknowledgement: the next worker is paged at once', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'answer' }]);
    const id = await alarm();
    clock.advance(60_000);
    const call = await callOf(W1);
    expect(call.status).toBe('completed');
    expect(call.keys).toEqual([]);
    expect(call.spoken.join('')).toContain('未收到按键');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    const v = await view(id);
    expect(v.state).toBe('open');
    expect(v.acknowledgedBy).toBeNull();
    expect(v.step).toBe(2);
    expect(v.pages).toContainEqual(expect.objectContaining({ to: W1, purpose: 'call', status: 'answered_no_key' }));
    expect(await actions(id)).toContain('call_answered_no_key');
  });

  it('a busy call moves escalation on at once', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'busy' }]);
    const id = await alarm();
    clock.advance(60_000);
    expect((await callOf(W1)).status).toBe('busy');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect((await view(id)).step).toBe(2);
    expect(await actions(id)).toContain('call_busy');
  });

  it('a call nobody answers moves escalation on at once', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'no_answer' }]);
    const id = await alarm();
    clock.advance(60_000);
    expect((await callOf(W1)).status).toBe('no-answer');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    expect(await actions(id)).toContain('call_no_answer');
  });

  it('key 2 passes the alarm to the next worker; * repeats the page first', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'answer' }, { kind: 'key', key: '*' }, { kind: 'key', key: '2' }]);
    const id = await alarm();
    clock.advance(60_000);
    const call = await callOf(W1);
    expect(call.keys).toEqual(['*', '2']);
    expect(call.spoken.filter((s) => s.includes('张桂兰'))).toHaveLength(2);
    expect(call.spoken.at(-1)).toContain('已转给下一位');
    await t.sms.waitForMessage((m) => m.to === W2 && m.body.includes('回1'));
    const v = await view(id);
    expect(v.state).toBe('open');
    expect(v.timeline?.find((e) => e.action === 'declined')?.channel).toBe('voice');
  });

  it('announces on a call that is playing when someone else takes the alarm', async () => {
    // A live phone: answered, and the page is playing while the son replies "1" to his SMS.
    const id = await alarm();
    clock.advance(60_000);
    const ringing = await t.sms.calls.waitFor((c) => c.to === W1 && c.status === 'ringing');
    t.sms.calls.act(ringing.id, { kind: 'answer' });
    await t.sms.calls.waitFor((c) => c.id === ringing.id && c.spoken.some((s) => s.includes('张桂兰')));
    await t.sms.reply(SON, '1', { webhookUrl: `${t.publicUrl}/webhooks/twilio/sms` });
    const ended = await callOf(W1);
    expect(ended.spoken.at(-1)).toBe('此求助已由张伟接单，您无需前往，谢谢。');
    expect(ended.keys).toEqual([]);
    expect((await view(id)).acknowledgedBy?.name).toBe('张伟');
    expect((await view(id)).pages).toContainEqual(expect.objectContaining({ to: W1, purpose: 'call', status: 'not_needed' }));
  });

  it('refuses voice webhooks without a valid Twilio signature, and acts on nothing', async () => {
    t.sms.calls.setScript(W1, [{ kind: 'answer' }]);
    const id = await alarm();
    const url = `${t.publicUrl}/webhooks/twilio/voice?call=nope`;
    const params = { CallSid: `CA${'0'.repeat(32)}`, Digits: '1', CallStatus: 'in-progress' };
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(params).toString(),
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ 'x-twilio-signature': twilio.getExpectedTwilioSignature('not-the-token', url, params) })).status).toBe(403);
    const statusUrl = `${t.publicUrl}/webhooks/twilio/voice-status?call=nope`;
    const forged = await fetch(statusUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'CallSid=CA1&CallStatus=busy',
    });
    expect(forged.status).toBe(403);
    // Correctly signed but naming no call: answered with an empty hang-up, nothing changes.
    const signed = await post({ 'x-twilio-signature': twilio.getExpectedTwilioSignature(SIM_TOKEN, url, params) });
    expect(signed.status).toBe(200);
    expect(await signed.text()).toContain('<Hangup/>');
    expect((await view(id)).state).toBe('open');
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/security_events_total\{kind="webhook_bad_signature"\} 3/);
  });
});
