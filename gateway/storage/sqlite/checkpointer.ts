// Drives WAL checkpoints on a worker thread, and falls back to SQLite's own (on the event loop) if that thread is lost.
import { Worker } from 'node:worker_threads';
import { toError } from '../../core/errors.js';

export interface CheckpointResult {
  /** The checkpoint could not finish because a reader still used the WAL (it is retried next time). */
  busy: number;
  walFrames: number;
  copiedFrames: number;
  ms: number;
}

export interface CheckpointerStats {
  /** `worker`: checkpoints run off the event loop; `inline`: the worker was lost and SQLite checkpoints in COMMIT again. */
  mode: 'worker' | 'inline';
  checkpoints: number;
  failures: number;
  lastError: string | null;
  last: CheckpointResult | null;
}

export interface CheckpointerOptions {
  /** The database file (the worker opens its own connection to it). */
  file: string;
  /** How often to checkpoint (default 1 s). A checkpoint with nothing new to copy costs a few microseconds. */
  intervalMs?: number;
  /** Called once if the worker thread is lost: the owner turns SQLite's automatic checkpoints back on. */
  onLost: (err: Error) => void;
  onError?: (err: Error) => void;
}

/** What the checkpoint thread (checkpoint-worker.mjs) answers; its JSDoc names this type, so tsc checks both sides. */
export type WorkerMessage = ({ type: 'checkpointed' } & CheckpointResult) | { type: 'failed'; message: string };

const WORKER = new URL('./checkpoint-worker.mjs', import.meta.url);
const DEFAULT_INTERVAL_MS = 1000;

/**
 * The gateway's connection runs with wal_autocheckpoint=0, so no COMMIT ever stops to copy the WAL into the
 * database and sync both files (tens to hundreds of milliseconds on a busy disk). This thread does it instead,
 * with PASSIVE checkpoints that never block the writer.
 */
export class Checkpointer {
  private worker: Worker | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private stopping = false;
  private readonly state: CheckpointerStats = { mode: 'worker', checkpoints: 0, failures: 0, lastError: null, last: null };
  private waiters: (() => void)[] = [];

  constructor(private readonly options: CheckpointerOptions) {}

  /**
   * Starts the thread. Requests sent before its connection is open wait in its port; if it cannot start at all,
   * that is reported through onLost like any later loss. It never keeps the process alive by itself.
   */
  start(): void {
    const worker = new Worker(WORKER, { workerData: { file: this.options.file } });
    this.worker = worker;
    worker.unref();
    worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    // An error thrown in the thread arrives as a copy, which may have lost its Error prototype on the way.
    worker.on('error', (err: unknown) => this.lost(toError(err)));
    worker.on('exit', (code) => {
      if (!this.stopping) this.lost(new Error(`checkpoint thread exited (code ${code})`));
    });
    this.timer = setInterval(() => this.request(), this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Asks for a checkpoint now (unless one is running) and resolves when the running or new one has finished. Without
   * the thread (lost, or stopped) it resolves at once: SQLite then checkpoints in COMMIT by itself.
   */
  checkpointNow(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.request();
    return done;
  }

  stats(): CheckpointerStats {
    return { ...this.state };
  }

  /** Stops the thread and waits for it to exit (the connection's close then checkpoints what is left). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const worker = this.worker;
    this.worker = null;
    this.release();
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' });
    const killer = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(killer);
  }

  /** Kills the thread abruptly, as a crash of it would: handled as a loss (onLost), unlike stop(). */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private request(): void {
    if (!this.worker || this.inFlight) return;
    this.inFlight = true;
    this.worker.postMessage({ type: 'checkpoint' });
  }

  private onMessage(m: WorkerMessage): void {
    this.inFlight = false;
    if (m.type === 'checkpointed') {
      this.state.checkpoints++;
      this.state.last = { busy: m.busy, walFrames: m.walFrames, copiedFrames: m.copiedFrames, ms: m.ms };
    } else {
      this.state.failures++;
      this.state.lastError = m.message;
      this.options.onError?.(new Error(`WAL checkpoint failed: ${m.message}`));
    }
    this.release();
  }

  private lost(err: Error): void {
    if (this.stopping || this.state.mode === 'inline') return;
    this.state.mode = 'inline';
    this.state.lastError = err.message;
    this.worker = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.release();
    this.options.onLost(err);
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const fn of waiters) fn();
  }
}
