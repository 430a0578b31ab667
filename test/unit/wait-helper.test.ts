// The tests' one poll-until helper: what it returns, how it fails, and that its timeout error names what was awaited.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';

describe('waitFor', () => {
  it('returns the first truthy value the probe gives', async () => {
    let calls = 0;
    const found = await waitFor('the third probe', () => (++calls >= 3 ? { calls } : null), { intervalMs: 1 });
    expect(found).toEqual({ calls: 3 });
  });

  it('keeps probing past false, 0 and an empty string', async () => {
    const answers: unknown[] = [false, 0, '', undefined, 'found'];
    expect(await waitFor('a non-empty answer', () => answers.shift(), { intervalMs: 1 })).toBe('found');
  });

  it('names what it waited for, and for how long, when nothing turns up', async () => {
    await expect(waitFor('the incident of r-001', () => null, { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      'timed out after 30 ms waiting for the incident of r-001',
    );
  });

  it('asks a described wait for its description only when it times out', async () => {
    let output = 'nothing yet';
    const waiting = waitFor(
      () => `the banner\n${output}`,
      () => false,
      { timeoutMs: 30, intervalMs: 5 },
    );
    output = 'stdout: starting';
    await expect(waiting).rejects.toThrow('waiting for the banner\nstdout: starting');
  });

  it('fails at once when the probe throws, unless told to retry, and then names the last error', async () => {
    let calls = 0;
    const broken = () => {
      calls += 1;
      throw new Error('connection refused');
    };
    await expect(waitFor('a server', broken, { timeoutMs: 1000 })).rejects.toThrow('connection refused');
    expect(calls).toBe(1);
    await expect(waitFor('a server', broken, { timeoutMs: 30, intervalMs: 5, retryErrors: true })).rejects.toThrow(
      'timed out after 30 ms waiting for a server; last error: connection refused',
    );
    let tries = 0;
    const flaky = async () => {
      if (++tries < 3) throw new Error('not yet');
      return 'up';
    };
    expect(await waitFor('a flaky server', flaky, { intervalMs: 1, retryErrors: true })).toBe('up');
  });

  it('probes once more after the deadline before it fails', async () => {
    let calls = 0;
    const slow = async () => {
      calls += 1;
      // The first probe alone outlasts the timeout: the one after the deadline still finds the value.
      if (calls === 1) await new Promise((r) => setTimeout(r, 40));
      return calls === 2 ? 'late but there' : null;
    };
    expect(await waitFor('a slow value', slow, { timeoutMs: 10, intervalMs: 1 })).toBe('late but there');
  });
});
