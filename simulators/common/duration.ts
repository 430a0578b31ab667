// Durations ("500ms", "10s", "2m", "1h", or a bare number of seconds) and rates ("2/min", "0.5/s", "10/h") as the simulators' files and flags write them.
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)$/;
const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|m|min|h|hour)$/;

/** Milliseconds of a duration; a bare number means seconds. Throws with the offending text. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`expected a duration of 0 or more seconds, got ${value}`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const m = DURATION.exec(text);
  const unit = m?.[2];
  if (!m || unit === undefined) throw new Error(`expected a duration such as "500ms", "10s", "2m" or "1h", got "${value}"`);
  return Math.round(Number(m[1]) * (UNIT_MS[unit] ?? 1000));
}

/** Events per second of a rate such as "2/min"; a bare number means per second. */
export function parseRate(value: string): number {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  const m = RATE.exec(text);
  if (!m) throw new Error(`expected a rate such as "0.5/s", "2/min" or "10/h", got "${value}"`);
  const per = m[2] === 's' || m[2] === 'sec' ? 1 : m[2] === 'h' || m[2] === 'hour' ? 3600 : 60;
  return Number(m[1]) / per;
}

/** "250ms", "12s", "1.5s", "2m30s": short and exact enough for reports. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A duration field in a YAML file ("30s", "2m" or milliseconds), reported as a zod issue when it does not parse. */
export const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    return z.NEVER;
  }
});
