// Aliyun SMS end to end through the official SDK against the Aliyun-compatible simulator: send, receipts pulled,
// signature checking, and how each answer maps to a transient or final error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/core/logger.js';
import { AliyunSmsProvider } from '../../gateway/notifiers/aliyun.js';
import { SmsSendError } from '../../gateway/notifiers/provider.js';
import { AliyunSmsSim } from '../../simulators/sms/aliyun-server.js';
import { ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, SIGN_NAME, TEST_CATALOGUE, pageIntent } from '../helpers/domestic-sms.js';

const TO = '+8613900000001';

let sim: AliyunSmsSim;

function provider(overrides: { accessKeySecret?: string; endpoint?: string } = {}): AliyunSmsProvider {
  return new AliyunSmsProvider({
    accessKeyId: ALIYUN_KEY_ID,
    accessKeySecret: overrides.accessKeySecret ?? ALIYUN_KEY_SECRET,
    signName: SIGN_NAME,
    endpoint: overrides.endpoint ?? sim.url,
    catalogue: () => TEST_CATALOGUE,
    timeoutMs: 2000,
    log: silentLogger(),
  });
}

async function sendError(p: AliyunSmsProvider, msg: Parameters<AliyunSmsProvider['send']>[0]): Promise<SmsSendError> {
  const err: unknown = await p.send(msg).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SmsSendError);
  if (!(err instanceof SmsSendError)) throw new Error('expected an SmsSendError');
  return err;
}

beforeEach(async () => {
  sim = new AliyunSmsSim({
    accessKeyId: ALIYUN_KEY_ID,
    accessKeySecret: ALIYUN_KEY_SECRET,
    catalogue: TEST_CATALOGUE,
    signNames: [SIGN_NAME],
    receiptDelayMs: 5,
  });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

describe('Aliyun SMS through the official SDK', () => {
  it('sends the approved template with its parameters and the message id as OutId', async () => {
    const result = await provider().send({
      id: 'sms-1',
      to: TO,
      body: 'free text is not sent',
      intent: pageIntent(),
      statusCallback: null,
    });
    expect(result.status).toBe('accepted');
    const m = await sim.waitForMessage();
    expect(m).toMatchObject({ sid: result.sid, to: TO, template: 'SMS_400000001', context: 'sms-1', signName: SIGN_NAME });
    expect(m.params).toEqual({ resident: '张桂兰', address: '3号楼2门401' });
    expect(m.body).toBe(`【${SIGN_NAME}】张桂兰在3号楼2门401求助，回1接单，回2转交。`);
    expect(sim.requests()[0]).toMatchObject({ action: 'SendSms', status: 200, code: 'OK' });
  });

  it('pulls the receipt with QuerySendDetails once the carrier has answered', async () => {
    const p = provider();
    sim.setDeliveryOutcome('+8613900000002', 'undelivered');
    const ok = await p.send({ id: 'sms-2', to: TO, body: '', intent: pageIntent(), statusCallback: null });
    const bad = await p.send({ id: 'sms-3', to: '+8613900000002', body: '', intent: pageIntent(), statusCallback: null });
    await sim.waitForMessage((m) => m.sid === bad.sid && m.status !== 'accepted');
    await sim.waitForMessage((m) => m.sid === ok.sid && m.status !== 'accepted');
    expect(await p.queryReceipt({ sid: ok.sid, to: TO, sentAt: Date.now() })).toEqual({
      sid: ok.sid,
      status: 'delivered',
      errorCode: 'DELIVERED',
    });
    expect(await p.queryReceipt({ sid: bad.sid, to: '+8613900000002', sentAt: Date.now() })).toEqual({
      sid: bad.sid,
      status: 'undelivered',
      errorCode: 'MK:0001',
    });
  });

  it('is refused by the simulator when signed with the wrong secret, as a final error', async () => {
    const err = await sendError(provider({ accessKeySecret: 'not-the-secret-0000000000' }), {
      id: 'x',
      to: TO,
      body: '',
      intent: pageIntent(),
      statusCallback: null,
    });
    expect(err).toMatchObject({ transient: false, providerCode: 'SignatureDoesNotMatch', httpStatus: 400 });
    expect(sim.messages()).toHaveLength(0);
  });

  it('maps flow control and 5xx to transient errors, and an unapproved template to a final one', async () => {
    const p = provider();
    const msg = { id: 'y', to: TO, body: '', intent: pageIntent(), statusCallback: null };
    sim.failNext(1, 'throttle');
    expect(await sendError(p, msg)).toMatchObject({ transient: true, providerCode: 'isv.BUSINESS_LIMIT_CONTROL' });
    sim.failNext(1, 503);
    expect(await sendError(p, msg)).toMatchObject({ transient: true, providerCode: 'ServiceUnavailable', httpStatus: 503 });
    sim.failNext(1, 'network');
    expect(await sendError(p, msg)).toMatchObject({ transient: true, httpStatus: null });
    sim.failNext(1, 'template_unapproved');
    expect(await sendError(p, msg)).toMatchObject({ transient: false, providerCode: 'isv.SMS_TEMPLATE_ILLEGAL' });
    // A template the account never had approved: the simulator knows only the catalogue it was given.
    const unknown = new AliyunSmsProvider({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      signName: SIGN_NAME,
      endpoint: sim.url,
      catalogue: () => ({ worker_page: { text: '${resident}', aliyun: { templateCode: 'SMS_999' } } }),
      log: silentLogger(),
    });
    expect(await sendError(unknown, msg)).toMatchObject({ transient: false, providerCode: 'isv.SMS_TEMPLATE_ILLEGAL' });
    expect(sim.messages()).toHaveLength(0);
  });

  it('refuses, before any request, a message without an intent or of a kind the catalogue lacks', async () => {
    const p = provider();
    expect(await sendError(p, { id: 'z', to: TO, body: 'hello', statusCallback: null })).toMatchObject({
      transient: false,
      providerCode: 'NO_INTENT',
    });
    expect(await sendError(p, { id: 'z', to: TO, body: '', intent: { kind: 'nope', params: {} }, statusCallback: null })).toMatchObject({
      transient: false,
      providerCode: 'NO_TEMPLATE',
    });
    expect(
      await sendError(p, { id: 'z', to: TO, body: '', intent: { kind: 'worker_page', params: { resident: '张' } }, statusCallback: null }),
    ).toMatchObject({ transient: false, providerCode: 'MISSING_PARAM' });
    expect(sim.requests()).toHaveLength(0);
  });

  it('fails as transient when nothing listens at the endpoint', async () => {
    const err = await sendError(provider({ endpoint: 'http://127.0.0.1:9' }), {
      id: 'w',
      to: TO,
      body: '',
      intent: pageIntent(),
      statusCallback: null,
    });
    expect(err.transient).toBe(true);
  });
});
