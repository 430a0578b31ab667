// Turns a message intent into a template provider's request: the approved template for its kind and its parameters.
import type { AliyunTemplate, MessageIntent, TemplateCatalogue, TencentTemplate } from './intent.js';
import { fitParams } from './catalogue.js';
import { SmsSendError, type OutgoingSms } from './provider.js';

type TemplateProvider = 'aliyun' | 'tencent';

/** A refusal before anything is sent: the message cannot be expressed in this provider's approved templates. */
function refuse(provider: TemplateProvider, code: string, message: string): SmsSendError {
  return new SmsSendError({
    transient: false,
    providerCode: code,
    message: `${provider === 'aliyun' ? 'Aliyun' : 'Tencent'} SMS: ${message}`,
  });
}

function intentOf(provider: TemplateProvider, msg: OutgoingSms): MessageIntent {
  if (!msg.intent)
    throw refuse(provider, 'NO_INTENT', 'only approved templates can be sent, and this message has no intent (kind and parameters)');
  return msg.intent;
}

/** The `${name}` placeholders of a catalogue text, in order of first use. */
export function placeholdersOf(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)) {
    const name = m[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * A parameter as the provider takes it: present, and cut to its longest value (`maxLength`, null: no limit), since a
 * longer one is refused outright (Tencent's 12 characters would otherwise stop every "who is coming" SMS, whose
 * phone number alone is 14 with +86).
 */
function paramValue(provider: TemplateProvider, intent: MessageIntent, name: string, maxLength: number | null): string {
  const value = intent.params[name];
  if (value === undefined || value === '')
    throw refuse(provider, 'MISSING_PARAM', `message kind "${intent.kind}" needs the parameter "${name}"`);
  return fitParams({ [name]: value }, maxLength)[name] ?? value;
}

export interface AliyunRequestParts {
  template: AliyunTemplate;
  /** TemplateParam: the JSON object of the template's variables. */
  params: Record<string, string>;
}

export function aliyunRequestParts(catalogue: TemplateCatalogue, msg: OutgoingSms, maxParamLength: number | null): AliyunRequestParts {
  const intent = intentOf('aliyun', msg);
  const entry = catalogue[intent.kind];
  if (!entry?.aliyun)
    throw refuse('aliyun', 'NO_TEMPLATE', `the template catalogue has no Aliyun template for message kind "${intent.kind}"`);
  const params: Record<string, string> = {};
  for (const name of placeholdersOf(entry.text)) params[name] = paramValue('aliyun', intent, name, maxParamLength);
  return { template: entry.aliyun, params };
}

export interface TencentRequestParts {
  template: TencentTemplate;
  /** TemplateParamSet: the values of `{1}`, `{2}`, … in order. */
  params: string[];
}

export function tencentRequestParts(catalogue: TemplateCatalogue, msg: OutgoingSms, maxParamLength: number | null): TencentRequestParts {
  const intent = intentOf('tencent', msg);
  const entry = catalogue[intent.kind];
  if (!entry?.tencent)
    throw refuse('tencent', 'NO_TEMPLATE', `the template catalogue has no Tencent template for message kind "${intent.kind}"`);
  return { template: entry.tencent, params: entry.tencent.params.map((name) => paramValue('tencent', intent, name, maxParamLength)) };
}

/** A mainland number as the domestic APIs take it (11 digits); other numbers keep their country code, without "+". */
export function domesticNumber(e164: string): string {
  return e164.startsWith('+86') ? e164.slice(3) : e164.replace(/^\+/, '');
}

/** The E.164 form of a number a domestic provider reports (11 digits for the mainland, or with a country code). */
export function e164From(number: string, countryCode = '86'): string {
  const digits = number.replace(/^\+/, '').replace(/^00/, '');
  if (/^1\d{10}$/.test(digits) && countryCode === '86') return `+86${digits}`;
  if (number.startsWith('+')) return number;
  return digits.startsWith(countryCode) ? `+${digits}` : `+${countryCode}${digits}`;
}
