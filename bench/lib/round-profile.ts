// Optional CPU profile of exactly the measured window of each round (BENCH_CPU_PROFILE=<dir>), so set-up and clean-up do not drown it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** Profiles this process while started; `stop` writes `<dir>/<name>.cpuprofile` (read it with bench/profile-top.ts). */
export class RoundProfiler {
  private session: Session | null = null;

  constructor(private readonly dir: string | undefined = process.env.BENCH_CPU_PROFILE) {}

  async start(): Promise<void> {
    if (!this.dir) return;
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    // 100 µs: fine enough to see what a single 10-20 ms hold of the event loop was made of.
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    this.session = session;
  }

  /** Writes the profile and returns its path, or null when profiling is off. */
  async stop(name: string): Promise<string | null> {
    const session = this.session;
    if (!session || !this.dir) return null;
    this.session = null;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}
