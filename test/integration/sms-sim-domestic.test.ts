// The SMS simulator as Aliyun or Tencent: the official SDKs through its one port, phones that answer in the provider's
// own push format to a real gateway's callbacks, and the phones page.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { AliyunSmsProvider } from '../../gateway/notifiers/aliyun.js';
import { TencentSmsProvider } from '../../gateway/notifiers/tencent.js';
import { parseResponderYaml, responderSet } from '../../simulators/sms/responders.js';
import { SmsSimulator } from '../../simulators/sms/sms-simulator.js';
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
import { API_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const WORKER = '+8613900000001';

let t: TestGateway | null = null;
let sim: SmsSimulator | null = null;

afterEach(async () => {
  await sim?.stop();
  await t?.stop();
  sim = null;
  t = null;
});

async function start(provider: 'aliyun' | 'tencent'): Promise<{ t: TestGateway; sim: SmsSimulator }> {
  t = await startTestGateway({ env: { WEBHOOK_KEY } });
  const set = responderSet(
    parseResponderYaml(`trigger: 回1\nphones:\n  - { phone: "${WORKER}", reply: 1, after: 10ms }\n`, 'responders.yaml'),
    null,
  );
  const credentials =
    provider === 'aliyun'
      ? { id: ALIYUN_KEY_ID, secret: ALIYUN_KEY_SECRET }
      : { id: TENCENT_SECRET_ID, secret: TENCENT_SECRET_KEY, sdkAppId: TENCENT_APP_ID };
  sim = new SmsSimulator({
    gatewayUrl: t.publicUrl,
    set,
    domestic: { provider, catalogue: TEST_CATALOGUE, signNames: [SIGN_NAME], webhookKey: WEBHOOK_KEY, credentials },
  });
  await sim.start();
  return { t, sim };
}

const inboundFrom = async (gw: TestGateway, phone: string) => {
  const res = await fetch(`${gw.httpUrl}/api/sms/log?direction=in`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  const log = (await res.json()) as { messages: { phone: string; body: string }[] };
  return log.messages.filter((m) => m.phone === phone);
};

describe('SmsSimulator as a domestic provider', () => {
  it('Aliyun: takes the SDK through its port, shows the message on the phones page, and the phone answers by SmsUp', async () => {
    const { t: gw, sim: s } = await start('aliyun');
    const provider = new AliyunSmsProvider({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      signName: SIGN_NAME,
      endpoint: s.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    const replied = new Promise<{ httpStatus: number | null }>((resolve) => s.responders.once('reply', resolve));
    await provider.send({ id: 'sms-1', to: WORKER, body: '', intent: pageIntent(), statusCallback: null });
    expect((await replied).httpStatus).toBe(200);
    const page = await (await fetch(`${s.url}/`)).text();
    expect(page).toContain('张桂兰在3号楼2门401求助，回1接单');
    expect(page).toContain('Aliyun SmsUp pushes');
    await waitFor('inbound reply logged', async () => (await inboundFrom(gw, WORKER)).length > 0);
  });

  it('Tencent: the SDK reaches it under Tencent host name, and the phone answers by the reply callback', async () => {
    const { t: gw, sim: s } = await start('tencent');
    const provider = new TencentSmsProvider({
      secretId: TENCENT_SECRET_ID,
      secretKey: TENCENT_SECRET_KEY,
      sdkAppId: TENCENT_APP_ID,
      signName: SIGN_NAME,
      region: 'ap-guangzhou',
      endpoint: s.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    try {
      const replied = new Promise<{ httpStatus: number | null }>((resolve) => s.responders.once('reply', resolve));
      await provider.send({ id: 'sms-2', to: WORKER, body: '', intent: pageIntent(), statusCallback: null });
      expect((await replied).httpStatus).toBe(200);
      expect((await s.domestic?.waitForPush((p) => p.kind === 'receipt'))?.httpStatus).toBe(200);
      await waitFor('inbound reply logged', async () => (await inboundFrom(gw, WORKER)).length > 0);
      expect(s.phones().find((p) => p.phone === WORKER)?.received).toHaveLength(1);
    } finally {
      await provider.close();
    }
  });
});
