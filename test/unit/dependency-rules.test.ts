// The layering rules of .dependency-cruiser.mjs: a tree with deliberate violations is reported rule by rule, and the real tree is clean.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const SOURCES = ['gateway', 'dashboard', 'simulators', 'bench', 'test'];

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

/** Runs the real CLI with the real config, as `npm run lint:deps` does, and returns its violations. */
async function cruise(cwd: string, paths: string[]): Promise<Violation[]> {
  const run = promisify(execFile);
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [DEPCRUISE, ...paths, '--config', CONFIG, '--output-type', 'json'], {
      cwd,
      maxBuffer: 256 * 1024 * 1024,
    }));
  } catch (err) {
    // Exits non-zero when an error-level rule is broken; the JSON report is still on stdout.
    const out = (err as { stdout?: unknown }).stdout;
    if (typeof out !== 'string' || out === '') throw err;
    stdout = out;
  }
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations;
}

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

describe('dependency rules on a tree with deliberate violations', () => {
  const dir = tempDir('care-gw-deps-');
  let violations: Violation[] = [];

  beforeAll(async () => {
    const t = dir.path;
    copyFileSync(join(ROOT, 'tsconfig.json'), join(t, 'tsconfig.json'));
    write(t, 'gateway/core/types.ts', 'export interface Resident { id: string }\n');
    write(t, 'gateway/access/roles.ts', "export type Role = 'admin' | 'worker';\n");
    write(
      t,
      'gateway/http/deps.ts',
      "import type { Resident } from '../core/types.js';\nexport interface ResidentView extends Resident { name: string }\n",
    );
    write(t, 'gateway/storage/sqlite/store.ts', "import type { Resident } from '../../core/types.js';\nexport type Row = Resident;\n");
    // Allowed: downward imports.
    write(
      t,
      'gateway/incidents/service.ts',
      "import type { Role } from '../access/roles.js';\nexport const roleOf = (r: Role): Role => r;\n",
    );
    write(t, 'gateway/http/routes.ts', "import { roleOf } from '../incidents/service.js';\nexport const route = roleOf;\n");
    write(
      t,
      'gateway/app.ts',
      "import { route } from './http/routes.js';\nimport type { Row } from './storage/sqlite/store.js';\nexport const wired = (r: Row) => [route, r];\n",
    );
    // Upward, type-only: a feature borrowing a type from the HTTP layer.
    write(t, 'gateway/live/feed.ts', "import type { ResidentView } from '../http/deps.js';\nexport type Shown = ResidentView;\n");
    // Upward: a feature reaching into the storage engine; core importing a feature; access importing a feature.
    write(t, 'gateway/visits/service.ts', "import type { Row } from '../storage/sqlite/store.js';\nexport type VisitRow = Row;\n");
    write(t, 'gateway/core/clock.ts', "import { roleOf } from '../incidents/service.js';\nexport const c = roleOf;\n");
    write(t, 'gateway/access/scope.ts', "import type { Shown } from '../live/feed.js';\nexport type S = Shown;\n");
    // The second storage engine: a feature may not reach into it, and it may not borrow from the first.
    write(t, 'gateway/storage/postgres/store.ts', "import type { Row } from '../sqlite/store.js';\nexport type PgRow = Row;\n");
    write(t, 'gateway/wellness/service.ts', "import type { PgRow } from '../storage/postgres/store.js';\nexport type W = PgRow;\n");
    // Rows shared by both engines: the engines may use them, a feature may not.
    write(
      t,
      'gateway/storage/rows/resident.ts',
      "import type { Resident } from '../../core/types.js';\nexport type ResidentRow = Resident;\n",
    );
    write(t, 'gateway/storage/sqlite/rows.ts', "import type { ResidentRow } from '../rows/resident.js';\nexport type R = ResidentRow;\n");
    write(t, 'gateway/storage/postgres/rows.ts', "import type { ResidentRow } from '../rows/resident.js';\nexport type R = ResidentRow;\n");
    write(t, 'gateway/care/rows.ts', "import type { ResidentRow } from '../storage/rows/resident.js';\nexport type C = ResidentRow;\n");
    // A cycle made only of type imports.
    write(t, 'gateway/supervision/events.ts', "import type { Task } from './types.js';\nexport interface Events { task: Task }\n");
    write(t, 'gateway/supervision/types.ts', "import type { Events } from './events.js';\nexport interface Task { on?: Events }\n");
    violations = await cruise(t, ['gateway']);
  }, 120_000);
  afterAll(() => dir.remove());

  const found = (): string[] => violations.map((v) => `${v.rule.severity} ${v.rule.name}: ${v.from} -> ${v.to}`).sort();

  it('reports an upward type-only import from a feature into http', () => {
    expect(found()).toContain('error feature-not-to-http-or-root: gateway/live/feed.ts -> gateway/http/deps.ts');
  });

  it('reports a feature importing the storage engine, and core or access importing a feature', () => {
    expect(found()).toContain('error feature-not-to-storage-engine: gateway/visits/service.ts -> gateway/storage/sqlite/store.ts');
    expect(found()).toContain('error core-imports-nothing-above: gateway/core/clock.ts -> gateway/incidents/service.ts');
    expect(found()).toContain('error access-imports-only-core: gateway/access/scope.ts -> gateway/live/feed.ts');
  });

  it('reports a feature importing the PostgreSQL store, and one storage engine importing the other', () => {
    expect(found()).toContain('error feature-not-to-storage-engine: gateway/wellness/service.ts -> gateway/storage/postgres/store.ts');
    expect(found()).toContain('error storage-engines-apart: gateway/storage/postgres/store.ts -> gateway/storage/sqlite/store.ts');
  });

  it('reports a feature importing the rows the storage engines share', () => {
    expect(found()).toContain('error storage-rows-only-for-engines: gateway/care/rows.ts -> gateway/storage/rows/resident.ts');
  });

  it('reports a cycle of type-only imports', () => {
    const cycles = violations.filter((v) => v.rule.name === 'no-cycles');
    expect(cycles).toHaveLength(1);
    expect(cycles[0]?.rule.severity).toBe('error');
    const members = [cycles[0]?.from, ...(cycles[0]?.cycle ?? []).map((step) => step.name)];
    expect(new Set(members)).toEqual(new Set(['gateway/supervision/events.ts', 'gateway/supervision/types.ts']));
  });

  it('reports nothing else: downward imports and the composition root wiring storage and http are allowed', () => {
    expect(violations).toHaveLength(8);
  });
});

describe('dependency rules on the real tree', () => {
  it('finds no violation at all: no feature, the reports included, reaches into the storage engine', async () => {
    const violations = await cruise(ROOT, SOURCES);
    expect(violations.map((v) => `${v.rule.severity} ${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  }, 180_000);
});
