// Aliyun, Tencent and WEBHOOK_KEY configuration: complete sets or none, each bad value refused with one line naming it.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';

const ALIYUN = { ALIYUN_ACCESS_KEY_ID: 'LTAI5tTestKey0001', ALIYUN_ACCESS_KEY_SECRET: 'secret-value', ALIYUN_SMS_SIGN_NAME: '安达里社区' };
const TENCENT = {
  TENCENT_SECRET_ID: 'AKIDtestsecretid000001',
  TENCENT_SECRET_KEY: 'secret-key',
  TENCENT_SMS_SDK_APP_ID: '1400006666',
  TENCENT_SMS_SIGN_NAME: '安达里社区',
};

describe('domestic SMS configuration', () => {
  it('is off without credentials, and reads complete sets with their endpoints and the default region', () => {
    const none = loadConfig({});
    expect([none.aliyunSms, none.tencentSms, none.webhookKey, none.smsReceipts]).toEqual([null, null, null, 'auto']);
    const c = loadConfig({
      ...ALIYUN,
      ...TENCENT,
      ALIYUN_SMS_ENDPOINT: 'http://127.0.0.1:8090',
      TENCENT_SMS_ENDPOINT: 'sms.internal.example.cn',
      WEBHOOK_KEY: 'k'.repeat(16),
    });
    expect(c.aliyunSms).toEqual({
      accessKeyId: ALIYUN.ALIYUN_ACCESS_KEY_ID,
      accessKeySecret: 'secret-value',
      signName: '安达里社区',
      endpoint: 'http://127.0.0.1:8090',
    });
    expect(c.tencentSms).toMatchObject({ sdkAppId: '1400006666', region: 'ap-guangzhou', endpoint: 'sms.internal.example.cn' });
    expect(c.webhookKey).toBe('k'.repeat(16));
  });

  it('refuses a partial set, naming the missing variable', () => {
    expect(() => loadConfig({ ALIYUN_ACCESS_KEY_ID: ALIYUN.ALIYUN_ACCESS_KEY_ID })).toThrow(
      /^ALIYUN_ACCESS_KEY_SECRET: required when any ALIYUN_\* SMS credential is set$/,
    );
    expect(() => loadConfig({ ...TENCENT, TENCENT_SMS_SIGN_NAME: '' })).toThrow(
      /^TENCENT_SMS_SIGN_NAME: required when any TENCENT_\* SMS credential is set$/,
    );
  });

  it('refuses a short or URL-unsafe WEBHOOK_KEY without printing it, and malformed ids and endpoints', () => {
    expect(() => loadConfig({ WEBHOOK_KEY: 'short-key' })).toThrow(/^WEBHOOK_KEY: expected at least 16 characters \(got "\[redacted\]"\)$/);
    expect(() => loadConfig({ WEBHOOK_KEY: 'has a space in it, too long' })).toThrow(/^WEBHOOK_KEY: expected letters, digits/);
    expect(() => loadConfig({ ...TENCENT, TENCENT_SMS_SDK_APP_ID: 'app-1' })).toThrow(/^TENCENT_SMS_SDK_APP_ID: expected the SMS SdkAppId/);
    expect(() => loadConfig({ ...ALIYUN, ALIYUN_SMS_ENDPOINT: 'ftp://x' })).toThrow(/^ALIYUN_SMS_ENDPOINT: expected a host name/);
    expect(() => loadConfig({ SMS_RECEIPTS: 'sometimes' })).toThrow(/^SMS_RECEIPTS: /);
  });
});
