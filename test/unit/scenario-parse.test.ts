// The scenario YAML parser: the shipped scenarios read as meant, and a bad file gives one clear line per problem, naming the line and the step or expectation.
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimRegistry } from '../../simulators/common/registry.js';
import { checkAgainstRegistry } from '../../simulators/scenarios/expectations.js';
import { ScenarioError, loadScenarioFile, parseScenario } from '../../simulators/scenarios/parse.js';
import { parseResponderYaml } from '../../simulators/sms/responders.js';

const SCENARIO_DIR = fileURLToPath(new URL('../../simulators/scenarios/', import.meta.url));
const FIXTURE_REGISTRY = fileURLToPath(new URL('../fixtures/registry.yaml', import.meta.url));
const SIM_README = fileURLToPath(new URL('../../simulators/README.md', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The problems a text gives, or a failure when it parses. */
function problemsOf(text: string, source = 'bad.yaml'): string[] {
  try {
    parseScenario(text, source);
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
  throw new Error('expected the scenario to be refused');
}

describe('scenario files', () => {
  it('every shipped scenario parses and fits the registry it runs with', async () => {
    const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(
      [
        'building-power-cut',
        'fall-cancelled',
        'fall-escalated-twice',
        'lora-sos-acknowledged',
        'nobody-on-duty',
        'sos-acknowledged',
        'sos-storm',
      ].map((n) => `${n}.yaml`),
    );
    for (const file of files) {
      const scenario = await loadScenarioFile(SCENARIO_DIR + file);
      expect(scenario.name).toBe(file.replace('.yaml', ''));
      // Each against its own registry file (relative to the project root, as the runner reads it), valid per the documented registry format.
      if (scenario.registry.kind === 'file') {
        const registry = await SimRegistry.load(resolve(PROJECT_ROOT, scenario.registry.path));
        expect(checkAgainstRegistry(scenario, registry), file).toEqual([]);
      }
    }
  });

  it('reads steps, windows, escalation, patches and responders into their parsed form', () => {
    const scenario = parseScenario(
      `name: demo
escalation: { ackTimeoutSeconds: 10, fallCancelSeconds: 2 }
patch: { "workers.*.shifts": [], "workers.0.name": 王五 }
responders:
  default: { reply: "2", after: 1m }
  phones: [{ who: worker w-01, reply: 1, after: 500ms }]
steps:
  - { at: 5s, device: fall-001, event: cancel }
  - { at: 0, device: fall-001, event: fall, payload: { confidence: 0.9 } }
  - { at: 10s, powerCut: { building: 安达里3号楼, restoreAfter: 1m } }
  - { at: 1.5s, storm: { event: sos, over: 10s, count: 2 } }
expect:
  - { within: 2s, sms: { to: worker w-01, contains: "回1" } }
  - { after: 3s, within: 4s, noSms: {} }
  - { incident: { resident: r-001, state: acknowledged } }
settle: 3s
`,
      'demo.yaml',
    );
    expect(scenario.registry).toEqual({ kind: 'file', path: 'test/fixtures/registry.yaml' });
    expect(scenario.escalation).toEqual({ ackTimeoutSeconds: 10, fallCancelSeconds: 2 });
    expect(scenario.patch).toEqual([
      [['workers', '*', 'shifts'], []],
      [['workers', 0, 'name'], '王五'],
    ]);
    expect(scenario.responders).toEqual({
      default: { reply: '2', afterMs: 60_000 },
      phones: [{ who: 'worker w-01', reply: '1', after: 500 }],
    });
    // Sorted by time; the file order labels them.
    expect(scenario.steps.map((s) => [s.atMs, s.kind, s.label])).toEqual([
      [0, 'event', 'steps[1] (at 0, device fall-001)'],
      [1500, 'storm', 'steps[3] (at 1.5s, storm)'],
      [5000, 'event', 'steps[0] (at 5s, device fall-001)'],
      [10_000, 'powerCut', 'steps[2] (at 10s, powerCut)'],
    ]);
    expect(scenario.steps[0]).toMatchObject({ event: 'fall', payload: { confidence: 0.9 } });
    expect(scenario.steps[3]).toMatchObject({ building: '安达里3号楼', restoreAfterMs: 60_000 });
    expect(scenario.expect.map((e) => [e.kind, e.afterMs, e.withinMs, e.label])).toEqual([
      ['sms', 0, 2000, 'sms to worker w-01 containing "回1" within 2s'],
      ['noSms', 3000, 4000, 'no sms to anyone between 3s and 7s'],
      ['incident', 0, null, 'incident of r-001 acknowledged'],
    ]);
    expect(scenario.settleMs).toBe(3000);
  });

  it('the power-cut scenario runs on its own registry, where the cut building holds a storm and the community does not', async () => {
    const scenario = await loadScenarioFile(`${SCENARIO_DIR}building-power-cut.yaml`);
    expect(scenario.registry).toEqual({ kind: 'file', path: 'simulators/scenarios/registries/power-cut.yaml' });
    const registry = await SimRegistry.load(resolve(PROJECT_ROOT, scenario.registry.kind === 'file' ? scenario.registry.path : ''));
    const cut = registry.devices.filter((d) => d.building === '安达里3号楼');
    // A storm needs >= 5 devices and >= 50 % of the place; the cut plus one unrelated drop stays under half the community.
    expect(cut.length).toBe(8);
    expect(new Set(registry.devices.map((d) => d.community))).toEqual(new Set(['andali']));
    expect((cut.length + 1) / registry.devices.length).toBeLessThan(0.5);
    expect(registry.device('btn-501')?.building).toBe('安达里5号楼');
  });

  it('reads outage, outages and tasks expectations with their labels', () => {
    const scenario = parseScenario(
      `steps:
  - { at: 1s, powerCut: { building: 安达里3号楼 } }
expect:
  - { after: 1s, within: 10s, outage: { building: 安达里3号楼, state: open, devices: 2 } }
  - { outage: { building: 安达里3号楼 } }
  - { after: 5s, outages: { count: 1, state: open } }
  - { outages: { count: 0, building: 安达里5号楼 } }
  - { after: 5s, tasks: { kind: device_offline, building: 安达里3号楼, count: 0 } }
  - { tasks: { kind: low_battery, device: btn-002, state: open, count: 1 } }
`,
      'outage.yaml',
    );
    expect(scenario.expect.map((e) => [e.kind, e.afterMs, e.withinMs, e.label])).toEqual([
      ['outage', 1000, 10_000, 'outage of 安达里3号楼 open with 2 devices between 1s and 11s'],
      ['outage', 0, null, 'outage of 安达里3号楼'],
      ['outages', 5000, null, '1 open outages after 5s'],
      ['outages', 0, null, '0 outages of 安达里5号楼'],
      ['tasks', 5000, null, '0 device_offline tasks in 安达里3号楼 after 5s'],
      ['tasks', 0, null, '1 open low_battery tasks for btn-002'],
    ]);
    expect(scenario.expect[0]).toMatchObject({ building: '安达里3号楼', state: 'open', devices: 2 });
    expect(scenario.expect[1]).toMatchObject({ state: null, devices: null });
    expect(scenario.expect[5]).toMatchObject({ taskKind: 'low_battery', device: 'btn-002', state: 'open', building: null, count: 1 });
  });
});

describe('simulators/README.md', () => {
  it('its scenario example and responder file example parse', () => {
    const readme = readFileSync(SIM_README, 'utf8');
    // A block inside a list item is indented as a whole; take that indentation off.
    const dedent = (b: string): string => (b.split('\n').every((l) => l === '' || l.startsWith('  ')) ? b.replace(/^ {2}/gm, '') : b);
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?) *```/g)].map((m) => dedent(m[1] ?? ''));
    const scenario = blocks.find((b) => b.includes('steps:'));
    const responders = blocks.find((b) => b.startsWith('default:'));
    expect(scenario && responders).toBeTruthy();
    const parsed = parseScenario(scenario ?? '', 'README.md');
    expect(new Set(parsed.steps.map((s) => s.kind))).toEqual(new Set(['event', 'powerCut', 'dyingBattery', 'storm', 'bad', 'reply']));
    expect(new Set(parsed.expect.map((e) => e.kind))).toEqual(
      new Set(['sms', 'noSms', 'incident', 'incidents', 'device', 'devices', 'outage', 'outages', 'tasks', 'healthy']),
    );
    expect(parseResponderYaml(responders ?? '', 'README.md').phones).toHaveLength(3);
  });
});

describe('bad scenario files', () => {
  it('a misspelt event names the file, the line, the step and the allowed values', () => {
    const problems = problemsOf(`steps:
  - { at: 0s, device: fall-001, event: fall }
  - { at: 5s, device: fall-001, event: cancle }
expect:
  - { healthy: true }
`);
    expect(problems).toEqual([
      'bad.yaml:3: steps[1] (at 5s, device fall-001): event: expected one of sos, fall, cancel, motion, heartbeat, low_battery, got "cancle"',
    ]);
  });

  it('reports every problem at once, each with its own step or expectation', () => {
    const problems = problemsOf(`steps:
  - { at: soon, device: btn-001, event: sos }
  - { at: 1s, powerCut: { building: B1 }, dyingBattery: { device: btn-001 } }
  - { at: 2s }
  - { at: 3s, reply: { from: worker w-01, body: "1", extra: x } }
expect:
  - { within: 2s, sms: { contains: "回1" } }
  - { smss: { to: any } }
  - { within: -1s, healthy: true }
`);
    expect(problems).toEqual([
      'bad.yaml:2: steps[0] (at soon, device btn-001): at: expected a duration such as "500ms", "10s", "2m" or "1h", got "soon"',
      'bad.yaml:3: steps[1] (at 1s, powerCut): expected one action (device + event, powerCut, dyingBattery, storm, bad, reply), found "powerCut", "dyingBattery"',
      'bad.yaml:4: steps[2] (at 2s): expected one action (device + event, powerCut, dyingBattery, storm, bad, reply), found none',
      'bad.yaml:5: steps[3] (at 3s, reply): reply: unknown key "extra"',
      'bad.yaml:7: expect[0] (sms): sms.to: required',
      'bad.yaml:8: expect[1]: expected exactly one of sms, noSms, incident, incidents, device, devices, outage, outages, tasks, healthy (with optional after/within), found "smss"',
      'bad.yaml:9: expect[2] (healthy): within: expected a duration such as "500ms", "10s", "2m" or "1h", got "-1s"',
    ]);
  });

  it('names unknown top-level keys, missing steps and YAML syntax errors with their line', () => {
    expect(problemsOf('stpes: []\nexpect: [{ healthy: true }]\n')).toEqual(['bad.yaml: steps: required', 'bad.yaml: unknown key "stpes"']);
    expect(problemsOf('steps: []\nexpect: [{ healthy: true }]\n')).toEqual(['bad.yaml: steps: must have at least 1 item(s)']);
    const syntax = problemsOf('steps:\n  - { at: 0s, device: btn-001\nexpect: []\n');
    expect(syntax).toHaveLength(1);
    expect(syntax[0]).toMatch(/^bad\.yaml:3: YAML syntax error: Flow map/);
  });

  it('a scenario that does not fit its registry names the step: unknown device, a kind that cannot send the event, an unknown person', async () => {
    const registry = await SimRegistry.load(FIXTURE_REGISTRY);
    const scenario = parseScenario(
      `steps:
  - { at: 0s, device: btn-009, event: sos }
  - { at: 1s, device: btn-001, event: fall }
  - { at: 2s, powerCut: { building: 安达里9号楼 } }
  - { at: 3s, reply: { from: family r-001, body: "1" } }
expect:
  - { sms: { to: worker w-09 } }
  - { incident: { resident: r-404 } }
`,
      'fit.yaml',
    );
    expect(checkAgainstRegistry(scenario, registry)).toEqual([
      'steps[0] (at 0s, device btn-009): no device "btn-009" in the registry',
      'steps[1] (at 1s, device btn-001): btn-001 is a sos_button, which cannot send "fall"',
      'steps[2] (at 2s, powerCut): no building "安达里9号楼" in the registry (known: 安达里3号楼, 安达里5号楼)',
      'steps[3] (at 3s, reply): "family r-001" names 2 phones; name one',
      'expect[0] (sms to worker w-09): "worker w-09": the registry has no worker phone for "w-09"',
      'expect[1] (incident of r-404): no resident "r-404" in the registry',
    ]);
  });

  it('refuses bad outage, outages and tasks expectations, naming the line and expectation', () => {
    const problems = problemsOf(`steps:
  - { at: 1s, powerCut: { building: 安达里3号楼 } }
expect:
  - { outage: { state: open } }
  - { outage: { building: 安达里3号楼, state: opened, devices: 0 } }
  - { outages: { building: 安达里3号楼 } }
  - { tasks: { kind: offline, count: -1 } }
  - { tasks: { count: 0, resident: r-001 } }
`);
    expect(problems).toEqual([
      'bad.yaml:4: expect[0] (outage): outage.building: required',
      'bad.yaml:5: expect[1] (outage): outage.state: expected one of open, closed, got "opened"',
      'bad.yaml:5: expect[1] (outage): outage.devices: must be at least 1',
      'bad.yaml:6: expect[2] (outages): outages.count: required',
      'bad.yaml:7: expect[3] (tasks): tasks.count: must be at least 0',
      'bad.yaml:7: expect[3] (tasks): tasks.kind: expected one of device_offline, low_battery, never_reported, wellness_check, device_flooding, button_untested, got "offline"',
      'bad.yaml:8: expect[4] (tasks): tasks: unknown key "resident"',
    ]);
  });

  it('an outage or tasks expectation naming an unknown building or device does not fit the registry', async () => {
    const registry = await SimRegistry.load(FIXTURE_REGISTRY);
    const scenario = parseScenario(
      `steps:
  - { at: 0s, device: btn-001, event: sos }
expect:
  - { outage: { building: 安达里9号楼 } }
  - { outages: { count: 0, building: 安达里8号楼 } }
  - { tasks: { count: 0, building: 安达里3号楼, device: btn-404 } }
`,
      'fit.yaml',
    );
    expect(checkAgainstRegistry(scenario, registry)).toEqual([
      'expect[0] (outage of 安达里9号楼): no building "安达里9号楼" in the registry (known: 安达里3号楼, 安达里5号楼)',
      'expect[1] (0 outages of 安达里8号楼): no building "安达里8号楼" in the registry (known: 安达里3号楼, 安达里5号楼)',
      'expect[2] (0 tasks in 安达里3号楼 for btn-404): no device "btn-404" in the registry',
    ]);
  });

  it('a file that cannot be read is a ScenarioError naming it', async () => {
    await expect(loadScenarioFile('/nonexistent/scenario.yaml')).rejects.toThrow(
      /scenario \/nonexistent\/scenario\.yaml:\n {2}cannot read: ENOENT/,
    );
  });
});
