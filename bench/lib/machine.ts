// What the benchmark ran on, so numbers from different machines are never compared blind.
import { readFileSync } from 'node:fs';
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

/**
 * CPU time the hypervisor gave to other guests while this VM's CPUs wanted to run (ms, summed over CPUs), from the
 * `steal` column of /proc/stat; 0 where the kernel does not report it. Steal during a round means its numbers are noise.
 */
export function hostStealMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
    const ticks = Number(cpu[8] ?? 0);
    // USER_HZ is 100 on Linux: one tick is 10 ms.
    return Number.isFinite(ticks) ? ticks * 10 : 0;
  } catch {
    return 0;
  }
}
