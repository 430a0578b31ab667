// What the benchmark ran on, so numbers from different machines are never compared blind.
import os from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  node: string;
  platform: string;
  release: string;
}

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: os.platform(),
    release: os.release(),
  };
}

/** 1-minute load average: other work competing for the CPUs makes latency numbers noisy. */
export function loadAverage(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel} x ${m.cpuCount} CPUs, ${m.totalMemoryGiB} GiB RAM, Node ${m.node}, ${m.platform} ${m.release}`;
}

/** CPU time all processes on the host have used so far (µs, summed over CPUs), from the kernel's per-CPU counters. */
export function hostBusyMicros(): number {
  return os.cpus().reduce((sum, c) => sum + (c.times.user + c.times.nice + c.times.sys + c.times.irq) * 1000, 0);
}

/** CPU used on the host by other processes over `ms` (100 = one core), measured while this process sleeps. */
export async function otherHostCpuPercent(ms: number): Promise<number> {
  const host0 = hostBusyMicros();
  const own0 = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const own = process.cpuUsage(own0);
  return Math.max(0, ((hostBusyMicros() - host0 - own.user - own.system) / 1000 / ms) * 100);
}
