// The scenario runner end to end: every shipped scenario each start `npm start`, run concurrently (own ports each) and pass; a false expectation fails the report and the CLI.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { loadScenarioFile, parseScenario } from '../../simulators/scenarios/parse.js';
import { formatReport } from '../../simulators/scenarios/report.js';
import { PROJECT_ROOT, runScenario } from '../../simulators/scenarios/runner.js';
import { tempDir } from '../helpers/tmp.js';

const SCENARIO_DIR = fileURLToPath(new URL('../../simulators/scenarios/', import.meta.url));
/** Every shipped scenario, with its per-test timeout: set-up (gateway start, devices connecting) plus the run, with room for a loaded CI machine. */
const SHIPPED: [name: string, timeoutMs: number][] = [
  ['sos-acknowledged', 90_000],
  ['fall-cancelled', 90_000],
  ['fall-escalated-twice', 90_000],
  ['nobody-on-duty', 90_000],
  // About 80 s of run: the outage page goes 30 s after the cut, power returns at 50 s.
  ['building-power-cut', 180_000],
  // 500 devices connect before time zero, then 500 SOS in 10 s; generous for a shared 2-core machine.
  ['sos-storm', 240_000],
  // A LoRaWAN button through the ChirpStack bridge, on a mosquitto the runner starts as ChirpStack's broker.
  ['lora-sos-acknowledged', 90_000],
];

// w-01 is paged at once; w-02 only after the 10 s ack timeout, so expecting w-02 within 2 s is false.
const FALSE_SCENARIO = `name: false-expectation
escalation: { ackTimeoutSeconds: 10 }
steps:
  - { at: 0s, device: btn-002, event: sos }
expect:
  - { within: 2s, sms: { to: worker w-01, contains: "回1" } }
  - { within: 2s, sms: { to: worker w-02, contains: "回1" } }
settle: 1s
`;

describe('scenarios through the runner API, against npm start', () => {
  const dir = tempDir('care-gw-scenarios-');
  afterAll(() => dir.remove());

  for (const [name, timeout] of SHIPPED) {
    it.concurrent(`${name} passes`, { timeout }, async ({ expect }) => {
      const scenario = await loadScenarioFile(join(SCENARIO_DIR, `${name}.yaml`));
      const report = await runScenario(scenario);
      // The whole report is the failure message: which expectation, what was seen, the gateway's stderr.
      expect(report.passed, formatReport(report)).toBe(true);
      expect(report.results.length).toBe(scenario.expect.length);
      expect(report.stepErrors).toEqual([]);
    });
  }

  it.concurrent(
    'a false expectation fails the report (and only that one), and the CLI exits 1 naming it',
    { timeout: 90_000 },
    async ({ expect }) => {
      const report = await runScenario(parseScenario(FALSE_SCENARIO, 'false-expectation.yaml'));
      expect(report.passed).toBe(false);
      expect(report.setupError).toBeNull();
      expect(report.results.map((r) => [r.label, r.passed])).toEqual([
        ['sms to worker w-01 containing "回1" within 2s', true],
        ['sms to worker w-02 containing "回1" within 2s', false],
      ]);
      expect(report.results[1]?.detail).toBe('nothing was sent to them');
      expect(formatReport(report)).toMatch(/^FAIL {2}false-expectation/);

      const file = join(dir.path, 'false-expectation.yaml');
      writeFileSync(file, FALSE_SCENARIO);
      const cli = await runCli([file, '--quiet']);
      expect(cli.code, cli.stderr).toBe(1);
      expect(cli.stdout).toContain('FAIL  false-expectation');
      expect(cli.stdout).toContain('✗ sms to worker w-02 containing "回1" within 2s — nothing was sent to them');
      expect(cli.stdout).toContain('1 of 1 scenario(s) failed: false-expectation');
    },
  );

  it.concurrent(
    'a run stopped through its signal ends at once, with an incomplete failed report',
    { timeout: 60_000 },
    async ({ expect }) => {
      const scenario = await loadScenarioFile(join(SCENARIO_DIR, 'fall-escalated-twice.yaml'));
      const stop = new AbortController();
      const log = (line: string): void => {
        if (line.includes('fall acknowledged')) setTimeout(() => stop.abort(), 500);
      };
      const report = await runScenario(scenario, { signal: stop.signal, log });
      expect(report.interrupted).toBe(true);
      expect(report.passed).toBe(false);
      // Stopped about half a second in: the run ended before the escalations it would have seen at 11 s and 21 s.
      const escalations = report.results.filter((r) => /^sms to worker w-0[23] /.test(r.label));
      expect(escalations.map((r) => [r.passed, r.detail])).toEqual([
        [false, 'nothing was sent to them'],
        [false, 'nothing was sent to them'],
      ]);
      expect(formatReport(report)).toContain('✗ interrupted before the end');
    },
  );

  it.concurrent('the CLI refuses an invalid scenario with exit code 2 and the step named, before starting anything', async ({ expect }) => {
    const file = join(dir.path, 'invalid.yaml');
    writeFileSync(file, 'steps:\n  - { at: 0s, device: btn-001, event: sso }\nexpect:\n  - { healthy: true }\n');
    const cli = await runCli([file]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(
      `${file}:2: steps[0] (at 0s, device btn-001): event: expected one of sos, fall, cancel, motion, heartbeat, low_battery, got "sso"`,
    );
  });
});

/** `tsx simulators/scenarios/cli.ts …` in the project root, as `npm run scenario` runs it. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(PROJECT_ROOT, 'node_modules/.bin/tsx'), ['simulators/scenarios/cli.ts', ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
