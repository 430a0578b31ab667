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

export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel} x ${m.cpuCount} CPUs, ${m.totalMemoryGiB} GiB RAM, Node ${m.node}, ${m.platform} ${m.release}`;
}
