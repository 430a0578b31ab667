// Supervises the SMS sender thread. Sends cross to it as messages; a lost or stuck thread fails its sends (as
// transient, so the dispatcher retries them) and is replaced; a thread that cannot start at all is given up on.
import { Worker } from 'node:worker_threads';
import { toError } from '../core/errors.js';
import type { SendOutcome, TwilioSms } from './twilio-sdk.mjs';

/**
 * What a sender thread (twilio-worker.mjs, domestic-worker.mjs) answers, `Outcome` being its provider's; the workers'
 * JSDoc names this type, so tsc checks both sides.
 */
export type Reply<Outcome = SendOutcome> = { type: 'ready' } | { type: 'answered'; id: number; outcome: Outcome };

/** The thread ended (or stopped answering) before it answered this send. */
export class SenderThreadLost extends Error {
  /**
   * False when the thread never got as far as loading the SDK, so the message cannot have left: sending it again
   * at once cannot double it. True otherwise: the provider may have it, and a retry may page twice.
   */
  readonly mayHaveSent: boolean;

  constructor(message: string, mayHaveSent: boolean) {
    super(message);
    this.name = 'SenderThreadLost';
    this.mayHaveSent = mayHaveSent;
  }
}

export interface SenderThreadHealth {
  /** Threads replaced after a loss since start. */
  restarts: number;
  lastError: string | null;
}

export interface SenderThreadOptions {
  url: URL;
  workerData: unknown;
  /** A send the thread has not answered after this long fails, and the thread is replaced as stuck. */
  watchdogMs: number;
  /** Threads lost in a row before they were ready, after which no new one is started (default 3). */
  maxStartFailures?: number;
  /** A thread was lost (it is replaced unless that was the last start failure allowed). */
  onLost: (err: Error) => void;
  /** No thread will run any more: the owner must send some other way. */
  onGaveUp: (err: Error) => void;
}

interface Pending<Outcome> {
  resolve: (outcome: Outcome) => void;
  reject: (err: SenderThreadLost) => void;
  timer: NodeJS.Timeout;
}

/** `Sms` is what the thread is handed per send, `Outcome` what it answers (Twilio's by default). */
export class SenderThread<Sms = TwilioSms, Outcome = SendOutcome> {
  private worker: Worker | null = null;
  private ready = false;
  private readonly pending = new Map<number, Pending<Outcome>>();
  private nextId = 1;
  private startFailures = 0;
  private closed = false;
  private readonly state: SenderThreadHealth = { restarts: 0, lastError: null };

  constructor(private readonly options: SenderThreadOptions) {
    this.spawn();
  }

  /** Hands one SMS to the thread. Resolves with the provider's answer or its refusal; rejects only with SenderThreadLost. */
  send(sms: Sms): Promise<Outcome> {
    const worker = this.worker;
    if (!worker)
      return Promise.reject(new SenderThreadLost(this.closed ? 'the SMS sender is closed' : 'the SMS sender thread is not running', false));
    const id = this.nextId++;
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => this.stuck(id), this.options.watchdogMs);
      timer.unref();
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ type: 'send', id, sms });
    });
  }

  health(): SenderThreadHealth {
    return { ...this.state };
  }

  /** Ends the thread; sends still in flight fail as lost. Call after the dispatcher has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.failAll(new SenderThreadLost('the SMS sender was closed', true));
    if (worker) await worker.terminate();
  }

  private spawn(): void {
    const worker = new Worker(this.options.url, { workerData: this.options.workerData });
    this.worker = worker;
    this.ready = false;
    // Idle, it does not keep the process alive; with sends in flight it does (see send/settle).
    worker.unref();
    worker.on('message', (reply: Reply<Outcome>) => this.onReply(worker, reply));
    // An error thrown in the thread arrives as a copy, which may have lost its Error prototype on the way.
    worker.on('error', (err: unknown) => this.lost(worker, toError(err)));
    worker.on('exit', (code) => this.lost(worker, new Error(`the SMS sender thread exited (code ${code})`)));
  }

  private onReply(worker: Worker, reply: Reply<Outcome>): void {
    if (worker !== this.worker) return;
    if (reply.type === 'ready') {
      this.ready = true;
      this.startFailures = 0;
      return;
    }
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.settle(reply.id, entry);
    entry.resolve(reply.outcome);
  }

  private stuck(id: number): void {
    const worker = this.worker;
    if (!worker || !this.pending.has(id)) return;
    this.lost(worker, new Error(`the SMS sender thread did not answer within ${this.options.watchdogMs} ms and was replaced`));
    void worker.terminate();
  }

  /** Once per thread: fails what it held, then starts the next one, or gives up after too many failed starts. */
  private lost(worker: Worker, err: Error): void {
    if (worker !== this.worker || this.closed) return;
    this.worker = null;
    const wasReady = this.ready;
    this.state.lastError = err.message;
    this.failAll(new SenderThreadLost(err.message, wasReady));
    this.options.onLost(err);
    if (!wasReady && ++this.startFailures >= (this.options.maxStartFailures ?? 3)) {
      this.options.onGaveUp(err);
      return;
    }
    this.state.restarts++;
    this.spawn();
  }

  private failAll(err: SenderThreadLost): void {
    for (const [id, entry] of this.pending) {
      this.settle(id, entry);
      entry.reject(err);
    }
  }

  private settle(id: number, entry: Pending<Outcome>): void {
    clearTimeout(entry.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
  }
}
