// TwilioProvider (real SDK, on its sender thread) against the Twilio simulator: error mapping, URL rewriting, timeouts; and the outbox.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { RewritingRequestClient, TwilioProvider, toSendError } from '../../gateway/notifiers/twilio.js';
import { describeSendFailure } from '../../gateway/notifiers/twilio-sdk.mjs';
import { OutboxProvider } from '../../gateway/notifiers/outbox.js';
import { SmsSendError } from '../../gateway/notifiers/provider.js';
import { GatewayError } from '../../gateway/core/errors.js';
import { createLogger, silentLogger } from '../../gateway/core/logger.js';

const FROM = '+15005550006';
const TO = '+8613800000001';

let sim: TwilioSimServer;
let apiUrl: string;

const providers: TwilioProvider[] = [];

function provider(over: Partial<ConstructorParameters<typeof TwilioProvider>[0]> = {}): TwilioProvider {
  const p = new TwilioProvider({ accountSid: sim.accountSid, authToken: sim.authToken, from: FROM, apiUrl, log: silentLogger(), ...over });
  providers.push(p);
  return p;
}

async function sendError(p: TwilioProvider, to = TO): Promise<SmsSendError> {
  try {
    await p.send({ to, body: 'x', statusCallback: null });
  } catch (err) {
    if (err instanceof SmsSendError) return err;
    throw err;
  }
  throw new Error('expected the send to fail');
}

beforeAll(async () => {
  sim = new TwilioSimServer({ callbackDelayMs: 1 });
  apiUrl = (await sim.start()).url;
});

afterAll(async () => {
  for (const p of providers.splice(0)) await p.close();
  await sim.stop();
});

beforeEach(async () => {
  sim.clearFaults();
  await sim.setDown(false);
});

describe('TwilioProvider', () => {
  it('sends through the SDK to TWILIO_API_URL with the status callback', async () => {
    const result = await provider().send({ to: TO, body: '求助：张桂兰', statusCallback: 'http://127.0.0.1:9/webhooks/twilio/status' });
    expect(result.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(result.status).toBe('accepted');
    const msg = await sim.waitForMessage((m) => m.sid === result.sid, 1000);
    expect(msg).toMatchObject({
      to: TO,
      from: FROM,
      body: '求助：张桂兰',
      statusCallback: 'http://127.0.0.1:9/webhooks/twilio/status',
      encoding: 'UCS-2',
    });
  });

  it('sends from a Messaging Service when TWILIO_FROM is an MG SID', async () => {
    const service = `MG${'ab'.repeat(16)}`;
    const result = await provider({ from: service }).send({ to: TO, body: 'x', statusCallback: null });
    const msg = await sim.waitForMessage((m) => m.sid === result.sid, 1000);
    expect(msg.messagingServiceSid).toBe(service);
    expect(msg.from).toBeNull();
  });

  it('maps an invalid number (21211) to a permanent SmsSendError', async () => {
    const err = await sendError(provider(), '12345');
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.transient).toBe(false);
    expect(err.providerCode).toBe('21211');
    expect(err.httpStatus).toBe(400);
    expect(err.code).toBe('GW_ERR_SMS_REJECTED');
  });

  it('maps wrong credentials (401 / 20003) to a permanent error', async () => {
    const err = await sendError(provider({ authToken: 'wrong' }));
    expect(err.transient).toBe(false);
    expect(err.providerCode).toBe('20003');
    expect(err.httpStatus).toBe(401);
  });

  it.each([429, 500, 503] as const)('maps HTTP %i to a transient error', async (status) => {
    sim.failNext(1, { status });
    const err = await sendError(provider());
    expect(err.transient).toBe(true);
    expect(err.httpStatus).toBe(status);
    expect(err.code).toBe('GW_ERR_SMS_TRANSIENT');
  });

  it('maps a reset connection and a refused one to transient errors', async () => {
    sim.failNext(1, { status: 'network' });
    const reset = await sendError(provider());
    expect(reset.transient).toBe(true);
    expect(reset.httpStatus).toBeNull();
    expect(reset.providerCode).toBe('ECONNRESET');

    await sim.setDown(true);
    const refused = await sendError(provider());
    expect(refused.transient).toBe(true);
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(refused.providerCode);
  });

  it('gives up on a slow provider after the request timeout, as a transient error', async () => {
    // The server would answer (successfully) after 5 s: ECONNABORTED shows the request timeout ended it first, with
    // no wall-clock bound that a loaded machine could break.
    sim.setLatency(5000);
    const err = await sendError(provider({ timeoutMs: 150 }));
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBe('ECONNABORTED');
  });

  it('treats an unexplained failure as transient', () => {
    const err = toSendError(describeSendFailure(new Error('boom')));
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBeNull();
  });
});

describe('RewritingRequestClient', () => {
  it('swaps only the api.twilio.com origin', () => {
    const c = new RewritingRequestClient('http://127.0.0.1:4010/');
    expect(c.rewrite('https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=50')).toBe(
      'http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json?PageSize=50',
    );
    expect(c.rewrite('https://api.twilio.com:443/2010-04-01/x.json')).toBe('http://127.0.0.1:4010/2010-04-01/x.json');
    expect(c.rewrite('https://messaging.twilio.com/v1/Services')).toBe('https://messaging.twilio.com/v1/Services');
    expect(c.rewrite('https://api.twilio.com.evil.example/x')).toBe('https://api.twilio.com.evil.example/x');
    expect(new RewritingRequestClient(null).rewrite('https://api.twilio.com/x')).toBe('https://api.twilio.com/x');
  });
});

describe('OutboxProvider', () => {
  it('keeps the message, sends nothing and warns loudly every time', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const outbox = new OutboxProvider({ log: createLogger({ level: 'info', destination }) });
    const before = sim.requests().length;
    const a = await outbox.send({ to: TO, body: 'secret body', statusCallback: null });
    const b = await outbox.send({ to: TO, body: 'x', statusCallback: null });
    expect(a.sid).toMatch(/^OB[0-9a-f]{32}$/);
    expect(a.sid).not.toBe(b.sid);
    expect(a.status).toBe('outbox');
    expect(sim.requests().length).toBe(before);
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]?.msg).toMatch(/SMS NOT SENT/);
    expect(lines.join('')).not.toContain('secret body');
  });
});
