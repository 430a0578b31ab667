// Times that cross process boundaries: every process on the host reads the same monotonic clock, only its offset to performance.now() differs.
import { performance } from 'node:perf_hooks';

/** The machine-wide monotonic clock (ms) at this process's performance.now() `perfNow`. */
export function toMonotonic(perfNow: number): number {
  return perfNow + (Number(process.hrtime.bigint()) / 1e6 - performance.now());
}

/** This process's performance.now() at machine-wide monotonic time `ms` (from another process). */
export function fromMonotonic(ms: number): number {
  return ms - (Number(process.hrtime.bigint()) / 1e6 - performance.now());
}
