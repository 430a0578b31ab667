// The supported Node lines: the image builds and runs on an LTS line, engines admit 20, 22 and 24, and CI runs the suite on 22 too.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** The versions among `versions` that satisfy `range`, by npm's own semver rules. */
function satisfying(range: string, versions: string[]): string[] {
  const cli = new URL('node_modules/semver/bin/semver.js', root).pathname;
  try {
    return execFileSync(process.execPath, [cli, '-r', range, ...versions], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch {
    // The CLI exits 1 when no version satisfies the range.
    return [];
  }
}

describe('Node LTS lines', () => {
  it('builds and runs the image on one LTS major, the runtime on its slim variant', () => {
    const stages = [...read('Dockerfile').matchAll(/^FROM node:(\d+)-(\S+)/gm)].map((m) => ({ major: Number(m[1]), variant: m[2] }));
    expect(stages).toHaveLength(2);
    // A native module built in the first stage loads only on the same Node major.
    expect(new Set(stages.map((s) => s.major)).size).toBe(1);
    expect([22, 24]).toContain(stages[0]?.major);
    expect(stages[1]?.variant).toBe('bookworm-slim');
  });

  it('admits Node 20, 22 and 24 in engines, and neither the odd lines nor older ones', () => {
    const { engines } = JSON.parse(read('package.json')) as { engines: { node: string } };
    const candidates = ['18.20.0', '20.12.0', '20.20.2', '21.7.0', '22.0.0', '22.23.5', '23.1.0', '24.0.0', '24.11.0', '25.0.0'];
    expect(satisfying(engines.node, candidates)).toEqual(['20.12.0', '20.20.2', '22.0.0', '22.23.5', '24.0.0', '24.11.0']);
    expect(satisfying(engines.node, [process.versions.node])).toEqual([process.versions.node]);
  });

  it('runs the whole suite in CI on the machine Node, and on Node 22 the tests of what differs between Node lines, each of which exists', () => {
    const ci = read('.ci/run');
    expect(ci).toMatch(/^npm test$/m);
    const lts = /^\.ci\/node-lts\.sh --node 22 ((?:.*\\\n)*.*)$/m.exec(ci);
    const files = (lts?.[1] ?? '').match(/test\/\S+\.test\.ts/g) ?? [];
    for (const part of ['sqlite-store', 'sender-thread', 'tls', 'npm-start', 'fatal-exit', 'cluster-broker']) {
      expect(files.some((f) => f.includes(part))).toBe(true);
    }
    for (const f of files) expect(existsSync(new URL(f, root)), f).toBe(true);
  });
});
