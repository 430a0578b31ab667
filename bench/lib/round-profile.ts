// Optional CPU and allocation profiles of exactly the measured window of each round (BENCH_CPU_PROFILE=<dir>,
// BENCH_HEAP_PROFILE=<dir>), so set-up and clean-up do not drown them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * Profiles this process while started; `stop` writes `<dir>/<name>.cpuprofile` and/or `<dir>/<name>.heapprofile`
 * (read them with bench/profile-top.ts and bench/heap-top.ts).
 */
export class RoundProfiler {
  private session: Session | null = null;

  constructor(
    private readonly cpuDir: string | undefined = process.env.BENCH_CPU_PROFILE,
    private readonly heapDir: string | undefined = process.env.BENCH_HEAP_PROFILE,
  ) {}

  async start(): Promise<void> {
    if (!this.cpuDir && !this.heapDir) return;
    const session = new Session();
    session.connect();
    if (this.cpuDir) {
      await session.post('Profiler.enable');
      // 100 µs: fine enough to see what a single 10-20 ms hold of the event loop was made of.
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    }
    if (this.heapDir) {
      await session.post('HeapProfiler.enable');
      // Every allocation, kept or not: garbage is what makes the GC pauses, so objects the scavenger freed count too.
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    this.session = session;
  }

  /** Writes the profiles and returns their paths (none when profiling is off). */
  async stop(name: string): Promise<string[]> {
    const session = this.session;
    if (!session) return [];
    this.session = null;
    const written: string[] = [];
    if (this.cpuDir) {
      const { profile } = await session.post('Profiler.stop');
      written.push(write(this.cpuDir, `${name}.cpuprofile`, profile));
    }
    if (this.heapDir) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      written.push(write(this.heapDir, `${name}.heapprofile`, profile));
    }
    session.disconnect();
    return written;
  }
}

function write(dir: string, file: string, profile: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(profile));
  return path;
}
