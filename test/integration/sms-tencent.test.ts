// Tencent Cloud SMS end to end through the official SDK against the Tencent-compatible simulator: send, receipts and
// replies pulled, signature checking, and how each answer maps to a transient or final error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/core/logger.js';
import { SmsSendError } from '../../gateway/notifiers/provider.js';
import { TencentSmsProvider } from '../../gateway/notifiers/tencent.js';
import { TencentSmsSim } from '../../simulators/sms/tencent-server.js';
import { SIGN_NAME, TENCENT_APP_ID, TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TEST_CATALOGUE, pageIntent } from '../helpers/domestic-sms.js';

const TO = '+8613900000001';

let sim: TencentSmsSim;
const providers: TencentSmsProvider[] = [];

function provider(overrides: { secretKey?: string; endpoint?: string; maxParamLength?: number | null } = {}): TencentSmsProvider {
  const p = new TencentSmsProvider({
    secretId: TENCENT_SECRET_ID,
    secretKey: overrides.secretKey ?? TENCENT_SECRET_KEY,
    sdkAppId: TENCENT_APP_ID,
    signName: SIGN_NAME,
    region: 'ap-guangzhou',
    endpoint: overrides.endpoint ?? sim.url,
    catalogue: () => TEST_CATALOGUE,
    ...(overrides.maxParamLength !== undefined ? { maxParamLength: overrides.maxParamLength } : {}),
    timeoutMs: 2000,
    log: silentLogger(),
  });
  providers.push(p);
  return p;
}

async function sendError(p: TencentSmsProvider, msg: Parameters<TencentSmsProvider['send']>[0]): Promise<SmsSendError> {
  const err: unknown = await p.send(msg).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof SmsSendError)) throw new Error(`expected an SmsSendError, got ${String(err)}`);
  return err;
}

beforeEach(async () => {
  sim = new TencentSmsSim({
    secretId: TENCENT_SECRET_ID,
    secretKey: TENCENT_SECRET_KEY,
    sdkAppId: TENCENT_APP_ID,
    catalogue: TEST_CATALOGUE,
    signNames: [SIGN_NAME],
    receiptDelayMs: 5,
  });
  await sim.start();
});

afterEach(async () => {
  for (const p of providers.splice(0)) await p.close();
  await sim.stop();
});

describe('Tencent Cloud SMS through the official SDK', () => {
  it('sends the approved template with positional parameters and the message id as SessionContext', async () => {
    const result = await provider().send({
      id: 'sms-1',
      to: TO,
      body: 'free text is not sent',
      intent: pageIntent(),
      statusCallback: null,
    });
    expect(result.status).toBe('accepted');
    const m = await sim.waitForMessage();
    expect(m).toMatchObject({
      sid: result.sid,
      to: TO,
      template: '2000001',
      context: 'sms-1',
      signName: SIGN_NAME,
      params: ['张桂兰', '3号楼2门401'],
    });
    expect(m.body).toBe(`【${SIGN_NAME}】张桂兰在3号楼2门401求助，回1接单，回2转交。`);
  });

  it('pulls status reports and replies when no callback URL is configured', async () => {
    const p = provider();
    sim.setDeliveryOutcome('+8613900000002', 'undelivered');
    const ok = await p.send({ id: 'a', to: TO, body: '', intent: pageIntent(), statusCallback: null });
    const bad = await p.send({ id: 'b', to: '+8613900000002', body: '', intent: pageIntent(), statusCallback: null });
    await sim.waitForMessage((m) => m.sid === ok.sid && m.status !== 'accepted');
    await sim.waitForMessage((m) => m.sid === bad.sid && m.status !== 'accepted');
    const receipts = await p.pullReceipts();
    expect(receipts).toEqual(
      expect.arrayContaining([
        { sid: ok.sid, status: 'delivered', errorCode: 'DELIVRD' },
        { sid: bad.sid, status: 'undelivered', errorCode: 'MK:0001' },
      ]),
    );
    // Each report is handed out once.
    expect(await p.pullReceipts()).toEqual([]);
    expect(await sim.reply(TO, '1')).toBeNull();
    const replies = await p.pullReplies(1000);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ provider: 'tencent', from: TO, body: '1', receivedAt: 1000 });
    expect(replies[0]?.providerSid).toMatch(/^r-[0-9a-f]{32}$/);
  });

  it('is refused by the simulator when signed with the wrong key, as a final error', async () => {
    const err = await sendError(provider({ secretKey: 'not-the-key-000000000000' }), {
      id: 'x',
      to: TO,
      body: '',
      intent: pageIntent(),
      statusCallback: null,
    });
    expect(err).toMatchObject({ transient: false, providerCode: 'AuthFailure.SignatureFailure' });
    expect(sim.messages()).toHaveLength(0);
  });

  it('maps flow control, the 30-second rule and 5xx to transient errors, and an unapproved template to a final one', async () => {
    const p = provider();
    const msg = { id: 'y', to: TO, body: '', intent: pageIntent(), statusCallback: null };
    sim.failNext(1, 'throttle');
    expect(await sendError(p, msg)).toMatchObject({ transient: true, providerCode: 'LimitExceeded.DeliveryFrequencyLimit' });
    sim.failNext(1, 502);
    expect(await sendError(p, msg)).toMatchObject({ transient: true, httpStatus: 502 });
    sim.failNext(1, 'network');
    expect(await sendError(p, msg)).toMatchObject({ transient: true, httpStatus: null });
    sim.failNext(1, 'template_unapproved');
    expect(await sendError(p, msg)).toMatchObject({ transient: false, providerCode: 'FailedOperation.TemplateIncorrectOrUnapproved' });
    await p.send(msg);
    expect(await sendError(p, msg)).toMatchObject({ transient: true, providerCode: 'LimitExceeded.PhoneNumberThirtySecondLimit' });
    expect(sim.messages()).toHaveLength(1);
  });

  it('refuses a kind without a Tencent template; cuts a parameter to 12 characters, which an account without the limit sends whole', async () => {
    const p = provider();
    expect(
      await sendError(p, { id: 'z', to: TO, body: '', intent: { kind: 'digest', params: { count: '3' } }, statusCallback: null }),
    ).toMatchObject({ transient: false, providerCode: 'NO_TEMPLATE' });
    expect(await sendError(p, { id: 'z', to: TO, body: 'x', statusCallback: null })).toMatchObject({
      transient: false,
      providerCode: 'NO_INTENT',
    });
    expect(sim.requests()).toHaveLength(0);
    // An individual account (the default): the address keeps its end, so the flat number survives, and the SMS goes.
    const cut = await p.send({
      id: 'y',
      to: TO,
      body: '',
      intent: pageIntent('张桂兰', '安达里社区三号楼二门四零一室'),
      statusCallback: null,
    });
    expect((await sim.waitForMessage((m) => m.sid === cut.sid)).params).toEqual(['张桂兰', '…社区三号楼二门四零一室']);
    // TENCENT_SMS_MAX_PARAM=0 (an enterprise account) sends it whole; the individual-account simulator refuses it as Tencent would.
    const long = await sendError(provider({ maxParamLength: null }), {
      id: 'z',
      to: TO,
      body: '',
      intent: pageIntent('张桂兰', '安达里社区三号楼二门四零一室'),
      statusCallback: null,
    });
    expect(long).toMatchObject({ transient: false, providerCode: 'InvalidParameterValue.TemplateParameterLengthLimit' });
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
