// Voice configuration: VOICE_PROVIDER and what each provider needs, refused with one line naming the variable.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';

const TWILIO = { TWILIO_ACCOUNT_SID: `AC${'1'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'token', TWILIO_FROM: '+15005550006' };
const TENCENT = {
  VOICE_PROVIDER: 'tencent',
  TENCENT_SECRET_ID: 'AKIDexample',
  TENCENT_SECRET_KEY: 'secret',
  TENCENT_VMS_SDK_APP_ID: '1400000001',
  TENCENT_VMS_TEMPLATE_ID: '1400001',
  WEBHOOK_KEY: 'voice-webhook-key-0123456789',
};

describe('voice configuration', () => {
  it('has no calls without VOICE_PROVIDER, and a 60 s default before a call', () => {
    expect(loadConfig({}).voice).toBeNull();
    expect(loadConfig({ ...TWILIO, VOICE_PROVIDER: 'twilio' }).voice).toEqual({ provider: 'twilio', afterSeconds: 60, webhookKey: null });
    expect(loadConfig({ ...TWILIO, VOICE_PROVIDER: 'twilio', VOICE_AFTER_SECONDS: '90' }).voice?.afterSeconds).toBe(90);
  });

  it('builds the Tencent settings, with Tencent own endpoint and region by default', () => {
    const voice = loadConfig(TENCENT).voice;
    expect(voice).toMatchObject({
      provider: 'tencent',
      tencent: { region: 'ap-guangzhou', endpoint: null, sdkAppId: '1400000001', templateId: '1400001' },
    });
    expect(loadConfig({ ...TENCENT, TENCENT_VMS_ENDPOINT: 'http://127.0.0.1:9000' }).voice).toMatchObject({
      tencent: { endpoint: 'http://127.0.0.1:9000' },
    });
  });

  it('refuses a bad or incomplete voice configuration with one line naming the variable', () => {
    expect(() => loadConfig({ VOICE_PROVIDER: 'skype' })).toThrow(/^VOICE_PROVIDER: expected twilio, aliyun or tencent \(got "skype"\)$/);
    expect(() => loadConfig({ VOICE_PROVIDER: 'twilio' })).toThrow(/^TWILIO_ACCOUNT_SID: required when VOICE_PROVIDER is twilio$/);
    expect(() => loadConfig({ ...TWILIO, TWILIO_FROM: `MG${'a'.repeat(32)}`, VOICE_PROVIDER: 'twilio' })).toThrow(
      /^TWILIO_FROM: VOICE_PROVIDER twilio needs a phone number/,
    );
    expect(() => loadConfig({ ...TENCENT, WEBHOOK_KEY: undefined })).toThrow(/^WEBHOOK_KEY: required when VOICE_PROVIDER is tencent$/);
    expect(() => loadConfig({ ...TENCENT, WEBHOOK_KEY: 'short' })).toThrow(
      /^WEBHOOK_KEY: expected at least 16 characters \(got "\[redacted\]"\)$/,
    );
    expect(() => loadConfig({ ...TENCENT, TENCENT_VMS_SDK_APP_ID: 'app' })).toThrow(
      /^TENCENT_VMS_SDK_APP_ID: expected the numeric voice SdkAppid/,
    );
    expect(() => loadConfig({ ...TWILIO, VOICE_PROVIDER: 'twilio', VOICE_AFTER_SECONDS: '5' })).toThrow(
      /^VOICE_AFTER_SECONDS: expected 10 to 3600 seconds/,
    );
    expect(() => loadConfig({ VOICE_PROVIDER: 'aliyun' })).toThrow(/^VOICE_PROVIDER: Aliyun voice calls are not available yet/);
  });
});
