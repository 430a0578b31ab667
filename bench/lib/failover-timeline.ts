// Where a failover's reconnects wait: every half second, the connections HAProxy holds to the survivors, the sockets each survivor has accepted (its open descriptors), its CPU, and how long its main thread waited for a core.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One sample, `t` seconds after the SIGKILL. */
export interface TimelineSample {
  t: number;
  /** Connections HAProxy holds (or is opening) to the survivors' MQTT ports, over every balancer. */
  balancer: number;
  /** Per survivor: open descriptors (accepted sockets and a few dozen of its own), CPU % of one core since the last sample, and ms its main thread spent runnable but waiting for a core. */
  nodes: Record<string, { fds: number; cpu: number; runQueueMs: number }>;
}

export interface TimelineSummary {
  /** When HAProxy first held 90 % of the devices' connections to the survivors (null: not within the window). */
  balancer90S: number | null;
  /** When the survivors together first held 90 % of the devices in descriptors more than at the SIGKILL (their accepted sockets). */
  accepted90S: number | null;
  /** Main-thread time spent waiting on a run queue over the window, per survivor (s): CPU starvation by the host. */
  runQueueS: Record<string, number>;
  /** CPU seconds per survivor over the window. */
  cpuS: Record<string, number>;
  /** CPU seconds of every process on the host over the window, by role (survivors, fleet, HAProxy, Redis, PostgreSQL, …). */
  hostCpuS: Record<string, number>;
  samples: TimelineSample[];
}

interface ProcStat {
  cpuS: number;
  runQueueS: number;
}

export class FailoverTimeline {
  private readonly samples: TimelineSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly base = new Map<string, { fds: number } & ProcStat>();
  private last = new Map<string, ProcStat>();
  private lastAt = 0;
  private busy = false;
  private hostBase = new Map<number, { role: string; cpuS: number }>();

  constructor(
    private readonly deps: {
      /** Survivor name → its node process id. */
      pids: ReadonlyMap<string, number>;
      /** Connections the balancers hold to the survivors right now. */
      balancer: () => Promise<number>;
      /** The role a process plays, from its pid and command line, for the host's CPU by role. */
      roleOf: (pid: number, cmdline: string) => string;
      startHr: number;
      everyMs?: number;
    },
  ) {}

  start(): void {
    this.hostBase = hostCpu(this.deps.roleOf);
    for (const [name, pid] of this.deps.pids) {
      const s = procStat(pid);
      this.base.set(name, { fds: openFds(pid), ...s });
      this.last.set(name, s);
    }
    this.lastAt = performance.now();
    this.timer = setInterval(() => void this.sample(), this.deps.everyMs ?? 500);
  }

  stop(devices: number): TimelineSummary {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const runQueueS: Record<string, number> = {};
    const cpuS: Record<string, number> = {};
    for (const [name, b] of this.base) {
      const last = this.last.get(name) ?? b;
      runQueueS[name] = round(last.runQueueS - b.runQueueS);
      cpuS[name] = round(last.cpuS - b.cpuS);
    }
    const hostCpuS: Record<string, number> = {};
    for (const [pid, now] of hostCpu(this.deps.roleOf)) {
      const used = now.cpuS - (this.hostBase.get(pid)?.cpuS ?? 0);
      if (used > 0) hostCpuS[now.role] = round((hostCpuS[now.role] ?? 0) + used);
    }
    const first = (ok: (s: TimelineSample) => boolean): number | null => this.samples.find(ok)?.t ?? null;
    const accepted = (s: TimelineSample): number =>
      Object.entries(s.nodes).reduce((sum, [name, n]) => sum + n.fds - (this.base.get(name)?.fds ?? 0), 0);
    return {
      balancer90S: first((s) => s.balancer >= devices * 0.9),
      accepted90S: first((s) => accepted(s) >= devices * 0.9),
      runQueueS,
      cpuS,
      hostCpuS,
      samples: this.samples,
    };
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = performance.now();
      const dt = (now - this.lastAt) / 1000;
      this.lastAt = now;
      const nodes: TimelineSample['nodes'] = {};
      for (const [name, pid] of this.deps.pids) {
        const s = procStat(pid);
        const prev = this.last.get(name) ?? s;
        this.last.set(name, s);
        nodes[name] = {
          fds: openFds(pid),
          cpu: dt > 0 ? Math.round(((s.cpuS - prev.cpuS) / dt) * 100) : 0,
          runQueueMs: Math.round((s.runQueueS - prev.runQueueS) * 1000),
        };
      }
      const balancer = await this.deps.balancer().catch(() => -1);
      this.samples.push({ t: round((now - this.deps.startHr) / 1000), balancer, nodes });
    } finally {
      this.busy = false;
    }
  }
}

/** Connections a balancer's `show stat` lists to these servers of `gateway_mqtt` (its scur column). */
export function connectionsTo(showStat: string, servers: readonly string[]): number {
  const lines = showStat.split('\n');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const at = header.indexOf('scur');
  let total = 0;
  for (const line of lines) {
    const cols = line.split(',');
    if (cols[0] === 'gateway_mqtt' && servers.includes(cols[1] ?? '')) total += Number(cols[at] ?? 0) || 0;
  }
  return total;
}

/** Of a process and its wrappers, the one with the most open descriptors (the one serving), or null for none. */
export function busiest(pids: readonly number[]): number | null {
  let best: number | null = null;
  for (const pid of pids) if (best === null || openFds(pid) > openFds(best)) best = pid;
  return best;
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Every process's role and CPU seconds so far (a process that started during the window counts from 0). */
function hostCpu(roleOf: (pid: number, cmdline: string) => string): Map<number, { role: string; cpuS: number }> {
  const out = new Map<number, { role: string; cpuS: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cpuS = procStat(pid).cpuS;
      if (cpuS > 0) out.set(pid, { role: roleOf(pid, cmdline), cpuS });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The process' CPU seconds, and its main thread's time runnable but not running (schedstat, ns). */
function procStat(pid: number): ProcStat {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(fields[11]) + Number(fields[12])) / 100;
    const sched = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return { cpuS, runQueueS: Number(sched[1] ?? 0) / 1e9 };
  } catch {
    return { cpuS: 0, runQueueS: 0 };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
