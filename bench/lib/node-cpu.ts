// CPU time of the gateway node processes (children of npm, found in /proc by the HTTP port in their environment), so a round can say how busy the nodes were apart from the rest of the host.
import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ is 100 on Linux: one tick of /proc/<pid>/stat is 10 ms.
const TICK_MICROS = 10_000;

/** The node processes (`node … gateway/main.ts`, and tsx and sh above it, which idle) whose environment has HTTP_PORT=<one of ports>; pid → port. */
export function findNodePids(httpPorts: readonly number[]): Map<number, number> {
  const wanted = new Set(httpPorts.map(String));
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('gateway/main.ts')) continue;
      const port = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((kv) => kv.startsWith('HTTP_PORT='))
        ?.slice('HTTP_PORT='.length);
      if (port !== undefined && wanted.has(port)) out.set(pid, Number(port));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** User + system CPU (µs) the processes have used so far; a process that is gone counts 0. */
export function processCpuMicros(pids: Iterable<number>): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
    } catch {
      // The process ended.
    }
  }
  return total;
}
