// Reads scenario YAML: checks every key, and names the file, line, step or expectation of each problem.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CARE_TASK_KINDS, DEVICE_KINDS, EVENT_TYPES, INCIDENT_STATES } from '../../gateway/core/types.js';
import { formatDuration, durationSchema } from '../common/duration.js';
import { BAD_INPUTS } from '../fleet/device.js';
import { responderConfigSchema } from '../sms/responders.js';
import { EXPECTATION_KINDS, STEP_ACTIONS, type Expectation, type Scenario, type Step } from './schema.js';

/** A scenario that cannot run; `problems` holds one line per problem, each naming where it is. */
export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`scenario ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

// ---- field schemas ------------------------------------------------------------------------------------------------

const duration = durationSchema;
const id = z.string().min(1);
const text = z.string().min(1);
const count = z.number().int().min(0);
const incidentType = z.enum(['sos', 'fall']);
const liveState = z.enum(['online', 'offline']);
const openState = z.enum(['open', 'closed']);

const stepSchemas = {
  event: z.strictObject({ at: duration, device: id, event: z.enum(EVENT_TYPES), payload: z.record(z.string(), z.unknown()).optional() }),
  powerCut: z.strictObject({ at: duration, powerCut: z.strictObject({ building: text, restoreAfter: duration.optional() }) }),
  dyingBattery: z.strictObject({ at: duration, dyingBattery: z.strictObject({ device: id }) }),
  storm: z.strictObject({
    at: duration,
    storm: z.strictObject({
      event: incidentType,
      over: duration,
      kinds: z.array(z.enum(DEVICE_KINDS)).min(1).optional(),
      count: count.optional(),
    }),
  }),
  bad: z.strictObject({ at: duration, bad: z.strictObject({ device: id, input: z.enum(BAD_INPUTS) }) }),
  reply: z.strictObject({ at: duration, reply: z.strictObject({ from: text, body: z.union([text, z.number()]).transform(String) }) }),
} as const;

const window = { after: duration.optional(), within: duration.optional() };
const expectSchemas = {
  sms: z.strictObject({ ...window, sms: z.strictObject({ to: text, contains: text.optional(), count: count.optional() }) }),
  noSms: z.strictObject({ ...window, noSms: z.strictObject({ to: text.optional(), contains: text.optional() }) }),
  incident: z.strictObject({
    ...window,
    incident: z.strictObject({
      resident: id,
      state: z.enum(INCIDENT_STATES).optional(),
      type: incidentType.optional(),
      acknowledgedBy: text.optional(),
    }),
  }),
  incidents: z.strictObject({
    ...window,
    incidents: z.strictObject({ count, state: z.enum(INCIDENT_STATES).optional(), type: incidentType.optional() }),
  }),
  device: z.strictObject({ ...window, device: z.strictObject({ id, state: liveState }) }),
  devices: z.strictObject({
    ...window,
    devices: z.strictObject({ building: text.optional(), kind: z.enum(DEVICE_KINDS).optional(), state: liveState }),
  }),
  outage: z.strictObject({
    ...window,
    outage: z.strictObject({ building: text, state: openState.optional(), devices: z.number().int().min(1).optional() }),
  }),
  outages: z.strictObject({ ...window, outages: z.strictObject({ count, building: text.optional(), state: openState.optional() }) }),
  tasks: z.strictObject({
    ...window,
    tasks: z.strictObject({
      count,
      kind: z.enum(CARE_TASK_KINDS).optional(),
      building: text.optional(),
      device: id.optional(),
      state: openState.optional(),
    }),
  }),
  healthy: z.strictObject({ ...window, healthy: z.literal(true) }),
} as const;

const generated = z.strictObject({ residents: z.number().int().min(1).max(20_000), buildings: z.number().int().min(1).optional() });

const topSchema = z.strictObject({
  name: text.optional(),
  description: z.string().optional(),
  registry: z.union([text, z.strictObject({ generate: generated })]).optional(),
  escalation: z
    .strictObject({
      ackTimeoutSeconds: z.number().int().optional(),
      fallCancelSeconds: z.number().int().optional(),
      offlineAfterSeconds: z.number().int().optional(),
    })
    .optional(),
  patch: z.record(z.string(), z.unknown()).optional(),
  responders: responderConfigSchema.optional(),
  timeZone: text.optional(),
  settle: duration.optional(),
  steps: z.array(z.unknown()).min(1),
  expect: z.array(z.unknown()).min(1),
});

// ---- messages -----------------------------------------------------------------------------------------------------

function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : (JSON.stringify(v) ?? String(v));
}

const TYPE_NOUNS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

// Plain sentences instead of zod's defaults, with what was found.
function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? 'required' : `expected ${TYPE_NOUNS[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
    case 'invalid_value':
      return `expected ${iss.values.length === 1 ? show(iss.values[0]) : `one of ${iss.values.map(String).join(', ')}`}, got ${show(iss.input)}`;
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'too_small':
      return iss.origin === 'array' ? `must have at least ${Number(iss.minimum)} item(s)` : `must be at least ${Number(iss.minimum)}`;
    case 'too_big':
      return `must be at most ${Number(iss.maximum)}`;
    case 'invalid_union':
      return `not a valid value: ${show(iss.input)}`;
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'not_multiple_of':
    case undefined:
      return undefined;
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function issuesOf(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((i) => {
    const where = pathText(i.path);
    return `${prefix}${where ? `${where}: ` : ''}${i.message}`;
  });
}

// ---- steps and expectations ---------------------------------------------------------------------------------------

type Raw = Record<string, unknown>;
type StepAction = (typeof STEP_ACTIONS)[number];
type ExpectationKind = (typeof EXPECTATION_KINDS)[number];
const isStepAction = (k: string): k is StepAction => (STEP_ACTIONS as readonly string[]).includes(k);
const isExpectationKind = (k: string): k is ExpectationKind => (EXPECTATION_KINDS as readonly string[]).includes(k);
const isRaw = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function stepLabel(i: number, raw: Raw): string {
  const at = typeof raw.at === 'string' || typeof raw.at === 'number' ? `at ${String(raw.at)}` : 'no "at"';
  const action = typeof raw.device === 'string' ? `device ${raw.device}` : Object.keys(raw).find((k) => k !== 'at');
  return `steps[${i}] (${at}${action ? `, ${action}` : ''})`;
}

function parseStep(i: number, raw: unknown): Step | string[] {
  if (!isRaw(raw)) return [`steps[${i}]: expected a step such as {at: 0s, device: btn-001, event: sos}, got ${show(raw)}`];
  const label = stepLabel(i, raw);
  const actions: StepAction[] = 'device' in raw || 'event' in raw ? ['event'] : Object.keys(raw).filter(isStepAction);
  const action = actions[0];
  if (actions.length !== 1 || action === undefined) {
    const found = Object.keys(raw).filter((k) => k !== 'at');
    return [
      `${label}: expected one action (device + event, ${STEP_ACTIONS.slice(1).join(', ')}), found ${found.length ? found.map((k) => `"${k}"`).join(', ') : 'none'}`,
    ];
  }
  const base = (atMs: number) => ({ index: i, label, atMs });
  const fail = (e: z.ZodError) => issuesOf(e, `${label}: `);
  switch (action) {
    case 'event': {
      const r = stepSchemas.event.safeParse(raw, { error: describeIssue });
      return r.success
        ? { ...base(r.data.at), kind: 'event', device: r.data.device, event: r.data.event, payload: r.data.payload ?? {} }
        : fail(r.error);
    }
    case 'powerCut': {
      const r = stepSchemas.powerCut.safeParse(raw, { error: describeIssue });
      return r.success
        ? { ...base(r.data.at), kind: 'powerCut', building: r.data.powerCut.building, restoreAfterMs: r.data.powerCut.restoreAfter ?? null }
        : fail(r.error);
    }
    case 'dyingBattery': {
      const r = stepSchemas.dyingBattery.safeParse(raw, { error: describeIssue });
      return r.success ? { ...base(r.data.at), kind: 'dyingBattery', device: r.data.dyingBattery.device } : fail(r.error);
    }
    case 'storm': {
      const r = stepSchemas.storm.safeParse(raw, { error: describeIssue });
      if (!r.success) return fail(r.error);
      const s = r.data.storm;
      return { ...base(r.data.at), kind: 'storm', event: s.event, overMs: s.over, deviceKinds: s.kinds ?? null, count: s.count ?? null };
    }
    case 'bad': {
      const r = stepSchemas.bad.safeParse(raw, { error: describeIssue });
      return r.success ? { ...base(r.data.at), kind: 'bad', device: r.data.bad.device, input: r.data.bad.input } : fail(r.error);
    }
    case 'reply': {
      const r = stepSchemas.reply.safeParse(raw, { error: describeIssue });
      return r.success ? { ...base(r.data.at), kind: 'reply', from: r.data.reply.from, body: r.data.reply.body } : fail(r.error);
    }
    default: {
      const never: never = action;
      return [`${label}: unknown action "${String(never)}"`];
    }
  }
}

function windowText(afterMs: number, withinMs: number | null): string {
  if (withinMs === null) return afterMs > 0 ? ` after ${formatDuration(afterMs)}` : '';
  return afterMs > 0
    ? ` between ${formatDuration(afterMs)} and ${formatDuration(afterMs + withinMs)}`
    : ` within ${formatDuration(withinMs)}`;
}

function parseExpectation(i: number, raw: unknown): Expectation | string[] {
  const head = `expect[${i}]`;
  if (!isRaw(raw)) return [`${head}: expected an expectation such as {sms: {to: worker w-01, contains: "回1"}}, got ${show(raw)}`];
  const kinds = Object.keys(raw).filter(isExpectationKind);
  const kind = kinds[0];
  if (kinds.length !== 1 || kind === undefined) {
    return [
      `${head}: expected exactly one of ${EXPECTATION_KINDS.join(', ')} (with optional after/within), found ${
        Object.keys(raw)
          .map((k) => `"${k}"`)
          .join(', ') || 'none'
      }`,
    ];
  }
  const r = expectSchemas[kind].safeParse(raw, { error: describeIssue });
  if (!r.success) return issuesOf(r.error, `${head} (${kind}): `);
  const afterMs = r.data.after ?? 0;
  const withinMs = r.data.within ?? null;
  const win = windowText(afterMs, withinMs);
  const base = { index: i, afterMs, withinMs };
  const d = r.data;
  if ('sms' in d) {
    const s = d.sms;
    return {
      ...base,
      kind: 'sms',
      to: s.to,
      contains: s.contains ?? null,
      count: s.count ?? null,
      label: `sms to ${s.to}${s.contains ? ` containing "${s.contains}"` : ''}${s.count === undefined ? '' : ` (${s.count} exactly)`}${win}`,
    };
  }
  if ('noSms' in d) {
    const s = d.noSms;
    return {
      ...base,
      kind: 'noSms',
      to: s.to ?? 'any',
      contains: s.contains ?? null,
      label: `no sms to ${s.to ?? 'anyone'}${s.contains ? ` containing "${s.contains}"` : ''}${win}`,
    };
  }
  if ('incident' in d) {
    const s = d.incident;
    const what = [s.type, s.state].filter(Boolean).join(' ');
    return {
      ...base,
      kind: 'incident',
      resident: s.resident,
      state: s.state ?? null,
      type: s.type ?? null,
      acknowledgedBy: s.acknowledgedBy ?? null,
      label: `incident of ${s.resident}${what ? ` ${what}` : ''}${s.acknowledgedBy ? ` by ${s.acknowledgedBy}` : ''}${win}`,
    };
  }
  if ('incidents' in d) {
    const s = d.incidents;
    return {
      ...base,
      kind: 'incidents',
      count: s.count,
      state: s.state ?? null,
      type: s.type ?? null,
      label: `${s.count} ${[s.type, s.state].filter(Boolean).join(' ')} incidents${win}`.replace(/\s+/g, ' '),
    };
  }
  if ('device' in d)
    return { ...base, kind: 'device', id: d.device.id, state: d.device.state, label: `device ${d.device.id} ${d.device.state}${win}` };
  if ('devices' in d) {
    const s = d.devices;
    const which = [s.building ? `in ${s.building}` : null, s.kind ? `of kind ${s.kind}` : null].filter(Boolean).join(' ');
    return {
      ...base,
      kind: 'devices',
      building: s.building ?? null,
      deviceKind: s.kind ?? null,
      state: s.state,
      label: `every device ${which ? `${which} ` : ''}${s.state}${win}`,
    };
  }
  if ('outage' in d) {
    const s = d.outage;
    const what = [s.state, s.devices === undefined ? null : `with ${s.devices} devices`].filter(Boolean).join(' ');
    return {
      ...base,
      kind: 'outage',
      building: s.building,
      state: s.state ?? null,
      devices: s.devices ?? null,
      label: `outage of ${s.building}${what ? ` ${what}` : ''}${win}`,
    };
  }
  if ('outages' in d) {
    const s = d.outages;
    const which = [s.state, 'outages', s.building ? `of ${s.building}` : null].filter(Boolean).join(' ');
    return {
      ...base,
      kind: 'outages',
      count: s.count,
      building: s.building ?? null,
      state: s.state ?? null,
      label: `${s.count} ${which}${win}`,
    };
  }
  if ('tasks' in d) {
    const s = d.tasks;
    const which = [s.state, s.kind, 'tasks', s.building ? `in ${s.building}` : null, s.device ? `for ${s.device}` : null]
      .filter(Boolean)
      .join(' ');
    return {
      ...base,
      kind: 'tasks',
      count: s.count,
      taskKind: s.kind ?? null,
      building: s.building ?? null,
      device: s.device ?? null,
      state: s.state ?? null,
      label: `${s.count} ${which}${win}`,
    };
  }
  return { ...base, kind: 'healthy', label: `gateway healthy (/healthz 200, process running)${win}` };
}

// ---- the document -------------------------------------------------------------------------------------------------

/** `file:12` for the node at `path`, or just `file`. */
function where(doc: Document, lines: LineCounter, source: string, path: (string | number)[]): string {
  for (let p = path; p.length > 0; p = p.slice(0, -1)) {
    const node = doc.getIn(p, true);
    const range = isNode(node) ? node.range : undefined;
    if (range) return `${source}:${lines.linePos(range[0]).line}`;
  }
  return source;
}

/** Parses scenario text; throws ScenarioError listing every problem, each with its line and step or expectation. */
export function parseScenario(textIn: string, source: string): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(textIn, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      source,
      doc.errors.map((e) => `${source}:${lines.linePos(e.pos[0]).line}: YAML syntax error: ${e.message.split('\n')[0] ?? ''}`),
    );
  }
  const raw: unknown = doc.toJS();
  const top = topSchema.safeParse(raw ?? {}, { error: describeIssue });
  if (!top.success)
    throw new ScenarioError(
      source,
      issuesOf(top.error).map((p) => `${source}: ${p}`),
    );
  const t = top.data;

  const problems: string[] = [];
  const steps: Step[] = [];
  t.steps.forEach((s, i) => {
    const r = parseStep(i, s);
    if (Array.isArray(r)) problems.push(...r.map((p) => `${where(doc, lines, source, ['steps', i])}: ${p}`));
    else steps.push(r);
  });
  const expect: Expectation[] = [];
  t.expect.forEach((e, i) => {
    const r = parseExpectation(i, e);
    if (Array.isArray(r)) problems.push(...r.map((p) => `${where(doc, lines, source, ['expect', i])}: ${p}`));
    else expect.push(r);
  });

  const responders = t.responders ?? { phones: [] };
  const patch: Scenario['patch'] = Object.entries(t.patch ?? {}).map(([key, value]) => [
    key.split('.').map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg)),
    value,
  ]);
  for (const [path] of patch) {
    if (path.some((seg) => seg === ''))
      problems.push(`${where(doc, lines, source, ['patch'])}: patch: "${path.join('.')}" is not a dotted path such as workers.0.shifts`);
  }
  if (problems.length > 0) throw new ScenarioError(source, problems);

  const registry: Scenario['registry'] =
    typeof t.registry === 'object'
      ? {
          kind: 'generate',
          residents: t.registry.generate.residents,
          buildings: t.registry.generate.buildings ?? Math.max(1, Math.ceil(t.registry.generate.residents / 20)),
        }
      : { kind: 'file', path: t.registry ?? 'test/fixtures/registry.yaml' };
  return {
    name: t.name ?? basename(source, extname(source)),
    description: t.description ?? '',
    source,
    registry,
    escalation: t.escalation ?? {},
    patch,
    responders,
    timeZone: t.timeZone ?? 'Asia/Shanghai',
    // Run order: by time, and in file order for the same time.
    steps: steps.sort((a, b) => a.atMs - b.atMs || a.index - b.index),
    expect,
    settleMs: t.settle ?? 5000,
  };
}

export async function loadScenarioFile(path: string): Promise<Scenario> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(path, [`cannot read: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return parseScenario(content, path);
}
