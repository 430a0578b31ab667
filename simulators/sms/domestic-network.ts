// The Aliyun and Tencent simulators as the phones' network: the simulated phones get their messages and reply through them.
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { AliyunSmsSim } from './aliyun-server.js';
import type { DomesticSmsSim } from './domestic-base.js';
import type { PhoneNetwork } from './responders.js';
import { TencentSmsSim } from './tencent-server.js';

export interface DomesticSimSetup {
  provider: 'aliyun' | 'tencent';
  /** The approved templates (the registry's `sms.templates`). */
  catalogue: TemplateCatalogue;
  /** Approved signatures: ALIYUN_SMS_SIGN_NAME / TENCENT_SMS_SIGN_NAME. */
  signNames: string[];
  /** WEBHOOK_KEY: receipts and replies are pushed to the gateway with ?key=; null: nothing is pushed (Tencent keeps them for a pull). */
  webhookKey: string | null;
  /** AccessKey / SecretId, its secret, and Tencent's SdkAppId; random when not given. */
  credentials?: { id?: string; secret?: string; sdkAppId?: string };
}

/** Builds the provider's simulator with its callbacks at `gateway` (where the gateway is reached from here). */
export function createDomesticSim(setup: DomesticSimSetup, gateway: string): DomesticSmsSim {
  const url = (path: string): string | null => (setup.webhookKey ? `${gateway}${path}?key=${encodeURIComponent(setup.webhookKey)}` : null);
  const common = { catalogue: setup.catalogue, signNames: setup.signNames, receiptDelayMs: 200 };
  const c = setup.credentials ?? {};
  if (setup.provider === 'aliyun') {
    return new AliyunSmsSim({
      ...common,
      ...(c.id ? { accessKeyId: c.id } : {}),
      ...(c.secret ? { accessKeySecret: c.secret } : {}),
      reportUrl: url('/webhooks/aliyun/sms-report'),
      upUrl: url('/webhooks/aliyun/sms-up'),
    });
  }
  return new TencentSmsSim({
    ...common,
    ...(c.id ? { secretId: c.id } : {}),
    ...(c.secret ? { secretKey: c.secret } : {}),
    ...(c.sdkAppId ? { sdkAppId: c.sdkAppId } : {}),
    statusUrl: url('/webhooks/tencent/sms-status'),
    replyUrl: url('/webhooks/tencent/sms-reply'),
  });
}

/** The credentials a gateway needs to talk to this simulator, as environment variables. */
export function domesticEnv(sim: DomesticSmsSim, signName: string, endpoint: string): Record<string, string> {
  if (sim instanceof AliyunSmsSim)
    return {
      SMS_PROVIDER: 'aliyun',
      ALIYUN_ACCESS_KEY_ID: sim.accessKeyId,
      ALIYUN_ACCESS_KEY_SECRET: sim.accessKeySecret,
      ALIYUN_SMS_SIGN_NAME: signName,
      ALIYUN_SMS_ENDPOINT: endpoint,
    };
  if (sim instanceof TencentSmsSim) {
    return {
      SMS_PROVIDER: 'tencent',
      TENCENT_SECRET_ID: sim.secretId,
      TENCENT_SECRET_KEY: sim.secretKey,
      TENCENT_SMS_SDK_APP_ID: sim.sdkAppId,
      TENCENT_SMS_SIGN_NAME: signName,
      TENCENT_SMS_ENDPOINT: endpoint,
    };
  }
  return {};
}

/** A phone's reply goes out as the provider pushes it; Tencent keeps it for PullSmsReplyStatus when nothing is pushed. */
export function domesticPhoneNetwork(sim: DomesticSmsSim): PhoneNetwork {
  return {
    on: (_event, fn) => sim.on('message', fn),
    off: (_event, fn) => sim.off('message', fn),
    async reply(from, body) {
      const push = await sim.reply(from, body);
      if (!push) {
        if (sim.provider === 'tencent') return { status: 202, body: 'kept for PullSmsReplyStatus' };
        throw new Error('not delivered: Aliyun delivers replies only by push, and no WEBHOOK_KEY was given');
      }
      if (push.httpStatus === null) throw new Error(push.error ?? 'the gateway could not be reached');
      return { status: push.httpStatus, body: push.answer };
    },
  };
}
