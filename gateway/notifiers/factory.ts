// Builds SMS providers by name (SMS_PROVIDER, SMS_FALLBACK_PROVIDER): each provider module registers its constructor here.
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SmsProviderName } from '../core/types.js';
import { AliyunSmsProvider, type AliyunSmsProviderDeps } from './aliyun.js';
import type { TemplateCatalogue } from './intent.js';
import { OutboxProvider } from './outbox.js';
import type { SmsProvider } from './provider.js';
import { TencentSmsProvider, type TencentSmsProviderDeps } from './tencent.js';
import { TwilioProvider, type TwilioProviderDeps } from './twilio.js';

/**
 * What a provider constructor may read. Each provider's settings sit in a field of their own (null when its
 * variables are unset); a new provider adds its field here and its constructor to SMS_PROVIDER_BUILDERS.
 */
export interface SmsProviderContext {
  log: Logger;
  twilio: Omit<TwilioProviderDeps, 'log'> | null;
  /** ALIYUN_*: null when its credentials are unset. */
  aliyun?: Omit<AliyunSmsProviderDeps, 'log' | 'catalogue'> | null;
  /** TENCENT_*: null when its credentials are unset. */
  tencent?: Omit<TencentSmsProviderDeps, 'log' | 'catalogue'> | null;
  /** The template catalogue in force, for template providers; read at each send. */
  catalogue?: () => TemplateCatalogue;
}

export type SmsProviderBuilder = (ctx: SmsProviderContext) => SmsProvider;

/** The providers this build can send through; a name missing here stops start-up with a clear line. */
export const SMS_PROVIDER_BUILDERS: Partial<Record<SmsProviderName, SmsProviderBuilder>> = {
  outbox: (ctx) => new OutboxProvider({ log: ctx.log.child({ part: 'outbox' }) }),
  twilio: (ctx) => {
    if (!ctx.twilio) throw new GatewayError('GW_ERR_CONFIG', 'twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM');
    return new TwilioProvider({ ...ctx.twilio, log: ctx.log.child({ part: 'twilio' }) });
  },
  aliyun: (ctx) => {
    if (!ctx.aliyun)
      throw new GatewayError('GW_ERR_CONFIG', 'aliyun needs ALIYUN_ACCESS_KEY_ID, ALIYUN_ACCESS_KEY_SECRET and ALIYUN_SMS_SIGN_NAME');
    return new AliyunSmsProvider({ ...ctx.aliyun, catalogue: ctx.catalogue ?? (() => ({})), log: ctx.log.child({ part: 'aliyun' }) });
  },
  tencent: (ctx) => {
    if (!ctx.tencent)
      throw new GatewayError(
        'GW_ERR_CONFIG',
        'tencent needs TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_SMS_SDK_APP_ID and TENCENT_SMS_SIGN_NAME',
      );
    return new TencentSmsProvider({ ...ctx.tencent, catalogue: ctx.catalogue ?? (() => ({})), log: ctx.log.child({ part: 'tencent' }) });
  },
};

/** The provider named by `variable` (SMS_PROVIDER or SMS_FALLBACK_PROVIDER); refuses a name this build cannot send through. */
export function buildSmsProvider(
  name: SmsProviderName,
  variable: string,
  ctx: SmsProviderContext,
  builders: Partial<Record<SmsProviderName, SmsProviderBuilder>> = SMS_PROVIDER_BUILDERS,
): SmsProvider {
  const build = builders[name];
  if (!build) {
    const known = Object.keys(builders).join(', ');
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `${variable}: ${name} is not available in this build (available: ${known}); refusing to start rather than send pages nowhere`,
    );
  }
  try {
    return build(ctx);
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'GW_ERR_CONFIG')
      throw new GatewayError('GW_ERR_CONFIG', `${variable}: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}
