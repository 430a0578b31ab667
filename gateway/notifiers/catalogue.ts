// The template catalogue at work: free text rendered from a kind's text, parameters fitted to a provider's limits,
// and the check of a catalogue against the Aliyun and Tencent template rules.
import type { MessageIntent, TemplateCatalogue, TemplateEntry } from './intent.js';
import {
  FREE_TEXT_ONLY_KINDS,
  MESSAGE_KINDS,
  PAGE_KINDS,
  defaultCatalogue,
  isMessageKind,
  variablesOf,
  type MessageKind,
} from './kinds.js';

/** One UCS-2 segment: a worker's page fits it, shortened in its parameters (never in its template). */
const UCS2_SEGMENT = 70;
/** Aliyun: each variable's value is 1-35 characters. */
export const ALIYUN_MAX_PARAM = 35;
/** Tencent: 12 characters a parameter for individually certified accounts; enterprise accounts have no limit. */
export const TENCENT_INDIVIDUAL_MAX_PARAM = 12;

/**
 * The longest value the gateway ever puts in a parameter, where it is bounded; every other parameter (names,
 * addresses, lists) is shortened to the provider's limit when sent. A Chinese mobile number is sent without +86.
 */
const PARAM_BOUNDS: Record<string, number> = {
  ack: 3,
  pass: 3,
  time: 5,
  hours: 4,
  code: 8,
  minutes: 4,
  count: 3,
  devices: 5,
  back: 5,
  total: 5,
  still: 5,
  points: 6,
  action: 1,
  what: 8,
  day: 10,
  phone: 11,
};

/** Parameters whose end matters most (the flat number of an address): shortened from the front. */
const KEEP_END = new Set(['address', 'place']);

/** Renders a text's `${name}` variables; a missing parameter renders empty. */
export function renderText(text: string, params: Record<string, string>): string {
  return text.replace(/\$\{([^}]*)\}/g, (_m, name: string) => params[name] ?? '');
}

/** The catalogue entry for a kind, from the catalogue, else from the built-in demo catalogue. */
export function entryFor(catalogue: TemplateCatalogue, kind: string, publicUrl: string): TemplateEntry | null {
  return catalogue[kind] ?? defaultCatalogue(publicUrl)[kind] ?? null;
}

/**
 * The free text of an intent (Twilio, the outbox, the simulators): the label in 【】, then the text. A page is kept to
 * one UCS-2 segment by shortening its address (from the front), then its name, never the template's own words.
 */
export function freeText(entry: TemplateEntry, intent: MessageIntent): string {
  const head = entry.label ? `【${entry.label}】` : '';
  const render = (params: Record<string, string>) => `${head}${renderText(entry.text, params)}`;
  if (!isMessageKind(intent.kind) || !PAGE_KINDS.has(intent.kind) || intent.kind.startsWith('family_')) return render(intent.params);
  const params = { ...intent.params };
  const over = () => render(params).length - UCS2_SEGMENT;
  const address = [...(params.address ?? '')];
  if (over() > 0 && address.length > 6) {
    address.unshift('…');
    while (over() > 0 && address.length > 6) {
      address.splice(1, 1);
      params.address = address.join('');
    }
  }
  const name = [...(params.name ?? '')];
  while (over() > 0 && name.length > 2) {
    name.pop();
    params.name = name.join('');
  }
  const chars = [...render(params)];
  while (chars.join('').length > UCS2_SEGMENT) chars.pop();
  return chars.join('');
}

/**
 * Parameters cut to a provider's longest value (`max` characters), so a long address or name is shortened rather
 * than the message refused: an address keeps its end, anything else its start, and a cut shows as '…'. A +86 mobile
 * number loses its country code first. Empty values become '-' (Aliyun takes 1 character at least).
 */
export function fitParams(params: Record<string, string>, max: number | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(params)) {
    let value = raw === '' ? '-' : raw;
    if (max !== null && [...value].length > max) {
      if (name === 'phone' && value.startsWith('+86')) value = value.slice(3);
      const chars = [...value];
      if (chars.length > max)
        value = KEEP_END.has(name) ? `…${chars.slice(chars.length - max + 1).join('')}` : `${chars.slice(0, max - 1).join('')}…`;
    }
    out[name] = value;
  }
  return out;
}

let demo: TemplateCatalogue | null = null;

/**
 * The free text of an intent in the built-in catalogue, for code that must size a message before queuing it (the
 * digest keeps within two segments). A fixed link shows as http://localhost.
 */
export function demoText(intent: MessageIntent): string {
  demo ??= defaultCatalogue('http://localhost');
  const entry = demo[intent.kind];
  return entry ? freeText(entry, intent) : '';
}

/** The kinds the gateway sends that a provider needs a template for. */
export function requiredKinds(): readonly MessageKind[] {
  return MESSAGE_KINDS.filter((k) => !FREE_TEXT_ONLY_KINDS.has(k));
}

export interface CatalogueCheckOptions {
  /** Tencent's longest parameter (12 for individual accounts); null for enterprise accounts (no limit). */
  tencentMaxParam: number | null;
}

/** One problem of a catalogue: where (below `sms.templates`, e.g. `['page_first', 'tencent', 'params']`) and what. */
export interface CatalogueProblem {
  path: string[];
  message: string;
}

/**
 * Checks each entry against both providers' rules, for the providers it has a template of; empty when all is well.
 */
export function checkCatalogue(catalogue: TemplateCatalogue, options: CatalogueCheckOptions): CatalogueProblem[] {
  const problems: CatalogueProblem[] = [];
  for (const [kind, entry] of Object.entries(catalogue)) {
    if (!isMessageKind(kind)) {
      problems.push({ path: [kind], message: `unknown message kind (known: ${MESSAGE_KINDS.join(', ')})` });
      continue;
    }
    problems.push(...checkEntry(kind, entry, options));
  }
  return problems;
}

/** `sms.templates.page_first.text: …`: a problem as one line. */
export function formatProblem(p: CatalogueProblem, base = 'sms.templates'): string {
  return `${[base, ...p.path].join('.')}: ${p.message}`;
}

/** The text as submitted to Tencent: its variables become {1}, {2}, … in order. */
export function tencentTemplateText(text: string): string {
  let n = 0;
  return text.replace(/\$\{[^}]*\}/g, () => `{${++n}}`);
}

/** The kinds a template provider needs that the catalogue gives it no template for. */
export function missingTemplates(catalogue: TemplateCatalogue, provider: 'aliyun' | 'tencent'): MessageKind[] {
  return requiredKinds().filter((kind) => !catalogue[kind]?.[provider]);
}

function checkEntry(kind: MessageKind, entry: TemplateEntry, options: CatalogueCheckOptions): CatalogueProblem[] {
  const problems: CatalogueProblem[] = [];
  const at = (...path: string[]) => [kind, ...path];
  const text = entry.text;
  const vars = variablesOf(text);
  const known = new Set(variablesOf(defaultCatalogue('http://x')[kind]?.text ?? ''));
  if (/[【】]/.test(text)) problems.push({ path: at('text'), message: `must not contain 【 or 】 (they mark the sign name)` });
  for (const v of vars) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,34}$/.test(v))
      problems.push({ path: at('text'), message: `variable "\${${v}}" must be a name of 1-35 letters, digits or _` });
    else if (!known.has(v))
      problems.push({
        path: at('text'),
        message: `variable "\${${v}}" is not a parameter of ${kind} (it has: ${[...known].join(', ') || 'none'})`,
      });
  }
  if (vars.length > 0 && renderText(text, {}).trim() === '')
    problems.push({ path: at('text'), message: `a template of variables only is refused` });
  if (entry.aliyun) problems.push(...checkAliyun(text, vars, kind));
  if (entry.tencent) problems.push(...checkTencent(text, vars, entry.tencent.params, kind, options.tencentMaxParam));
  return problems;
}

function checkAliyun(text: string, vars: string[], kind: string): CatalogueProblem[] {
  const problems: CatalogueProblem[] = [];
  const at = (...path: string[]) => [kind, ...path];
  const seen = new Set<string>();
  for (const v of vars) {
    if (seen.has(v)) problems.push({ path: at('text'), message: `Aliyun takes each variable once; "\${${v}}" is used again` });
    seen.add(v);
  }
  for (const gap of gapsBetweenVariables(text)) {
    if (!hasWord(gap))
      problems.push({
        path: at('text'),
        message: `Aliyun refuses two variables side by side; write a word between them${gap ? ` (not only "${gap}")` : ''}`,
      });
  }
  for (const v of vars) {
    const bound = PARAM_BOUNDS[v];
    if (bound !== undefined && bound > ALIYUN_MAX_PARAM)
      problems.push({ path: at('text'), message: `"\${${v}}" may hold ${bound} characters, Aliyun takes ${ALIYUN_MAX_PARAM}` });
  }
  return problems;
}

function checkTencent(text: string, vars: string[], params: string[], kind: string, max: number | null): CatalogueProblem[] {
  const problems: CatalogueProblem[] = [];
  const at = (...path: string[]) => [kind, ...path];
  if (params.join(',') !== vars.join(',')) {
    problems.push({
      path: at('tencent', 'params'),
      message: `must list the text's variables in order ({1}, {2}, …): [${vars.join(', ')}], found [${params.join(', ')}]`,
    });
  }
  // A link may only be a constant: no variable inside it, nor right after it.
  for (const m of text.matchAll(/(?:https?:\/\/|www\.)[^\s，。；]*/gi)) {
    if (m[0].includes('${') || text.slice((m.index ?? 0) + m[0].length).startsWith('${'))
      problems.push({
        path: at('text'),
        message: `Tencent refuses a variable in a link; keep the link fixed and the code in a word of its own`,
      });
  }
  for (const gap of gapsBetweenVariables(text)) {
    if (!hasWord(gap))
      problems.push({ path: at('text'), message: `Tencent refuses two variables side by side; write a word between them` });
  }
  if (max !== null) {
    for (const v of vars) {
      const bound = PARAM_BOUNDS[v];
      if (bound !== undefined && bound > max)
        problems.push({
          path: at('tencent', 'params'),
          message: `"${v}" may hold ${bound} characters, more than the ${max} Tencent takes (TENCENT_SMS_MAX_PARAM)`,
        });
    }
  }
  return problems;
}

/** The text between each pair of consecutive variables. */
function gapsBetweenVariables(text: string): string[] {
  const parts = text.split(/\$\{[^}]*\}/);
  return parts.slice(1, -1);
}

/** A letter, digit or CJK character: a space or punctuation alone does not keep two variables apart. */
function hasWord(gap: string): boolean {
  return /[\p{L}\p{N}]/u.test(gap);
}
