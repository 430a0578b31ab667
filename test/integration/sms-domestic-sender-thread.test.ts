// The Aliyun and Tencent SDKs on their sender thread, under faults: each real SDK against its simulator, a thread that
// dies mid-send or hangs, one that cannot start, a send after close, and failover to the other provider when the
// first one's thread is lost with a page.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { AliyunSmsProvider } from '../../gateway/notifiers/aliyun.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { SmsSendError, type OutgoingSms, type SmsProvider } from '../../gateway/notifiers/provider.js';
import type { SenderThreadSettings } from '../../gateway/notifiers/threaded-sender.js';
import { TencentSmsProvider } from '../../gateway/notifiers/tencent.js';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { AliyunSmsSim } from '../../simulators/sms/aliyun-server.js';
import { TencentSmsSim } from '../../simulators/sms/tencent-server.js';
import {
  ALIYUN_KEY_ID,
  ALIYUN_KEY_SECRET,
  SIGN_NAME,
  TENCENT_APP_ID,
  TENCENT_SECRET_ID,
  TENCENT_SECRET_KEY,
  TEST_CATALOGUE,
  pageIntent,
} from '../helpers/domestic-sms.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const TO = '+8613900000001';
const FAULTY = new URL('../fixtures/domestic-sender-faulty.mjs', import.meta.url);
const BROKEN = new URL('../fixtures/domestic-sender-broken.mjs', import.meta.url);

let aliyunSim: AliyunSmsSim;
let tencentSim: TencentSmsSim;
const providers: SmsProvider[] = [];

function aliyun(senderThread: SenderThreadSettings = {}): AliyunSmsProvider {
  const p = new AliyunSmsProvider({
    accessKeyId: ALIYUN_KEY_ID,
    accessKeySecret: ALIYUN_KEY_SECRET,
    signName: SIGN_NAME,
    endpoint: aliyunSim.url,
    catalogue: () => TEST_CATALOGUE,
    timeoutMs: 2000,
    log: silentLogger(),
    senderThread,
  });
  providers.push(p);
  return p;
}

function tencent(senderThread: SenderThreadSettings = {}): TencentSmsProvider {
  const p = new TencentSmsProvider({
    secretId: TENCENT_SECRET_ID,
    secretKey: TENCENT_SECRET_KEY,
    sdkAppId: TENCENT_APP_ID,
    signName: SIGN_NAME,
    region: 'ap-guangzhou',
    endpoint: tencentSim.url,
    catalogue: () => TEST_CATALOGUE,
    timeoutMs: 2000,
    log: silentLogger(),
    senderThread,
  });
  providers.push(p);
  return p;
}

function page(resident: string, id = `sms-${resident}`): OutgoingSms {
  return { id, to: TO, body: '', intent: pageIntent(resident), statusCallback: null };
}

async function failure(p: SmsProvider, msg: OutgoingSms): Promise<SmsSendError> {
  const err: unknown = await p.send(msg).then(
    () => new Error('expected the send to fail'),
    (e: unknown) => e,
  );
  if (err instanceof SmsSendError) return err;
  throw err;
}

beforeAll(async () => {
  const common = { catalogue: TEST_CATALOGUE, signNames: [SIGN_NAME], receiptDelayMs: 5 };
  aliyunSim = new AliyunSmsSim({ ...common, accessKeyId: ALIYUN_KEY_ID, accessKeySecret: ALIYUN_KEY_SECRET });
  tencentSim = new TencentSmsSim({ ...common, secretId: TENCENT_SECRET_ID, secretKey: TENCENT_SECRET_KEY, sdkAppId: TENCENT_APP_ID });
  await aliyunSim.start();
  await tencentSim.start();
});

afterEach(async () => {
  for (const p of providers.splice(0)) await p.close?.();
});

afterAll(async () => {
  await aliyunSim.stop();
  await tencentSim.stop();
});

describe('domestic SMS sender thread', () => {
  it('sends each provider’s SendSms from its thread, signed and shaped as on the event loop', async () => {
    const a = aliyun();
    const sentA = await a.send(page('李秀英', 'sms-a1'));
    expect(await aliyunSim.waitForMessage((m) => m.sid === sentA.sid)).toMatchObject({
      to: TO,
      template: 'SMS_400000001',
      context: 'sms-a1',
      params: { resident: '李秀英', address: '3号楼2门401' },
    });
    expect(a.health()).toEqual({ sender: 'thread', senderRestarts: 0, problem: null });

    const t = tencent();
    const sentT = await t.send(page('王淑珍', 'sms-t1'));
    expect(await tencentSim.waitForMessage((m) => m.sid === sentT.sid)).toMatchObject({ template: '2000001', context: 'sms-t1' });
    expect(t.health()).toEqual({ sender: 'thread', senderRestarts: 0, problem: null });
  });

  it('fails the send of a thread that dies mid-send as transient, and sends the next through a new thread', async () => {
    const p = aliyun({ url: FAULTY });
    const err = await failure(p, page('CRASH'));
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBe('SENDER_THREAD_LOST');
    expect(err.message).toMatch(/Aliyun SMS: .*exited \(code 7\)/);
    const next = await p.send(page('赵桂芳'));
    expect(await aliyunSim.waitForMessage((m) => m.sid === next.sid)).toMatchObject({ params: { resident: '赵桂芳' } });
    expect(p.health()).toMatchObject({ sender: 'thread', senderRestarts: 1, problem: null });
  });

  it('gives up on a send its thread does not answer, and replaces the stuck thread', async () => {
    // 4 s: the first send's watchdog also covers the thread's start (loading the SDK), over 2 s on a host at load 10.
    const p = tencent({ url: FAULTY, watchdogMs: 4000 });
    // One send first, so the thread has loaded the SDK: a thread that hangs while still starting (slow on a loaded
    // host) cannot have sent anything, and its send would rightly go on to the next thread instead of failing.
    await p.send(page('钱玉珍'));
    const err = await failure(p, page('HANG'));
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBe('SENDER_THREAD_LOST');
    expect(err.message).toMatch(/did not answer within 4000 ms/);
    const next = await p.send(page('孙玉兰'));
    expect(await tencentSim.waitForMessage((m) => m.sid === next.sid)).toMatchObject({ template: '2000001' });
    expect(p.health().senderRestarts).toBe(1);
  });

  it('moves sends onto the event loop when the thread cannot start, without losing the one waiting, and says so', async () => {
    const p = tencent({ url: BROKEN, maxStartFailures: 3 });
    const sent = await p.send(page('周凤英'));
    expect(await tencentSim.waitForMessage((m) => m.sid === sent.sid)).toMatchObject({ context: 'sms-周凤英' });
    const health = p.health();
    expect(health.sender).toBe('event-loop');
    expect(health.problem).toMatch(/Tencent SMS sender thread could not start \(cannot load the SMS SDK\)/);
  });

  it('keeps the provider’s own answers: a refused template is final, a provider down is transient', async () => {
    const p = aliyun();
    aliyunSim.failNext(1, 'template_unapproved');
    expect(await failure(p, page('吴秀兰'))).toMatchObject({ transient: false, providerCode: 'isv.SMS_TEMPLATE_ILLEGAL' });
    aliyunSim.failNext(1, 503);
    expect(await failure(p, page('吴秀兰'))).toMatchObject({ transient: true, providerCode: 'ServiceUnavailable', httpStatus: 503 });
    const down = new AliyunSmsProvider({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      signName: SIGN_NAME,
      endpoint: 'http://127.0.0.1:9',
      catalogue: () => TEST_CATALOGUE,
      timeoutMs: 2000,
      log: silentLogger(),
    });
    providers.push(down);
    const err = await failure(down, page('郑桂英'));
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/Aliyun SMS unreachable/);
  });

  it('fails a send after close as transient, at once', async () => {
    const p = aliyun();
    await p.close();
    const err = await failure(p, page('冯淑兰'));
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/SMS sender is closed/);
  });

  it('hands a page whose thread was lost with it to the fallback provider at once', async () => {
    const dir = tempDir('care-gw-domestic-sender-');
    const store = openSqliteStore(`${dir.path}/gateway.db`);
    const dispatcher = new SmsDispatcher({
      store,
      provider: aliyun({ url: FAULTY }),
      fallback: tencent(),
      catalogue: () => TEST_CATALOGUE,
      clock: systemClock,
      log: silentLogger(),
      bus: new EventBus<NotifierEvents>(silentLogger()),
      publicUrl: 'http://127.0.0.1:9',
    });
    try {
      await dispatcher.start();
      const msg = await dispatcher.enqueue({
        to: TO,
        intent: pageIntent('CRASH'),
        priority: 'alarm',
        purpose: 'page',
        incidentId: null,
        step: 1,
        role: 'worker',
        personId: 'w-01',
        context: null,
      });
      const taken = await waitFor(
        'the page to be taken by the fallback',
        async () => {
          const row = await store.sms.get(msg.id);
          return row?.status === 'accepted' ? row : null;
        },
        { timeoutMs: 10_000 },
      );
      expect(taken).toMatchObject({ provider: 'tencent', attempts: 1 });
      expect(await tencentSim.waitForMessage((m) => m.sid === taken.providerSid)).toMatchObject({ context: msg.id });
      expect(dispatcher.health().providers[0]).toMatchObject({ name: 'aliyun', consecutiveFailures: 1 });
    } finally {
      await dispatcher.stop();
      await store.close();
      dir.remove();
    }
  });
});
