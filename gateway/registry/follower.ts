// Follows other nodes' registry changes and reloads this node's views of the registry: one reload at a time, retried until one succeeds.
import type { ChangeFeed } from '../core/leases.js';
import type { Logger } from '../core/logger.js';

export interface RegistryFollowerDeps {
  /** Other nodes' registry writes (PostgreSQL notices); null for one node on its own store, which has no one to follow. */
  changes: ChangeFeed | null;
  log: Logger;
  /** Wait before a failed reload is tried again (default 2 s). */
  retryMs?: number;
}

export class RegistryFollower {
  private reload: (() => Promise<void>) | null = null;
  private running: Promise<void> | null = null;
  /** A change came while a reload ran: that reload may have read before it committed, so one more follows. */
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = true;
  private done = 0;

  constructor(private readonly deps: RegistryFollowerDeps) {}

  /** Reloads completed since start (each covers every change heard before it began). */
  get reloads(): number {
    return this.done;
  }

  /** `reload` is what a local import runs: the same views, caches and connected devices are brought up to date. */
  async start(reload: () => Promise<void>): Promise<void> {
    if (!this.deps.changes || !this.stopped) return;
    this.reload = reload;
    this.stopped = false;
    await this.deps.changes.start((cause) => {
      this.deps.log.info(
        { cause },
        cause === 'notice'
          ? 'registry changed on another node: reloading'
          : 'registry notices listening again: reloading, a change may have been missed',
      );
      this.request();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.deps.changes?.stop();
    await this.running;
  }

  private request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = null;
    }
    this.running = this.run().finally(() => {
      this.running = null;
    });
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const reload = this.reload;
      if (!reload) return;
      try {
        await reload();
        this.done++;
      } catch (err) {
        // Until a reload succeeds this node may page from an old registry: keep trying, loudly.
        this.deps.log.error({ err }, "registry reload after another node's change failed; trying again");
        this.retry = setTimeout(() => {
          this.retry = null;
          this.request();
        }, this.deps.retryMs ?? 2000);
        this.retry.unref();
        return;
      }
    } while (this.again && !this.stopped);
  }
}
