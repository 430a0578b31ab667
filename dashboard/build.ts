// Builds the dashboard bundle only when it is missing or older than its sources: `npm start` and the tests call it, so both serve a current build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCES = ['dashboard/src', 'dashboard/index.html', 'dashboard/vite.config.ts', 'package-lock.json'];
const BUILT = 'dist/dashboard/index.html';

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** True when it built, false when the existing build was current. */
export function buildDashboardIfStale(): boolean {
  const built = join(ROOT, BUILT);
  const sources = SOURCES.map((s) => join(ROOT, s)).filter((s) => existsSync(s));
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newest))) return false;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'dashboard/vite.config.ts'), '--logLevel', 'warn'],
    {
      stdio: 'inherit',
      cwd: ROOT,
    },
  );
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) buildDashboardIfStale();
