// A simulated phone's side of a call: what its holder does (answer, press keys, hang up), scripted ahead or live.

/** What the person at the phone does. */
export type PhoneAction =
  { kind: 'answer' } | { kind: 'busy' } | { kind: 'no_answer' } | { kind: 'fail' } | { kind: 'key'; key: string } | { kind: 'hang_up' };

/** A call as the phones page and tests see it. */
export interface SimCall {
  id: string;
  to: string;
  from: string;
  /** `ringing` until answered or given up; then `in-progress`; then how it ended. */
  status: 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed';
  /** Everything said on the call, in order. */
  spoken: string[];
  /** Keys pressed, in order. */
  keys: string[];
  /** Whether the phone waits for someone to act (the phones page) or plays a script. */
  live: boolean;
  createdAt: number;
  endedAt: number | null;
}

/**
 * The actions of one call, in order. A scripted phone has them all at once, and an empty script means "does nothing"
 * (rings out, or lets a key prompt time out) at once; a live phone waits for the person up to the given time.
 */
export class PhoneActions {
  private readonly queue: PhoneAction[];
  private waiter: ((a: PhoneAction | null) => void) | null = null;

  constructor(
    script: PhoneAction[] | null,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {
    this.queue = script ? [...script] : [];
    this.live = script === null;
  }

  readonly live: boolean;

  push(action: PhoneAction): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter(action);
    } else {
      this.queue.push(action);
    }
  }

  /** The next action, or null when the person did nothing within `timeoutMs` (at once for a spent script). */
  async next(timeoutMs: number): Promise<PhoneAction | null> {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (!this.live) return null;
    return new Promise((resolve) => {
      this.waiter = resolve;
      void this.sleep(timeoutMs).then(() => {
        if (this.waiter === resolve) {
          this.waiter = null;
          resolve(null);
        }
      });
    });
  }

  /** Wakes a pending wait as "nothing happened" (the call was changed or ended from the other side). */
  interrupt(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(null);
  }
}

/** Where the phones page finds calls and sends what the person does: the Twilio server's Calls, the Tencent VMS. */
export interface CallSource {
  list(): SimCall[];
  act(callId: string, action: PhoneAction): boolean;
}

/** A form's `action` value (answer, busy, no_answer, hang_up, key:1) as a phone action; null for anything else. */
export function parsePhoneAction(value: string): PhoneAction | null {
  if (value === 'answer' || value === 'busy' || value === 'no_answer' || value === 'hang_up' || value === 'fail') return { kind: value };
  const key = /^key:([0-9*#])$/.exec(value);
  return key?.[1] ? { kind: 'key', key: key[1] } : null;
}
