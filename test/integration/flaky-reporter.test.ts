// The flaky-test reporter in a real vitest run: a test that passed only on its retry is named at the end, others are not.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = 'test/fixtures/flaky-run/vitest.config.ts';
const HEADING = 'Tests that passed only on a retry';

/** `vitest run` on the fixture checks from the project root, as CI runs the suite; its exit code and output. */
function runFixture(extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', CONFIG, ...extra], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, NO_COLOR: '1', CI: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('flaky-test reporter', () => {
  it('names, after the run, the test that failed once and passed on its retry, and only that one', async () => {
    const run = await runFixture([]);
    // The run still fails: a test that failed both tries is a failure, not a flake.
    expect(run.code, run.stderr).toBe(1);
    const tail = run.stderr.slice(run.stderr.lastIndexOf(HEADING));
    expect(tail.split('\n').filter((l) => l.trim().length > 0)).toEqual([
      `${HEADING} (flaky: find the cause, the retry only hides it):`,
      '  test/fixtures/flaky-run/retried.check.ts > a group > passes on the second try (passed on try 2)',
    ]);
  }, 60_000);

  it('prints nothing when no test needed a retry', async () => {
    const run = await runFixture(['--retry', '0']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('passes on the second try');
    expect(run.stderr).not.toContain(HEADING);
  }, 60_000);
});
