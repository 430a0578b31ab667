// The SMS simulator as one server: the real twilio SDK through its proxy, answering phones posting signed replies, and the phones page.
import twilio from 'twilio';
import { waitFor } from '../helpers/wait.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RewritingRequestClient } from '../../gateway/notifiers/twilio.js';
import { escapeHtml } from '../../simulators/sms/phone-page.js';
import { parseDefaultFlag, parseReplyFlag, parseResponderYaml, responderSet } from '../../simulators/sms/responders.js';
import { SmsSimulator } from '../../simulators/sms/sms-simulator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/sms.js';

const FROM = '+15005550006';
const WORKER = '+8613900000001';
const SILENT = '+8613900000002';
const CHATTY = '+8613900000003';
const PAGE = '【求助】张桂兰 安达里3号楼2门401 按了求助 14:05 回1接单 回2转他人';

let receiver: WebhookReceiver;
let sim: SmsSimulator;

function sdk(): twilio.Twilio {
  return twilio(sim.twilio.accountSid, sim.twilio.authToken, {
    httpClient: new RewritingRequestClient(sim.url, { timeout: 3000, autoRetry: false }),
  });
}

const inbound = () => receiver.received.filter((h) => h.path === '/webhooks/twilio/sms');
const send = (to: string, body: string) =>
  sdk().messages.create({ to, from: FROM, body, statusCallback: `${receiver.url}/webhooks/twilio/status` });

beforeEach(async () => {
  receiver = await startWebhookReceiver('sim-token');
  const config = parseResponderYaml(
    `default: { reply: ok }
phones:
  - { phone: "${WORKER}", reply: 1, after: 100ms }
  - { phone: "${SILENT}", reply: never }
`,
    'responders.yaml',
  );
  sim = new SmsSimulator({
    authToken: 'sim-token',
    callbackDelayMs: 5,
    gatewayUrl: receiver.url,
    set: responderSet(config, null),
    label: (phone) => (phone === WORKER ? 'worker w-01 <李明>' : null),
    knownPhones: [SILENT],
  });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
  await receiver.close();
});

describe('SmsSimulator', () => {
  it('takes messages from the twilio SDK through its own port and posts signed status callbacks', async () => {
    const created = await send(WORKER, 'hello');
    expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(sim.twilio.messages().map((m) => m.body)).toEqual(['hello']);
    await waitFor('delivered callback', () => receiver.received.some((h) => h.params.MessageStatus === 'delivered'), { timeoutMs: 3000 });
    expect(receiver.received.every((h) => h.valid)).toBe(true);
  });

  it('a phone with a rule replies after its delay, as a signed inbound webhook; "never" and untriggered messages get no reply', async () => {
    await send(WORKER, PAGE);
    await send(SILENT, PAGE);
    await send(WORKER, '详情及导航 http://example/i/ABC');
    await waitFor('a reply', () => inbound().length >= 1, { timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(inbound().map((h) => [h.params.From, h.params.Body, h.params.To, h.valid])).toEqual([[WORKER, '1', FROM, true]]);
    expect(sim.responders.replies()).toMatchObject([{ from: WORKER, body: '1', httpStatus: 200, error: null }]);
  });

  it('does not answer the answer to its own reply, so a help text containing the trigger cannot start a loop', async () => {
    await send(CHATTY, PAGE);
    await waitFor('the fallback reply', () => inbound().length === 1, { timeoutMs: 3000 });
    await send(CHATTY, '回1接单，回2转给下一位。如有疑问请联系社区值班室。');
    await new Promise((r) => setTimeout(r, 300));
    expect(inbound().map((h) => h.params.Body)).toEqual(['ok']);
  });

  it('shows every phone and its conversation on GET /, escaped, and sends a reply typed into the page', async () => {
    await send(WORKER, '<script>alert("x")</script> 回2');
    const reply = await fetch(`${sim.url}/phones/${encodeURIComponent(WORKER)}/reply`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'body=%E5%88%B0',
      redirect: 'manual',
    });
    expect(reply.status).toBe(303);
    await waitFor('the typed reply', () => inbound().some((h) => h.params.Body === '到'), { timeoutMs: 3000 });

    const page = await fetch(`${sim.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain(escapeHtml('<script>alert("x")</script> 回2'));
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('worker w-01 &lt;李明&gt;');
    expect(html).toContain(SILENT);
    expect(html).toContain('never replies');
    expect(html).toContain('>到</div>');

    const bad = await fetch(`${sim.url}/phones/${encodeURIComponent(WORKER)}/reply`, {
      method: 'POST',
      body: 'body=',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(bad.status).toBe(400);
  });

  it('passes a network fault of the inner server on as a dropped connection', async () => {
    sim.twilio.failNext(1, { status: 'network' });
    await expect(send(WORKER, 'lost')).rejects.toThrow();
    await expect(send(WORKER, 'fine')).resolves.toMatchObject({ body: 'fine' });
  });
});

describe('responder configuration', () => {
  it('parses flags and refuses bad entries by name', () => {
    expect(parseReplyFlag('+8613900000001=1@5s')).toEqual({ phone: '+8613900000001', reply: '1', afterMs: 5000 });
    expect(parseReplyFlag('+8613900000001=never')).toEqual({ phone: '+8613900000001', reply: null, afterMs: 0 });
    expect(() => parseReplyFlag('13900000001=1')).toThrow('--reply: expected PHONE=TEXT[@DELAY]');
    expect(parseDefaultFlag('1@30s')).toEqual({ reply: '1', afterMs: 30_000 });
    expect(() => parseResponderYaml('phones:\n  - { phone: "+86139", reply: 1 }\n', 'r.yaml')).toThrow(
      'r.yaml: phones[0].phone: expected an E.164 phone number',
    );
    expect(() => parseResponderYaml('phones:\n  - { reply: 1 }\n', 'r.yaml')).toThrow(
      'r.yaml: phones[0]: give exactly one of "phone" or "who"',
    );
    expect(() => responderSet(parseResponderYaml('phones:\n  - { who: worker w-01, reply: 1 }\n', 'r.yaml'), null)).toThrow(
      'needs a registry',
    );
  });
});
