// The one poll-until helper of the tests: probes until a value turns up, and names what it waited for when none does.

export interface WaitOptions {
  /** How long to keep probing before failing (default 5000 ms). */
  timeoutMs?: number;
  /** The pause between probes (default 20 ms). */
  intervalMs?: number;
  /**
   * Keep probing when the probe throws (a server still starting, a query against a restarting database); the last
   * error is named in the timeout error. By default a throwing probe fails the wait at once.
   */
  retryErrors?: boolean;
}

/** What a probe answers: the value waited for, or nothing yet. */
type Missing<T> = T | null | undefined | false;

/**
 * Calls `probe` until it returns a truthy value (not null, undefined, false, 0 or ''), and returns that value. After
 * `timeoutMs` it throws an error that names `what` (a function is asked only then, e.g. for a process's output so
 * far), the time waited and, with `retryErrors`, the probe's last error.
 * The probe always runs at least once, and once more after the deadline, so a slow host fails only on a real miss.
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => Missing<T> | Promise<Missing<T>>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    const late = Date.now() > deadline;
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      if (!opts.retryErrors) throw err;
      lastError = err;
    }
    if (late) {
      const cause = lastError === null ? '' : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
