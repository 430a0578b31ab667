// Fuzzing the registry loader: any text or document is either a valid registry or GW_ERR_REGISTRY_INVALID with one-line issues, and a broken field is named by its path.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { formatPath, parseRegistryText, validateRegistry, type RegistryFormat } from '../../gateway/registry/load.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { anyJson } from './arbitraries.js';
import { checkProperty, fuzzBudget } from './budget.js';

type Path = (string | number)[];

const FIXTURE_TEXT = readFileSync(TEST_REGISTRY, 'utf8');
const FIXTURE = parseRegistryText(FIXTURE_TEXT, 'yaml');

/** Keys the schema types and requires (or types when present): changing their type must be reported at their path. */
const TYPED_KEYS = new Set([
  'id',
  'name',
  'community',
  'address',
  'phone',
  'lat',
  'lon',
  'kind',
  'resident',
  'secret',
  'volunteer',
  'cron',
  'durationMinutes',
  'activity',
  'from',
  'to',
  'days',
  'ackTimeoutSeconds',
  'fallCancelSeconds',
  'offlineAfterSeconds',
  'relation',
  'team',
  'family',
  'shifts',
  'dutyContacts',
]);
const REQUIRED_KEYS = new Set([
  'id',
  'name',
  'community',
  'address',
  'phone',
  'lat',
  'lon',
  'kind',
  'resident',
  'secret',
  'volunteer',
  'cron',
  'durationMinutes',
  'activity',
  'from',
  'to',
  'days',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every path under `value`, containers included, in document order. */
function pathsOf(value: unknown, at: Path = []): Path[] {
  const out: Path[] = at.length > 0 ? [at] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

const ALL_PATHS = pathsOf(FIXTURE);
const TYPED_PATHS = ALL_PATHS.filter((p) => {
  const last = p.at(-1);
  return typeof last === 'string' && TYPED_KEYS.has(last);
});
const REQUIRED_PATHS = ALL_PATHS.filter((p) => {
  const last = p.at(-1);
  return typeof last === 'string' && REQUIRED_KEYS.has(last);
});
const CONTAINER_PATHS = [[], ...ALL_PATHS.filter((p) => isRecord(get(FIXTURE, p)))];

function get(doc: unknown, path: Path): unknown {
  let v = doc;
  for (const seg of path) v = typeof v === 'object' && v !== null ? Reflect.get(v, seg) : undefined;
  return v;
}

/** A copy of the fixture with `mutate` applied to the parent of `path`. */
function edited(path: Path, mutate: (parent: object, key: string | number) => void): unknown {
  const doc: unknown = structuredClone(FIXTURE);
  const parent = get(doc, path.slice(0, -1));
  const key = path.at(-1);
  if (typeof parent === 'object' && parent !== null && key !== undefined) mutate(parent, key);
  return doc;
}

/** A value of another JSON type than `v`, so no schema that types the field accepts it. */
function otherType(v: unknown, pick: number): unknown {
  const candidates: unknown[] = [42, 'x', true, null, [], {}, -1.5].filter(
    (c) => typeof c !== typeof v || Array.isArray(c) !== Array.isArray(v) || (c === null) !== (v === null),
  );
  return candidates[pick % candidates.length];
}

/** The outcome of loading: the registry, or the issue lines of a GW_ERR_REGISTRY_INVALID (anything else fails the property). */
function load(run: () => unknown): { ok: true } | { ok: false; issues: string[] } {
  try {
    run();
    return { ok: true };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    expect(err.code).toBe('GW_ERR_REGISTRY_INVALID');
    const issues: unknown = isRecord(err.details) ? err.details.issues : undefined;
    if (!Array.isArray(issues)) throw new Error(`no issue list in ${JSON.stringify(err.details)}`);
    expect(issues.length).toBeGreaterThan(0);
    for (const line of issues) {
      expect(typeof line).toBe('string');
      expect(String(line)).not.toMatch(/\n/);
    }
    expect(err.message.length).toBeGreaterThan(0);
    return { ok: false, issues: issues.map(String) };
  }
}

// Pieces of YAML and JSON syntax, so generated text reaches the parsers' odd corners (anchors, tags, flow, block scalars).
const yamlToken = fc.constantFrom(
  '\n',
  '  ',
  '- ',
  ': ',
  '? ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '#',
  '|',
  '>',
  '&a ',
  '*a',
  '<<: *a',
  '!!str ',
  '!!binary ',
  '!!js/function ',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  'residents',
  'devices',
  'id',
  'phone',
  '+8613800000001',
  'r-001',
  'null',
  '~',
  '0x1F',
  '1e309',
  '.nan',
  '\t',
  '\u0000',
  '\uFEFF',
);
const registryText = fc.oneof(
  fc.array(yamlToken, { maxLength: 40 }).map((t) => t.join('')),
  fc.string({ maxLength: 200 }),
  fc
    .tuple(fc.nat({ max: FIXTURE_TEXT.length }), fc.nat({ max: FIXTURE_TEXT.length }), fc.string({ maxLength: 8 }))
    .map(([at, cut, insert]) => FIXTURE_TEXT.slice(0, Math.min(at, cut)) + insert + FIXTURE_TEXT.slice(Math.max(at, cut))),
  anyJson.map((v) => JSON.stringify(v) ?? ''),
);

describe('registry loader (fuzz)', () => {
  const text = fuzzBudget(500);
  it(
    'any JSON or YAML text is a registry or a one-line-per-issue GW_ERR_REGISTRY_INVALID',
    async () => {
      await checkProperty(
        'registry text: valid or invalid with issues',
        fc.property(registryText, fc.constantFrom<RegistryFormat>('json', 'yaml'), (body, format) => {
          load(() => validateRegistry(parseRegistryText(body, format)));
        }),
        text,
      );
    },
    text.testTimeoutMs,
  );

  const docs = fuzzBudget(500);
  it(
    'any document, or the test registry with a key added anywhere, never throws anything but GW_ERR_REGISTRY_INVALID',
    async () => {
      const added = fc.tuple(
        fc.constantFrom(...CONTAINER_PATHS),
        fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')),
        anyJson,
      );
      await checkProperty(
        'registry document: valid or invalid with issues',
        fc.property(
          fc.oneof(
            anyJson,
            added.map(([at, key, value]) =>
              edited([...at, key], (parent, k) =>
                Object.defineProperty(parent, k, { value, enumerable: true, writable: true, configurable: true }),
              ),
            ),
          ),
          (doc) => {
            load(() => validateRegistry(doc));
          },
        ),
        docs,
      );
    },
    docs.testTimeoutMs,
  );

  const fields = fuzzBudget(500);
  it(
    'a field of the wrong type, a required field missing or a repeated id is reported at its path',
    async () => {
      const wrongType = fc.tuple(fc.constantFrom(...TYPED_PATHS), fc.nat()).map(([path, pick]) => ({
        path,
        doc: edited(path, (parent, key) => {
          Reflect.set(parent, key, otherType(Reflect.get(parent, key), pick));
        }),
      }));
      const missing = fc.constantFrom(...REQUIRED_PATHS).map((path) => ({
        path,
        doc: edited(path, (parent, key) => {
          Reflect.deleteProperty(parent, key);
        }),
      }));
      const listIds = ALL_PATHS.filter((p) => p.length === 3 && p[2] === 'id' && typeof p[1] === 'number');
      const pairs = listIds.flatMap((a) => listIds.filter((b) => a[0] === b[0] && Number(b[1]) > Number(a[1])).map((b) => [a, b] as const));
      const duplicate = fc.constantFrom(...pairs).map(([first, second]) => ({
        path: second,
        doc: edited(second, (parent, key) => {
          Reflect.set(parent, key, get(FIXTURE, first));
        }),
      }));
      await checkProperty(
        'registry field: named by its path',
        fc.property(fc.oneof(wrongType, missing, duplicate), ({ path, doc }) => {
          const outcome = load(() => validateRegistry(doc));
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(outcome.issues.some((l) => l.startsWith(`${formatPath(path)}: `))).toBe(true);
        }),
        fields,
      );
    },
    fields.testTimeoutMs,
  );

  it('the unchanged test registry loads, so the properties above start from a valid document', () => {
    expect(load(() => validateRegistry(FIXTURE))).toEqual({ ok: true });
    expect(TYPED_PATHS.length).toBeGreaterThan(20);
  });
});
