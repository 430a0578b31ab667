// Syncs the WAL file to disk on libuv's thread pool, so a durable commit never holds the event loop while the disk flushes.
import { open, type FileHandle } from 'node:fs/promises';
import { errorMessage } from '../../core/errors.js';

export interface WalSyncOptions {
  /** The database's `-wal` file. */
  path: string;
  /** Flushes the file's data to disk (default: fdatasync on a handle of our own). Tests wrap it to watch the order. */
  flush?: (handle: FileHandle) => Promise<void>;
}

/**
 * With synchronous=NORMAL, SQLite's COMMIT writes the WAL frames to the OS and returns; the frames are safe from a
 * process crash at once, and from a power loss once the WAL file is synced. `sync()` is that sync, done off the event
 * loop: what synchronous=FULL would do inside COMMIT. It resolves once a flush that *started after the call* has
 * finished, so every frame written before the call is on disk. Calls while a flush runs share the next one (group
 * commit for the disk): at most one flush runs and one waits, however many commits ask.
 *
 * The WAL keeps its inode while the database is open (SQLite resets it by writing from the start, and truncates it in
 * place), so one handle serves for the life of the connection; it is opened at the first sync, after the first COMMIT.
 */
export class WalSync {
  private handle: Promise<FileHandle> | null = null;
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private closed = false;
  private counts = { syncs: 0, failures: 0 };
  private lastError: string | null = null;

  constructor(private readonly options: WalSyncOptions) {}

  /** Resolves when everything written to the WAL before this call is on disk; rejects if that flush failed. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('WAL sync is closed'));
    if (!this.running) return this.start();
    // The running flush may have started before the caller's COMMIT wrote its frames: wait for the one after it.
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return this.start();
      });
    return this.next;
  }

  stats(): { syncs: number; failures: number; lastError: string | null } {
    return { ...this.counts, lastError: this.lastError };
  }

  /** Waits for the flushes under way, then closes the handle. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.running, this.next]);
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle.catch(() => null))?.close();
  }

  private start(): Promise<void> {
    const flushed = this.flush().then(
      () => {
        this.counts.syncs++;
        this.lastError = null;
      },
      (err: unknown) => {
        this.counts.failures++;
        this.lastError = errorMessage(err);
        // A failed open is retried by the next sync rather than remembered.
        this.handle = null;
        throw err;
      },
    );
    const running = flushed.finally(() => {
      if (this.running === running) this.running = null;
    });
    this.running = running;
    return running;
  }

  private async flush(): Promise<void> {
    this.handle ??= open(this.options.path, 'r');
    const handle = await this.handle;
    await (this.options.flush ? this.options.flush(handle) : handle.datasync());
  }
}
