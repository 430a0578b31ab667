// A dedicated PostgreSQL connection that LISTENs on one channel and comes back by itself after the server or network drops it.
import type pg from 'pg';
import { errorMessage } from '../../core/errors.js';

export interface PgListenerDeps {
  /** A new, unconnected client for the same database (PgDatabase.newClient). */
  client: () => pg.Client;
  channel: string;
  onNotify: (payload: string) => void;
  /**
   * The connection came back after a loss: notifications sent meanwhile were never delivered, so whatever the
   * listener keeps must be read again.
   */
  onReconnected: () => void;
  onError: (err: Error) => void;
  /** First wait before reconnecting (default 1 s), doubled up to 30 s while the server stays away. */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

export class PgListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;

  constructor(private readonly deps: PgListenerDeps) {
    this.retryMs = deps.retryMs ?? 1000;
  }

  /** Connects and listens; fails if the first connection fails (the store's start-up reports it). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = this.deps.client();
    // Without a listener a dropped connection's error would be an uncaught exception that stops the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === this.deps.channel && msg.payload !== undefined) this.deps.onNotify(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.deps.channel.replace(/"/g, '""')}"`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = this.deps.retryMs ?? 1000;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.deps.onError(new Error(`PostgreSQL LISTEN ${this.deps.channel} lost, reconnecting: ${errorMessage(err)}`));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          if (!this.stopped) this.deps.onReconnected();
        },
        (err: unknown) => {
          this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
          this.deps.onError(new Error(`PostgreSQL LISTEN ${this.deps.channel} still down: ${errorMessage(err)}`));
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
