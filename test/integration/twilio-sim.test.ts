// The Twilio simulator seen through the real twilio SDK: messages, errors, signed callbacks, replies and faults.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import twilio from 'twilio';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { segmentsOf } from '../../simulators/sms/twilio-format.js';
import { RewritingRequestClient } from '../../gateway/notifiers/twilio.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/sms.js';

const FROM = '+15005550006';
const TO = '+8613800000001';

let sim: TwilioSimServer;
let apiUrl: string;
let receiver: WebhookReceiver | null = null;

function sdk(authToken = sim.authToken, url = apiUrl): twilio.Twilio {
  return twilio(sim.accountSid, authToken, { httpClient: new RewritingRequestClient(url, { timeout: 3000 }) });
}

async function rejection(p: Promise<unknown>): Promise<Error & { status?: number; code?: unknown }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`non-error rejection: ${String(err)}`);
  }
  throw new Error('expected a rejection');
}

beforeEach(async () => {
  sim = new TwilioSimServer({ callbackDelayMs: 5 });
  apiUrl = (await sim.start({ port: 0, host: '127.0.0.1' })).url;
});

afterEach(async () => {
  await sim.stop();
  await receiver?.close();
  receiver = null;
});

describe('TwilioSimServer REST API', () => {
  it('creates, fetches and lists messages like Twilio', async () => {
    const client = sdk();
    const created = await client.messages.create({ to: TO, from: FROM, body: 'Help needed at 3-2-401' });
    expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(created.status).toBe('queued');
    expect(created.to).toBe(TO);
    expect(created.from).toBe(FROM);
    expect(created.accountSid).toBe(sim.accountSid);
    expect(created.numSegments).toBe('1');
    expect(created.dateCreated).toBeInstanceOf(Date);
    expect(Math.abs(created.dateCreated.getTime() - Date.now())).toBeLessThan(5000);
    expect(created.uri).toBe(`/2010-04-01/Accounts/${sim.accountSid}/Messages/${created.sid}.json`);

    const fetched = await client.messages(created.sid).fetch();
    expect(fetched.body).toBe('Help needed at 3-2-401');

    await client.messages.create({ to: '+8613800000002', from: FROM, body: '第二条' });
    const all = await client.messages.list();
    expect(all.map((m) => m.to)).toEqual(['+8613800000002', TO]);
    const filtered = await client.messages.list({ to: TO });
    expect(filtered.map((m) => m.sid)).toEqual([created.sid]);

    expect(sim.messages().map((m) => m.sid)).toContain(created.sid);
    const req = sim.requests().find((r) => r.method === 'POST');
    expect(req?.status).toBe(201);
    expect(req?.receivedAt).toBeGreaterThan(0);
    expect(req?.receivedHr).toBeGreaterThan(0);
  });

  it('moves a message to delivered even without a status callback', async () => {
    const created = await sdk().messages.create({ to: TO, from: FROM, body: 'x' });
    await waitFor('delivered', async () => (await sdk().messages(created.sid).fetch()).status === 'delivered', { timeoutMs: 3000 });
  });

  it('answers an invalid To with 400 / 21211 in Twilio error JSON', async () => {
    const err = await rejection(sdk().messages.create({ to: '13800000001', from: FROM, body: 'x' }));
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err.status).toBe(400);
    expect(err.code).toBe(21211);
    expect(err.message).toContain('not a valid phone number');
    expect(sim.messages()).toHaveLength(0);

    const res = await fetch(`${apiUrl}/2010-04-01/Accounts/${sim.accountSid}/Messages.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${sim.accountSid}:${sim.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: 'nope', From: FROM, Body: 'x' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 21211,
      message: "The 'To' number nope is not a valid phone number.",
      more_info: 'https://www.twilio.com/docs/errors/21211',
      status: 400,
    });
  });

  it('answers a missing Body with 400 / 21602', async () => {
    const err = await rejection(sdk().messages.create({ to: TO, from: FROM }));
    expect(err.status).toBe(400);
    expect(err.code).toBe(21602);
  });

  it('answers wrong credentials with 401 / 20003', async () => {
    const err = await rejection(sdk('wrong-token').messages.create({ to: TO, from: FROM, body: 'x' }));
    expect(err.status).toBe(401);
    expect(err.code).toBe(20003);
    expect(sim.messages()).toHaveLength(0);
  });

  it('counts segments for GSM-7 and UCS-2 bodies', async () => {
    expect(segmentsOf('a'.repeat(160))).toEqual({ encoding: 'GSM-7', numSegments: 1 });
    expect(segmentsOf('a'.repeat(161))).toEqual({ encoding: 'GSM-7', numSegments: 2 });
    expect(segmentsOf('€'.repeat(80))).toEqual({ encoding: 'GSM-7', numSegments: 1 });
    expect(segmentsOf('€'.repeat(81))).toEqual({ encoding: 'GSM-7', numSegments: 2 });
    expect(segmentsOf('求'.repeat(70))).toEqual({ encoding: 'UCS-2', numSegments: 1 });
    expect(segmentsOf('求'.repeat(71))).toEqual({ encoding: 'UCS-2', numSegments: 2 });
    const created = await sdk().messages.create({
      to: TO,
      from: FROM,
      body: '张桂兰按了求助按钮，请尽快到安达里3号楼2门401。回复1确认。'.repeat(3),
    });
    expect(created.numSegments).toBe('2');
  });
});

describe('TwilioSimServer status callbacks and replies', () => {
  it('posts queued, sent, delivered callbacks that twilio.validateRequest accepts', async () => {
    receiver = await startWebhookReceiver(sim.authToken);
    const callback = `${receiver.url}/webhooks/twilio/status`;
    const created = await sdk().messages.create({ to: TO, from: FROM, body: 'x', statusCallback: callback });
    await sim.waitForCallback((c) => c.status === 'delivered', 3000);
    const hooks = receiver.received;
    expect(hooks.map((h) => h.params.MessageStatus)).toEqual(['queued', 'sent', 'delivered']);
    for (const h of hooks) {
      expect(h.valid).toBe(true);
      expect(h.path).toBe('/webhooks/twilio/status');
      expect(h.params).toMatchObject({
        MessageSid: created.sid,
        SmsSid: created.sid,
        To: TO,
        From: FROM,
        AccountSid: sim.accountSid,
        ApiVersion: '2010-04-01',
      });
      expect(h.params.SmsStatus).toBe(h.params.MessageStatus);
    }
    expect(sim.callbacks().map((c) => c.httpStatus)).toEqual([200, 200, 200]);

    const first = hooks[0];
    if (!first) throw new Error('no callback');
    const tampered = { ...first.params, MessageStatus: 'failed' };
    expect(twilio.validateRequest(sim.authToken, first.signature, callback, tampered)).toBe(false);
    expect(twilio.validateRequest('another-token', first.signature, callback, first.params)).toBe(false);
    expect(twilio.validateRequest(sim.authToken, first.signature, callback, first.params)).toBe(true);
  });

  it('reports failed and undelivered outcomes with an ErrorCode', async () => {
    receiver = await startWebhookReceiver(sim.authToken);
    sim.setDeliveryOutcome('+8613800000009', 'failed');
    sim.setDeliveryOutcome('+8613800000008', 'undelivered');
    const statusCallback = `${receiver.url}/webhooks/twilio/status`;
    const client = sdk();
    const a = await client.messages.create({ to: '+8613800000009', from: FROM, body: 'x', statusCallback });
    const b = await client.messages.create({ to: '+8613800000008', from: FROM, body: 'x', statusCallback });
    const last = (sid: string) => sim.waitForCallback((c) => c.messageSid === sid && ['failed', 'undelivered'].includes(c.status), 3000);
    const [fa, fb] = await Promise.all([last(a.sid), last(b.sid)]);
    expect(fa.params).toMatchObject({ MessageStatus: 'failed', ErrorCode: '30008' });
    expect(fb.params).toMatchObject({ MessageStatus: 'undelivered', ErrorCode: '30003' });
    expect(
      sim
        .callbacks()
        .filter((c) => c.messageSid === a.sid)
        .map((c) => c.status),
    ).toEqual(['queued', 'failed']);
    expect((await client.messages(b.sid).fetch()).errorCode).toBe(30003);
  });

  it('signs callbacks over the configured URL while delivering to another address', async () => {
    const publicUrl = 'https://care.example.org';
    await sim.stop();
    sim = new TwilioSimServer({
      authToken: 'fixed-token',
      callbackDelayMs: 1,
      deliverTo: (u) => u.replace(publicUrl, receiver?.url ?? ''),
    });
    apiUrl = (await sim.start()).url;
    // The receiver checks signatures over the public URL, as the gateway does behind a proxy.
    receiver = await startWebhookReceiver('fixed-token', () => undefined, { signedBaseUrl: publicUrl });
    await sdk().messages.create({ to: TO, from: FROM, body: 'x', statusCallback: `${publicUrl}/webhooks/twilio/status` });
    const cb = await sim.waitForCallback((c) => c.status === 'delivered', 3000);
    expect(cb.url).toBe(`${publicUrl}/webhooks/twilio/status`);
    expect(cb.httpStatus).toBe(200);
    expect(receiver.received.every((h) => h.valid)).toBe(true);
  });

  it('simulates a phone reply as a signed inbound webhook and returns the answer', async () => {
    receiver = await startWebhookReceiver(sim.authToken);
    await sdk().messages.create({ to: TO, from: FROM, body: 'page' });
    const answer = await sim.reply(TO, '1', { webhookUrl: `${receiver.url}/webhooks/twilio/sms` });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('<Response/>');
    const hook = receiver.received.at(-1);
    expect(hook?.valid).toBe(true);
    expect(hook?.params).toMatchObject({ From: TO, To: FROM, Body: '1', NumMedia: '0', AccountSid: sim.accountSid, SmsStatus: 'received' });
    expect(hook?.params.MessageSid).toMatch(/^SM[0-9a-f]{32}$/);

    const signedElsewhere = await sim.reply(TO, '到', {
      webhookUrl: `${receiver.url}/webhooks/twilio/sms`,
      signedUrl: 'https://care.example.org/webhooks/twilio/sms',
    });
    expect(signedElsewhere.status).toBe(403);
  });

  it('waitForMessage resolves with messages already received and with later ones', async () => {
    const client = sdk();
    await client.messages.create({ to: TO, from: FROM, body: 'early' });
    const early = await sim.waitForMessage((m) => m.body === 'early', 100);
    expect(early.to).toBe(TO);
    const later = sim.waitForMessage((m) => m.body === 'later', 2000);
    const seen: string[] = [];
    sim.on('message', (m) => seen.push(m.body));
    await client.messages.create({ to: TO, from: FROM, body: 'later' });
    expect((await later).body).toBe('later');
    expect(seen).toEqual(['later']);
    await expect(sim.waitForMessage((m) => m.body === 'never', 50)).rejects.toThrow(/no matching message/);
  });
});

describe('TwilioSimServer fault injection', () => {
  it('fails the next n creates with 5xx JSON or a destroyed socket, then recovers', async () => {
    const client = sdk();
    sim.failNext(1, { status: 503 });
    sim.failNext(1, { status: 'network' });
    const e1 = await rejection(client.messages.create({ to: TO, from: FROM, body: 'x' }));
    expect(e1.status).toBe(503);
    const e2 = await rejection(client.messages.create({ to: TO, from: FROM, body: 'x' }));
    expect(e2.status).toBeUndefined();
    expect(e2.message).toMatch(/socket hang up|ECONNRESET/);
    const ok = await client.messages.create({ to: TO, from: FROM, body: 'x' });
    expect(ok.status).toBe('queued');
    expect(sim.requests().map((r) => r.fault)).toEqual([503, 'network', null]);
  });

  it('refuses connections while down and listens on the same port when up again', async () => {
    const port = new URL(apiUrl).port;
    await sim.setDown(true);
    const err = await rejection(sdk().messages.create({ to: TO, from: FROM, body: 'x' }));
    expect(err.message).toMatch(/ECONNREFUSED/);
    await sim.setDown(false);
    expect(new URL(sim.url).port).toBe(port);
    const ok = await sdk().messages.create({ to: TO, from: FROM, body: 'x' });
    expect(ok.sid).toMatch(/^SM/);
  });

  it('holds every answer until released: the request is received and logged, and answered only then', async () => {
    sim.holdAnswers();
    let settled = false;
    const sending = sdk()
      .messages.create({ to: TO, from: FROM, body: 'held' })
      .finally(() => (settled = true));
    const held = await waitFor('the held request at the simulator', () => sim.requests().find((r) => r.method === 'POST'));
    expect(held.status).toBeNull();
    expect(sim.messages()).toEqual([]);
    expect(settled).toBe(false);
    sim.releaseAnswers();
    expect((await sending).body).toBe('held');
    expect(held.status).toBe(201);
  });

  it('delays answers by the configured latency', async () => {
    sim.setLatency(150);
    const t0 = performance.now();
    await sdk().messages.create({ to: TO, from: FROM, body: 'x' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });
});
