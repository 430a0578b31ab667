// Which SMS and voice providers the live demo simulates, and the gateway variables that point the official SDKs at them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { defaultCatalogue } from '../../gateway/notifiers/kinds.js';
import { loadCatalogue } from '../sms/catalogue-file.js';
import type { DomesticSimSetup } from '../sms/domestic-network.js';

export const DEMO_SMS_PROVIDERS = ['twilio', 'aliyun', 'tencent'] as const;
export type DemoSmsProvider = (typeof DEMO_SMS_PROVIDERS)[number];

/** Aliyun voice is not in this build, so an Aliyun demo calls through Tencent VMS (a legitimate mixed deployment). */
export const DEMO_VOICE_PROVIDERS = ['twilio', 'tencent', 'off'] as const;
export type DemoVoiceProvider = (typeof DEMO_VOICE_PROVIDERS)[number];

export const DEFAULT_SIGN_NAME = '社区关爱';

/** The SMS provider: the flag, else SMS_PROVIDER, else Twilio; anything else is refused with the name of where it came from. */
export function chooseSmsProvider(flag: string | undefined, env: string | undefined): DemoSmsProvider {
  const [raw, source] =
    flag !== undefined ? [flag, '--provider'] : env !== undefined && env !== '' ? [env, 'SMS_PROVIDER'] : ['twilio', '--provider'];
  const found = DEMO_SMS_PROVIDERS.find((p) => p === raw);
  if (!found) throw new Error(`${source}: the demo runs on twilio, aliyun or tencent, got "${raw}"`);
  return found;
}

/**
 * The voice provider: the flag, else VOICE_PROVIDER, else the SMS provider's own (Twilio Voice for Twilio, Tencent VMS
 * for Tencent and, as Aliyun voice is not in this build, for Aliyun too).
 */
export function chooseVoiceProvider(flag: string | undefined, env: string | undefined, sms: DemoSmsProvider): DemoVoiceProvider {
  const [raw, source] =
    flag !== undefined
      ? [flag, '--voice']
      : env !== undefined && env !== ''
        ? [env, 'VOICE_PROVIDER']
        : [sms === 'twilio' ? 'twilio' : 'tencent', '--voice'];
  if (raw === 'aliyun')
    throw new Error(`${source}: Aliyun voice calls are not available in this build; use tencent (Tencent VMS) or twilio`);
  const found = DEMO_VOICE_PROVIDERS.find((p) => p === raw);
  if (!found) throw new Error(`${source}: expected twilio, tencent or off, got "${raw}"`);
  return found;
}

/**
 * The templates the simulated provider has "approved": those of the demo registry when one is already in DATA_DIR (the
 * gateway sends by their codes), else the catalogue the gateway writes into a new one for this PUBLIC_URL.
 */
export function demoCatalogue(registryPath: string, publicUrl: string): TemplateCatalogue {
  if (existsSync(registryPath)) {
    try {
      return loadCatalogue(registryPath, 'demo registry');
    } catch {
      // An older demo registry without sms.templates: the gateway will name what is missing when it starts.
    }
  }
  return defaultCatalogue(publicUrl);
}

/** One Tencent Cloud key pair for SMS and VMS, as one real account has, so both simulators accept the same signature. */
export interface TencentKeys {
  id: string;
  secret: string;
}

export function randomTencentKeys(): TencentKeys {
  return { id: `AKID${randomBytes(16).toString('hex')}`, secret: randomBytes(16).toString('hex') };
}

/** The domestic simulator's setup for Aliyun or Tencent, pushing receipts and replies with the WEBHOOK_KEY; null for Twilio. */
export function domesticSetup(
  provider: DemoSmsProvider,
  catalogue: TemplateCatalogue,
  signName: string,
  webhookKey: string,
  tencent: TencentKeys,
): DomesticSimSetup | null {
  if (provider === 'twilio') return null;
  return {
    provider,
    catalogue,
    signNames: [signName],
    webhookKey,
    credentials: provider === 'tencent' ? { id: tencent.id, secret: tencent.secret } : {},
  };
}

/** Words for the banner: what carries the SMS and what places the calls. */
export function describeProviders(sms: DemoSmsProvider, voice: DemoVoiceProvider): string {
  const smsName = { twilio: 'Twilio', aliyun: 'Aliyun SMS', tencent: 'Tencent Cloud SMS' }[sms];
  const voiceName = { twilio: 'Twilio Voice', tencent: 'Tencent VMS', off: 'no calls' }[voice];
  const why = sms === 'aliyun' && voice === 'tencent' ? ' (Aliyun voice is not in this build)' : '';
  return `SMS ${smsName}, calls ${voiceName}${why}; all simulated locally, reached through the official SDKs`;
}
