// A dedicated PostgreSQL connection that LISTENs on one channel and reconnects when it drops: the ChangeFeed of a cluster.
import pg from 'pg';
import { errorMessage } from '../../core/errors.js';
import type { ChangeFeed } from '../../core/leases.js';

export interface PgListenerOptions {
  connectionString: string;
  channel: string;
  /** The connection dropped or could not be made (logged by the caller); it is tried again after a back-off. */
  onProblem?: (message: string) => void;
  /** Back-off between reconnection attempts (default 1 s, doubling to 10 s). */
  retryMs?: { first: number; max: number };
}

export type ListenerState = 'stopped' | 'connecting' | 'listening' | 'down';

export class PgListener implements ChangeFeed {
  private client: pg.Client | null = null;
  private state: ListenerState = 'stopped';
  private onChange: () => void = () => undefined;
  private retry: NodeJS.Timeout | null = null;
  private attempt = 0;
  private connecting: Promise<void> | null = null;
  private pid: number | null = null;

  constructor(private readonly options: PgListenerOptions) {}

  /** Listens; resolves after the first attempt whether it succeeded or not (a failure is retried in the background). */
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    this.state = 'connecting';
    await this.connect();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** 'listening' while notices arrive; 'down' between a lost connection and the next successful attempt. */
  status(): ListenerState {
    return this.state;
  }

  /** The server process of the listening connection, while listening (tests end it to show the reconnection). */
  backendPid(): number | null {
    return this.state === 'listening' ? this.pid : null;
  }

  private connect(): Promise<void> {
    const run = this.open().finally(() => {
      if (this.connecting === run) this.connecting = null;
    });
    this.connecting = run;
    return run;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, connectionTimeoutMillis: 10_000 });
    // Without a listener an error on this connection would be thrown as an uncaught exception and stop the process.
    client.on('error', (err) => this.lost(client, err.message));
    client.on('end', () => this.lost(client, 'the listening connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel === this.options.channel) this.onChange();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
      this.pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.lost(null, `cannot listen on ${this.options.channel}: ${errorMessage(err)}`);
      return;
    }
    if (this.state === 'stopped') {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    this.state = 'listening';
    // Whatever was notified while this node was not listening: look once now.
    this.onChange();
  }

  private lost(client: pg.Client | null, message: string): void {
    if (this.state === 'stopped' || (client !== null && client !== this.client)) return;
    this.client = null;
    client?.removeAllListeners('end');
    void client?.end().catch(() => undefined);
    this.state = 'down';
    this.options.onProblem?.(message);
    if (this.retry) return;
    const { first, max } = this.options.retryMs ?? { first: 1000, max: 10_000 };
    const delay = Math.min(max, first * 2 ** this.attempt++);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.state !== 'stopped') void this.connect();
    }, delay);
    this.retry.unref();
  }
}
