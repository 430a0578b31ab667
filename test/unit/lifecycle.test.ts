// The lifecycle: steps start in order, stop in reverse, and a step that fails to stop neither hides its error nor stops the rest.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/core/logger.js';
import { Lifecycle, StopFailures } from '../../gateway/wiring/lifecycle.js';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('Lifecycle', () => {
  it('starts the steps in order and stops them in reverse, skipping what has no start or stop', async () => {
    const calls: string[] = [];
    const { log } = capture();
    const lifecycle = new Lifecycle(
      [
        { name: 'database', stop: () => void calls.push('stop database') },
        { name: 'load', start: () => void calls.push('start load') },
        { name: 'ingest', start: async () => void calls.push('start ingest'), stop: async () => void calls.push('stop ingest') },
        { name: 'broker', start: () => void calls.push('start broker'), stop: () => void calls.push('stop broker') },
      ],
      log,
    );
    await lifecycle.start();
    await lifecycle.stop();
    expect(calls).toEqual(['start load', 'start ingest', 'start broker', 'stop broker', 'stop ingest', 'stop database']);
  });

  it('stops every other step when one throws, logs it by name, and reports every failure at the end', async () => {
    const calls: string[] = [];
    const { lines, log } = capture();
    const lifecycle = new Lifecycle(
      [
        { name: 'database', stop: () => void calls.push('database closed') },
        { name: 'timers', stop: () => Promise.reject(new Error('timer store gone')) },
        { name: 'ingest', stop: () => void calls.push('ingest stopped') },
        {
          name: 'supervision',
          stop: () => {
            throw new Error('digest stuck');
          },
        },
        { name: 'broker', stop: () => void calls.push('broker stopped') },
      ],
      log,
    );
    const failure = await lifecycle.stop().then(
      () => null,
      (err: unknown) => err,
    );
    expect(calls).toEqual(['broker stopped', 'ingest stopped', 'database closed']);
    if (!(failure instanceof StopFailures)) throw new Error(`expected StopFailures, got ${String(failure)}`);
    expect(failure.failed).toEqual(['supervision', 'timers']);
    expect(failure.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e)))).toEqual(['digest stuck', 'timer store gone']);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; step?: string; err?: { message: string } });
    expect(logged.filter((l) => l.level >= 50).map((l) => [l.step, l.err?.message])).toEqual([
      ['supervision', 'digest stuck'],
      ['timers', 'timer store gone'],
    ]);
  });

  it('ends start-up at the step that fails, without starting the later ones', async () => {
    const calls: string[] = [];
    const { log } = capture();
    const lifecycle = new Lifecycle(
      [
        { name: 'registry', start: () => Promise.reject(new Error('registry invalid')) },
        { name: 'broker', start: () => void calls.push('broker started') },
      ],
      log,
    );
    await expect(lifecycle.start()).rejects.toThrow('registry invalid');
    expect(calls).toEqual([]);
  });
});
