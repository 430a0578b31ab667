// Loopback helpers: a free TCP port (the gateway must know its public URL before it listens) and small HTTP calls.

export { freePort } from '../../simulators/common/net.js';

/** Polls `probe` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
