// Waits for the first SMS request about a given resident to reach the Twilio-compatible server, and reports when it arrived.
import { residentIndexIn } from './registry.js';

/** Where SMS requests arrive: the simulator itself, or its child process (same 'message' event). */
export interface SmsArrivals {
  on(event: 'message', fn: (m: { body: string; receivedHr: number }) => void): unknown;
  off(event: 'message', fn: (m: { body: string; receivedHr: number }) => void): unknown;
}

interface Waiter {
  resolve: (receivedHr: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class FirstSmsTracker {
  private readonly waiters = new Map<number, Waiter>();
  private readonly onMessage = (m: { body: string; receivedHr: number }): void => {
    const index = residentIndexIn(m.body);
    if (index === null) return;
    const w = this.waiters.get(index);
    if (!w) return;
    this.waiters.delete(index);
    clearTimeout(w.timer);
    // The simulator stamps performance.now() when the request's headers arrive, before it reads the body.
    w.resolve(m.receivedHr);
  };

  constructor(private readonly deps: { sim: SmsArrivals }) {}

  start(): void {
    this.deps.sim.on('message', this.onMessage);
  }

  stop(): void {
    this.deps.sim.off('message', this.onMessage);
    for (const [index, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`tracker stopped while waiting for resident ${index}`));
    }
    this.waiters.clear();
  }

  /** Resolves with the arrival time (performance.now()) of the next SMS naming resident `index`. Call before the alarm. */
  expect(index: number, timeoutMs: number): Promise<number> {
    if (this.waiters.has(index)) return Promise.reject(new Error(`already waiting for resident ${index}`));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(index);
        reject(new Error(`no SMS about resident ${index} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(index, { resolve, reject, timer });
    });
  }
}
