// SMS at start-up: the providers named by SMS_PROVIDER and SMS_FALLBACK_PROVIDER, the caps, the template catalogue
// checked against the providers that need it, and the /healthz component.
import { GatewayError } from '../core/errors.js';
import type { SmsProviderName } from '../core/types.js';
import { capRules, type CapSettings } from './caps.js';
import { checkCatalogue, formatProblem, missingTemplates } from './catalogue.js';
import type { SmsDispatcherHealth } from './dispatcher.js';
import { SMS_PROVIDER_BUILDERS, buildSmsProvider, type SmsProviderBuilder, type SmsProviderContext } from './factory.js';
import type { TemplateCatalogue } from './intent.js';
import { defaultCatalogue } from './kinds.js';
import type { SmsProvider } from './provider.js';

export interface SmsSettings {
  provider: SmsProviderName;
  fallback: SmsProviderName | null;
  caps: CapSettings;
  tencentMaxParam: number | null;
}

export interface SmsProviders {
  primary: SmsProvider;
  fallback: SmsProvider | null;
}

/** Builds both providers; an unknown or unavailable name stops start-up with one line naming the variable. */
export function buildSmsProviders(
  settings: Pick<SmsSettings, 'provider' | 'fallback'> & Partial<Pick<SmsSettings, 'tencentMaxParam'>>,
  context: SmsProviderContext,
  builders: Partial<Record<SmsProviderName, SmsProviderBuilder>> = SMS_PROVIDER_BUILDERS,
): SmsProviders {
  // The Tencent account's parameter limit (TENCENT_SMS_MAX_PARAM) is what its messages are cut to when sent.
  const { tencentMaxParam } = settings;
  const ctx =
    context.tencent && tencentMaxParam !== undefined
      ? { ...context, tencent: { ...context.tencent, maxParamLength: tencentMaxParam } }
      : context;
  const primary = buildSmsProvider(settings.provider, 'SMS_PROVIDER', ctx, builders);
  const fallback = settings.fallback ? buildSmsProvider(settings.fallback, 'SMS_FALLBACK_PROVIDER', ctx, builders) : null;
  return { primary, fallback };
}

export { capRules };

/** The registry's catalogue as stored (setting `sms_templates`), or null when the registry has none. */
export function parseStoredCatalogue(json: string | null): TemplateCatalogue | null {
  if (!json) return null;
  const parsed: unknown = JSON.parse(json);
  return parsed && typeof parsed === 'object' ? (parsed as TemplateCatalogue) : null;
}

/**
 * The catalogue in force: the registry's when it has one, else the built-in demo catalogue. Refuses (one line) a
 * catalogue that lacks a template a selected template provider needs, or breaks its rules at the configured limits.
 */
export function catalogueInForce(stored: TemplateCatalogue | null, settings: SmsSettings, publicUrl: string): TemplateCatalogue {
  const catalogue = stored ?? defaultCatalogue(publicUrl);
  const problems = checkCatalogue(catalogue, { tencentMaxParam: settings.tencentMaxParam });
  if (problems.length > 0) {
    const [first] = problems;
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `${first ? formatProblem(first) : 'sms.templates'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
    );
  }
  for (const [variable, name] of [
    ['SMS_PROVIDER', settings.provider],
    ['SMS_FALLBACK_PROVIDER', settings.fallback],
  ] as const) {
    if (name !== 'aliyun' && name !== 'tencent') continue;
    const missing = missingTemplates(catalogue, name);
    if (missing.length > 0) {
      throw new GatewayError(
        'GW_ERR_CONFIG',
        `sms.templates: ${variable}=${name} needs a ${name} template for every message kind; missing: ${missing.join(', ')} (see docs/providers.md)`,
      );
    }
  }
  return catalogue;
}

/** Whether a provider can carry a link in a parameter (Twilio, the outbox): the visit reminder's link rides only there. */
export function carriesLinks(providers: SmsProviders): boolean {
  return [providers.primary, providers.fallback].every((p) => !p || (p.capabilities?.linksInParams ?? true));
}

export interface SmsHealthComponent {
  status: 'up' | 'degraded' | 'down';
  [field: string]: unknown;
}

/**
 * /healthz's `sms`: down only while no provider takes messages (every breaker open), degraded in outbox mode or when
 * one provider is in trouble, and `providers` with each one's state.
 */
export function smsHealthComponent(sms: SmsDispatcherHealth): SmsHealthComponent {
  const outbox = sms.provider === 'outbox';
  const stuck = sms.providers.every((p) => p.state !== 'closed');
  const anyDegraded = sms.providers.some((p) => p.degraded);
  return {
    status: stuck ? 'down' : outbox || anyDegraded ? 'degraded' : 'up',
    provider: sms.provider,
    ...(outbox ? { detail: 'OUTBOX MODE: no Twilio credentials, SMS are kept in the local outbox and NOT sent' } : {}),
    ...(sms.sender?.problem ? { detail: sms.sender.problem } : {}),
    ...(stuck
      ? { detail: `SMS provider failing: circuit breaker ${sms.breaker.state}, ${sms.waiting} SMS waiting for it to recover` }
      : {}),
    ...(sms.sender ? { sender: sms.sender.sender, senderRestarts: sms.sender.senderRestarts } : {}),
    lastError: sms.lastError,
    queued: sms.queued,
    waiting: sms.waiting,
    breaker: sms.breaker,
    providers: sms.providers.map((p) => ({
      name: p.name,
      role: p.role,
      state: p.state,
      status: p.state !== 'closed' ? 'down' : p.degraded ? 'degraded' : 'up',
      consecutiveFailures: p.consecutiveFailures,
      lastError: p.lastError,
      ...(p.sender?.problem ? { detail: p.sender.problem } : {}),
    })),
  };
}
