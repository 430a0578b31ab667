// Receipts and replies pulled when they cannot be pushed: Tencent's PullSmsSendStatus/PullSmsReplyStatus and Aliyun's
// QuerySendDetails, applied through a whole gateway exactly as pushed ones.
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { AliyunSmsProvider } from '../../gateway/notifiers/aliyun.js';
import { ReceiptPoller, aliyunPullSource, tencentPullSource } from '../../gateway/notifiers/receipt-poller.js';
import { TencentSmsProvider } from '../../gateway/notifiers/tencent.js';
import { AliyunSmsSim } from '../../simulators/sms/aliyun-server.js';
import { TencentSmsSim } from '../../simulators/sms/tencent-server.js';
import { shanghaiLast } from '../helpers/calendar.js';
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
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';

describe('pulled receipts and replies', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;

  beforeEach(async () => {
    clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
  });

  const storeSent = async (provider: 'aliyun' | 'tencent', id: string, sid: string): Promise<void> => {
    const now = clock.now();
    const row: OutboundSms = {
      id,
      to: W1,
      body: 'page',
      purpose: 'notice',
      incidentId: null,
      step: null,
      role: null,
      personId: null,
      context: null,
      intent: null,
      priority: 'routine',
      status: 'accepted',
      provider,
      providerSid: sid,
      attempts: 1,
      errorCode: null,
      error: null,
      createdAt: now,
      sentAt: now,
      updatedAt: now,
    };
    await t.gateway.store.sms.insert(row);
  };

  it('Tencent: a pulled receipt marks the message delivered and a pulled "1" acknowledges the incident', async () => {
    const sim = new TencentSmsSim({
      secretId: TENCENT_SECRET_ID,
      secretKey: TENCENT_SECRET_KEY,
      sdkAppId: TENCENT_APP_ID,
      catalogue: TEST_CATALOGUE,
      signNames: [SIGN_NAME],
      holdReceipts: true,
    });
    await sim.start();
    const provider = new TencentSmsProvider({
      secretId: TENCENT_SECRET_ID,
      secretKey: TENCENT_SECRET_KEY,
      sdkAppId: TENCENT_APP_ID,
      signName: SIGN_NAME,
      region: 'ap-guangzhou',
      endpoint: sim.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    const poller = new ReceiptPoller({
      source: tencentPullSource({ pullReceipts: () => provider.pullReceipts(), pullReplies: (now) => provider.pullReplies(now) }),
      receipts: t.gateway.dispatcher,
      replies: t.gateway.replies,
      clock,
      log: silentLogger(),
    });
    try {
      const sent = await provider.send({ id: 'sms-p1', to: W1, body: '', intent: pageIntent(), statusCallback: null });
      await storeSent('tencent', 'sms-p1', sent.sid);
      await sim.releaseReceipts();
      expect(await poller.pollOnce()).toEqual({ receipts: 1, replies: 0 });
      expect((await t.gateway.store.sms.get('sms-p1'))?.status).toBe('delivered');

      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      const open = (await t.gateway.store.incidents.list({ state: 'open' }))[0];
      if (!open) throw new Error('no open incident');
      await sim.reply(W1, '1');
      expect(await poller.pollOnce()).toEqual({ receipts: 0, replies: 1 });
      const res = await fetch(`${t.httpUrl}/api/incidents/${open.id}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect(((await res.json()) as IncidentView).state).toBe('acknowledged');
      // Nothing is handed out twice.
      expect(await poller.pollOnce()).toEqual({ receipts: 0, replies: 0 });
    } finally {
      await provider.close();
      await sim.stop();
    }
  });

  it('Aliyun: QuerySendDetails is asked about every message still waiting, and its answer applied', async () => {
    const sim = new AliyunSmsSim({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      catalogue: TEST_CATALOGUE,
      signNames: [SIGN_NAME],
      holdReceipts: true,
    });
    await sim.start();
    const provider = new AliyunSmsProvider({
      accessKeyId: ALIYUN_KEY_ID,
      accessKeySecret: ALIYUN_KEY_SECRET,
      signName: SIGN_NAME,
      endpoint: sim.url,
      catalogue: () => TEST_CATALOGUE,
      log: silentLogger(),
    });
    const poller = new ReceiptPoller({
      source: aliyunPullSource({ store: t.gateway.store.sms, query: (m) => provider.queryReceipt(m), log: silentLogger() }),
      receipts: t.gateway.dispatcher,
      replies: t.gateway.replies,
      clock,
      log: silentLogger(),
    });
    try {
      sim.setDeliveryOutcome('+8613900000002', 'undelivered');
      const ok = await provider.send({ id: 'sms-q1', to: W1, body: '', intent: pageIntent(), statusCallback: null });
      await storeSent('aliyun', 'sms-q1', ok.sid);
      // The carrier has not answered yet: nothing to apply, the message stays waiting.
      expect(await poller.pollOnce()).toEqual({ receipts: 0, replies: 0 });
      expect((await t.gateway.store.sms.get('sms-q1'))?.status).toBe('accepted');
      await sim.releaseReceipts();
      expect(await poller.pollOnce()).toEqual({ receipts: 1, replies: 0 });
      expect((await t.gateway.store.sms.get('sms-q1'))?.status).toBe('delivered');
      // Once final, it is no longer asked about.
      expect(await t.gateway.store.sms.listAwaitingReceipt('aliyun', 0, 10)).toEqual([]);
    } finally {
      await sim.stop();
    }
  });
});
