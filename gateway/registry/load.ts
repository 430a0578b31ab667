// Reads and validates registry documents: JSON/YAML syntax, the schema, duplicate ids and cross references, as one-line issues.
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { GatewayError, errorMessage } from '../core/errors.js';
import { locateJsonError, positionOf } from './json-position.js';
import { REGISTRY_LISTS, registrySchema, type RegistryList, type ValidatedRegistry } from './schema.js';
import { bridgeIssues, type ExistingBridgeFacts } from './bridge-checks.js';

export type RegistryFormat = 'json' | 'yaml';

/** Ids already stored, so a document may refer to entities it does not repeat. Sets and Maps both fit. */
export interface ExistingIds extends ExistingBridgeFacts {
  communities?: { has(id: string): boolean };
  residents?: { has(id: string): boolean };
  volunteers?: { has(id: string): boolean };
}

export interface LoadedRegistryFile {
  /** Absolute path of the file read. */
  path: string;
  format: RegistryFormat;
  /** The file's text, e.g. for registryDigest(). */
  text: string;
  /** Parsed but not yet validated. */
  doc: unknown;
}

export interface RegistryIssue {
  path: readonly PropertyKey[];
  message: string;
}

const MESSAGE_ISSUES = 3;

/** Parses JSON or YAML text; syntax errors name the line and column. Returns the data, not yet validated. */
export function parseRegistryText(text: string, format: RegistryFormat): unknown {
  const body = text.replace(/^\uFEFF/, '');
  return format === 'json' ? parseJson(body) : parseYaml(body);
}

/** Reads a registry file; the format follows the extension (.json, .yaml, .yml). */
export async function loadRegistryFile(path: string): Promise<LoadedRegistryFile> {
  const abs = resolve(path);
  const format = registryFormatOf(abs);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new GatewayError(
      'GW_ERR_REGISTRY_INVALID',
      `registry file ${abs}: ${readFailure(err)}`,
      { file: abs, issues: [readFailure(err)] },
      { cause: err },
    );
  }
  try {
    return { path: abs, format, text, doc: parseRegistryText(text, format) };
  } catch (err) {
    if (err instanceof GatewayError)
      throw new GatewayError(err.code, `registry file ${abs}: ${err.message}`, { file: abs, ...detailsOf(err) }, { cause: err });
    throw err;
  }
}

export function registryFormatOf(path: string): RegistryFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  throw new GatewayError(
    'GW_ERR_REGISTRY_INVALID',
    `registry file ${path}: unknown format "${ext || '(no extension)'}"; use .json, .yaml or .yml`,
    {
      file: path,
      issues: [`unknown file extension "${ext}"`],
    },
  );
}

/**
 * Validates a parsed document against the schema, duplicate ids and cross references (to the same
 * document or to `existing`). Throws GW_ERR_REGISTRY_INVALID with every problem as one line.
 */
export function validateRegistry(doc: unknown, existing: ExistingIds = {}): ValidatedRegistry {
  const parsed = registrySchema.safeParse(doc, { error: describeIssue });
  const issues: RegistryIssue[] = parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path, message: i.message }));
  issues.push(...referenceIssues(doc, existing));
  if (issues.length > 0 || !parsed.success) throw invalid(sortIssues(issues).map(formatIssue));
  return parsed.data;
}

/** Duplicate ids inside each list and references to unknown entities, read from the raw document. */
export function referenceIssues(doc: unknown, existing: ExistingIds): RegistryIssue[] {
  if (!isRecord(doc)) return [];
  const issues: RegistryIssue[] = [];
  const ids = new Map<RegistryList, Set<string>>();
  for (const list of REGISTRY_LISTS) {
    const seen = new Map<string, number>();
    for (const [index, item] of itemsOf(doc, list)) {
      const itemId = item.id;
      if (typeof itemId !== 'string') continue;
      const first = seen.get(itemId);
      if (first === undefined) seen.set(itemId, index);
      else issues.push({ path: [list, index, 'id'], message: `duplicate id "${itemId}" (first at ${list}[${first}])` });
    }
    ids.set(list, new Set(seen.keys()));
  }
  const refs: [RegistryList, string, 'communities' | 'residents' | 'volunteers', string][] = [
    ['residents', 'community', 'communities', 'community'],
    ['workers', 'community', 'communities', 'community'],
    ['devices', 'resident', 'residents', 'resident'],
    ['visits', 'volunteer', 'volunteers', 'volunteer'],
    ['visits', 'resident', 'residents', 'resident'],
  ];
  for (const [list, field, target, noun] of refs) {
    for (const [index, item] of itemsOf(doc, list)) {
      const ref = item[field];
      if (typeof ref !== 'string' || ids.get(target)?.has(ref) || existing[target]?.has(ref)) continue;
      issues.push({ path: [list, index, field], message: `unknown ${noun} "${ref}"` });
    }
  }
  issues.push(...bridgeIssues(doc, existing));
  return issues;
}

/** `residents[3].location.lat` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(document)' : out;
}

function formatIssue(issue: RegistryIssue): string {
  return `${formatPath(issue.path)}: ${issue.message}`;
}

// Report problems in document order (list by list, item by item), whichever check found them.
function sortIssues(issues: RegistryIssue[]): RegistryIssue[] {
  const rank = (i: RegistryIssue): [number, number] => {
    const [top, index] = i.path;
    const listRank = REGISTRY_LISTS.findIndex((l) => l === top);
    return [listRank === -1 ? (top === undefined ? -2 : -1) : listRank, typeof index === 'number' ? index : -1];
  };
  return issues
    .map((issue, order) => ({ issue, order, key: rank(issue) }))
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.order - b.order)
    .map((x) => x.issue);
}

/** The error for a list of issue lines: the message carries the first few, details carry them all. */
export function invalid(lines: string[]): GatewayError {
  const head = lines.slice(0, MESSAGE_ISSUES).join('; ');
  const more = lines.length > MESSAGE_ISSUES ? ` (and ${lines.length - MESSAGE_ISSUES} more)` : '';
  return new GatewayError('GW_ERR_REGISTRY_INVALID', head + more, { issues: lines });
}

// Plain words instead of zod's defaults; schema-level messages (ids, phones, times) take precedence.
function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `expected ${typeNoun(iss.expected)}`;
    case 'too_small':
      return bound('at least', 'greater than', iss.origin, iss.minimum, iss.inclusive);
    case 'too_big':
      return bound('at most', 'less than', iss.origin, iss.maximum, iss.inclusive);
    case 'invalid_value':
      return `expected one of ${iss.values.map(String).join(', ')}`;
    case 'custom':
    case 'invalid_format':
    case 'invalid_element':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    case 'unrecognized_keys':
    case undefined:
      return undefined;
  }
}

function typeNoun(expected: string): string {
  const nouns: Record<string, string> = {
    number: 'a number',
    int: 'a whole number',
    string: 'a string',
    boolean: 'true or false',
    array: 'a list',
    object: 'an object',
  };
  return nouns[expected] ?? expected;
}

function bound(inclusiveWord: string, exclusiveWord: string, origin: string, limit: number | bigint, inclusive?: boolean): string {
  const n = Number(limit);
  if (origin === 'string')
    return n === 1 && inclusiveWord === 'at least' ? 'must not be empty' : `must be ${inclusiveWord} ${n} characters`;
  if (origin === 'array') return n === 1 && inclusiveWord === 'at least' ? 'must not be empty' : `must have ${inclusiveWord} ${n} items`;
  return `must be ${inclusive === false ? exclusiveWord : inclusiveWord} ${n}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const at = locateJsonError(text);
    const pos = positionOf(text, at?.offset ?? text.length);
    const line = `line ${pos.line}, column ${pos.column}: JSON syntax error: ${at?.reason ?? errorMessage(err)}`;
    throw new GatewayError('GW_ERR_REGISTRY_INVALID', line, { issues: [line] }, { cause: err });
  }
}

function parseYaml(text: string): unknown {
  // uniqueKeys: a key written twice is a mistake, not "the last one wins"; maxAliasCount stops alias bombs.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const what = (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '');
      return pos ? `line ${pos.line}, column ${pos.col}: YAML syntax error: ${what}` : `YAML syntax error: ${what}`;
    });
    throw invalid(lines);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    const line = `YAML error: ${errorMessage(err)}`;
    throw new GatewayError('GW_ERR_REGISTRY_INVALID', line, { issues: [line] }, { cause: err });
  }
}

function readFailure(err: unknown): string {
  const code = isRecord(err) ? err.code : undefined;
  if (code === 'ENOENT') return 'file does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot be read: ${errorMessage(err)}`;
}

function detailsOf(err: GatewayError): Record<string, unknown> {
  return isRecord(err.details) ? err.details : {};
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function* itemsOf(doc: Record<string, unknown>, list: string): Generator<[number, Record<string, unknown>]> {
  const items = doc[list];
  if (!Array.isArray(items)) return;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (isRecord(item)) yield [i, item];
  }
}
