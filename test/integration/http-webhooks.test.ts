// Twilio webhooks: signatures computed with twilio's own SDK over PUBLIC_URL + path, refusals, limits, and a real listening server.
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { EMPTY_TWIML } from '../../gateway/http/routes/twilio-webhooks.js';
import { listen } from '../../gateway/http/server.js';
import { createHttpFixture, expectErrorBody, makePage, PUBLIC_URL, TWILIO_AUTH_TOKEN, type HttpFixture } from '../helpers/http-fixture.js';

const SMS_PATH = '/webhooks/twilio/sms';
const STATUS_PATH = '/webhooks/twilio/status';
const PHONE = '+8613900000001';
const REPLY_TEXT = '1 马上到';

function inboundForm(extra: Record<string, string> = {}): Record<string, string> {
  return {
    MessageSid: 'SM0123456789abcdef0123456789abcdef',
    AccountSid: 'AC0123456789abcdef0123456789abcdef',
    From: PHONE,
    To: '+15005550006',
    Body: REPLY_TEXT,
    NumMedia: '0',
    ...extra,
  };
}

function sign(url: string, params: Record<string, string>, token = TWILIO_AUTH_TOKEN): string {
  return twilio.getExpectedTwilioSignature(token, url, params);
}

function formRequest(path: string, params: Record<string, string>, signature: string | null, headers: Record<string, string> = {}) {
  return {
    method: 'POST' as const,
    url: path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature === null ? {} : { 'x-twilio-signature': signature }),
      ...headers,
    },
    payload: new URLSearchParams(params).toString(),
  };
}

describe('POST /webhooks/twilio/sms', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await createHttpFixture();
  });
  afterEach(async () => fx.close());

  it('accepts a valid signature over PUBLIC_URL + path, hands the SMS over, and answers empty TwiML', async () => {
    const params = inboundForm();
    const before = Date.now();
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.body).toBe(EMPTY_TWIML);
    expect(fx.inbound.received).toHaveLength(1);
    const sms = fx.inbound.received[0];
    expect(sms).toMatchObject({ from: PHONE, body: REPLY_TEXT, providerSid: params.MessageSid });
    expect(sms?.receivedAt).toBeGreaterThanOrEqual(before);
  });

  it('stamps the SMS with the gateway clock, not the host clock', async () => {
    await fx.close();
    // An hour behind the host's clock: the stamp can only be the gateway's.
    const clock = new ManualClock(Date.now() - 3_600_000);
    fx = await createHttpFixture({ override: { clock } });
    const params = inboundForm();
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(res.statusCode).toBe(200);
    expect(fx.inbound.received[0]?.receivedAt).toBe(clock.now());
  });

  it('passes a null provider SID when Twilio sent none', async () => {
    const { MessageSid: _omit, ...params } = inboundForm();
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(res.statusCode).toBe(200);
    expect(fx.inbound.received[0]?.providerSid).toBeNull();
  });

  it('includes the query string in the signed URL', async () => {
    const params = inboundForm();
    const path = `${SMS_PATH}?site=andali`;
    const ok = await fx.app.inject(formRequest(path, params, sign(PUBLIC_URL + path, params)));
    expect(ok.statusCode).toBe(200);
    const withoutQuery = await fx.app.inject(formRequest(path, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(withoutQuery.statusCode).toBe(403);
    expect(fx.inbound.received).toHaveLength(1);
  });

  it('refuses a forged signature with 403 GW_ERR_BAD_SIGNATURE, acts on nothing, and logs a warning without the body', async () => {
    const params = inboundForm();
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params, 'not-the-auth-token')));
    expect(res.statusCode).toBe(403);
    expectErrorBody(res.json(), 'GW_ERR_BAD_SIGNATURE');
    expect(fx.inbound.received).toEqual([]);

    const warnings = fx.logLines.filter((l) => l.includes('"level":40') && l.includes('webhook refused'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('bad_signature');
    const allLogs = fx.logLines.join('\n');
    expect(allLogs).not.toContain(PHONE);
    expect(allLogs).not.toContain('8613900000001');
    expect(allLogs).not.toContain(REPLY_TEXT);
    expect(allLogs).not.toContain('马上到');

    const metrics = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/security_events_total\{kind="webhook_bad_signature"\} 1/);
  });

  it('refuses a signature computed over a different host (the Host header is not trusted)', async () => {
    const params = inboundForm();
    const hostUrl = `http://gateway.internal:8080${SMS_PATH}`;
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(hostUrl, params), { host: 'gateway.internal:8080' }));
    expect(res.statusCode).toBe(403);
    // The same request signed over PUBLIC_URL passes whatever Host says.
    const ok = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params), { host: 'gateway.internal:8080' }));
    expect(ok.statusCode).toBe(200);
    expect(fx.inbound.received).toHaveLength(1);
  });

  it('refuses a missing signature and a body changed after signing', async () => {
    const params = inboundForm();
    expect((await fx.app.inject(formRequest(SMS_PATH, params, null))).statusCode).toBe(403);
    const signature = sign(PUBLIC_URL + SMS_PATH, params);
    const tampered = await fx.app.inject(formRequest(SMS_PATH, { ...params, Body: '2' }, signature));
    expect(tampered.statusCode).toBe(403);
    expect(fx.inbound.received).toEqual([]);
  });

  it('checks the signature before the form shape: unsigned junk is 403, signed junk is 400', async () => {
    const junk = { Hello: 'world' };
    expect((await fx.app.inject(formRequest(SMS_PATH, junk, 'abc'))).statusCode).toBe(403);
    const signedJunk = await fx.app.inject(formRequest(SMS_PATH, junk, sign(PUBLIC_URL + SMS_PATH, junk)));
    expect(signedJunk.statusCode).toBe(400);
    expect(signedJunk.json()).toMatchObject({ error: { code: 'GW_ERR_BAD_REQUEST' } });
    expect(fx.inbound.received).toEqual([]);
  });

  it('answers 413 to a body over 64 KiB without acting on it', async () => {
    const params = inboundForm({ Body: 'x'.repeat(70 * 1024) });
    const res = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'GW_ERR_PAYLOAD_TOO_LARGE' } });
    expect(fx.inbound.received).toEqual([]);
  });

  it('takes only form bodies: JSON is 415', async () => {
    const res = await fx.app.inject({
      method: 'POST',
      url: SMS_PATH,
      headers: { 'content-type': 'application/json', 'x-twilio-signature': sign(PUBLIC_URL + SMS_PATH, inboundForm()) },
      payload: JSON.stringify(inboundForm()),
    });
    expect(res.statusCode).toBe(415);
    expect(fx.inbound.received).toEqual([]);
  });
});

describe('webhooks without a Twilio auth token (outbox mode)', () => {
  let fx: HttpFixture;
  beforeAll(async () => {
    fx = await createHttpFixture({ twilioAuthToken: null });
  });
  afterAll(async () => fx.close());

  it('refuses everything with 403, since nothing can be verified', async () => {
    const params = inboundForm();
    const sms = await fx.app.inject(formRequest(SMS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(sms.statusCode).toBe(403);
    expect(sms.json()).toMatchObject({ error: { code: 'GW_ERR_BAD_SIGNATURE' } });
    const status = { MessageSid: 'SM1', MessageStatus: 'delivered' };
    expect((await fx.app.inject(formRequest(STATUS_PATH, status, sign(PUBLIC_URL + STATUS_PATH, status)))).statusCode).toBe(403);
    expect(fx.inbound.received).toEqual([]);
    expect(fx.smsStatus.received).toEqual([]);
    expect(fx.logLines.filter((l) => l.includes('no_auth_token'))).toHaveLength(2);
  });
});

describe('POST /webhooks/twilio/status', () => {
  let fx: HttpFixture;
  beforeEach(async () => {
    fx = await createHttpFixture();
    await fx.store.sms.insert(
      makePage({ id: 'sms-1', incidentId: 'inc-1', createdAt: Date.now(), providerSid: 'SMaaa', status: 'accepted' }),
    );
  });
  afterEach(async () => fx.close());

  it('routes a signed delivery receipt to the status handler and answers 204', async () => {
    const params = { MessageSid: 'SMaaa', MessageStatus: 'delivered', AccountSid: 'AC1', SmsStatus: 'delivered' };
    const res = await fx.app.inject(formRequest(STATUS_PATH, params, sign(PUBLIC_URL + STATUS_PATH, params)));
    expect(res.statusCode).toBe(204);
    expect(fx.smsStatus.received).toEqual([{ MessageSid: 'SMaaa', MessageStatus: 'delivered' }]);
    expect((await fx.store.sms.get('sms-1'))?.status).toBe('delivered');
  });

  it('passes ErrorCode along, and answers 204 for an unknown SID too', async () => {
    const failed = { MessageSid: 'SMaaa', MessageStatus: 'failed', ErrorCode: '30003' };
    expect((await fx.app.inject(formRequest(STATUS_PATH, failed, sign(PUBLIC_URL + STATUS_PATH, failed)))).statusCode).toBe(204);
    expect(await fx.store.sms.get('sms-1')).toMatchObject({ status: 'failed', errorCode: '30003' });
    const unknown = { MessageSid: 'SMzzz', MessageStatus: 'sent' };
    expect((await fx.app.inject(formRequest(STATUS_PATH, unknown, sign(PUBLIC_URL + STATUS_PATH, unknown)))).statusCode).toBe(204);
    expect(fx.smsStatus.received.map((p) => p.MessageSid)).toEqual(['SMaaa', 'SMzzz']);
  });

  it('refuses a receipt signed for the other webhook path', async () => {
    const params = { MessageSid: 'SMaaa', MessageStatus: 'delivered' };
    const res = await fx.app.inject(formRequest(STATUS_PATH, params, sign(PUBLIC_URL + SMS_PATH, params)));
    expect(res.statusCode).toBe(403);
    expect(fx.smsStatus.received).toEqual([]);
    expect((await fx.store.sms.get('sms-1'))?.status).toBe('accepted');
  });
});

describe('listen() on a real port', () => {
  let fx: HttpFixture;
  let port: number;
  beforeAll(async () => {
    fx = await createHttpFixture();
    port = await listen(fx.app, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => fx.close());

  it('binds a free port and serves a signed webhook arriving at a host other than PUBLIC_URL', async () => {
    expect(port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    const params = inboundForm();
    const res = await fetch(`http://127.0.0.1:${port}${SMS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(PUBLIC_URL + SMS_PATH, params) },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(EMPTY_TWIML);
    expect(fx.inbound.received.map((s) => s.body)).toEqual([REPLY_TEXT]);
  });
});
