// One dedicated PostgreSQL connection per store that LISTENs on every channel its users subscribe to, and comes back by itself after the server or the network drops it.
import pg from 'pg';
import { errorMessage } from '../../core/errors.js';

/** One user of a channel. */
export interface NoticeSubscriber {
  /** A notice on the channel; PostgreSQL delivers it at its sender's COMMIT. */
  onNotice(payload: string): void;
  /**
   * The connection listens (first time, or again after a loss): notices sent while it did not were never delivered,
   * so whatever they would have said must be read again.
   */
  onListening?(): void;
}

export type NoticesState = 'stopped' | 'connecting' | 'listening' | 'down';

export interface PgNoticesOptions {
  /** A new, unconnected client for the same database. */
  client: () => pg.Client;
  /** The connection dropped or could not be made; it is tried again after a back-off. */
  onProblem: (err: Error) => void;
  /** Back-off between reconnection attempts (default 1 s, doubling to 10 s). */
  retryMs?: { first: number; max: number };
  /** Wall-clock time for `since` in status() (default Date.now). */
  now?: () => number;
}

/** The listening connection as /healthz names it. */
export interface NoticesStatus {
  state: NoticesState;
  /** When it entered that state (ms since the epoch); null before the first attempt. */
  since: number | null;
  reconnects: number;
  /** The last loss or failed attempt, kept after it listens again. */
  lastError: string | null;
}

export class PgNotices {
  private client: pg.Client | null = null;
  private state: NoticesState = 'stopped';
  private readonly channels = new Map<string, Set<NoticeSubscriber>>();
  /** Channels the current connection has LISTENed to. */
  private readonly listened = new Set<string>();
  private retry: NodeJS.Timeout | null = null;
  private attempt = 0;
  private connecting: Promise<void> | null = null;
  private pid: number | null = null;
  private reconnects = 0;
  private lastError: string | null = null;
  private since: number | null = null;

  constructor(private readonly options: PgNoticesOptions) {}

  /**
   * Subscribes to `channel` and resolves once the connection has been tried (listening or not: a failure is reported
   * and retried in the background, never thrown). Returns the unsubscribe function.
   */
  async subscribe(channel: string, subscriber: NoticeSubscriber): Promise<() => Promise<void>> {
    const subs = this.channels.get(channel) ?? new Set<NoticeSubscriber>();
    this.channels.set(channel, subs);
    subs.add(subscriber);
    if (this.state === 'stopped') {
      this.enter('connecting');
      await this.connect();
    } else {
      await this.connecting;
      await this.listenAll();
    }
    return () => this.unsubscribe(channel, subscriber);
  }

  /** 'listening' while notices arrive; 'down' between a lost connection and the next successful attempt. */
  status(): NoticesStatus {
    return { state: this.state, since: this.since, reconnects: this.reconnects, lastError: this.lastError };
  }

  /** The server process of the listening connection, while listening (tests end it to show the reconnection). */
  backendPid(): number | null {
    return this.state === 'listening' ? this.pid : null;
  }

  async stop(): Promise<void> {
    this.enter('stopped');
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    this.listened.clear();
    this.channels.clear();
    await client?.end().catch(() => undefined);
  }

  private async unsubscribe(channel: string, subscriber: NoticeSubscriber): Promise<void> {
    const subs = this.channels.get(channel);
    if (!subs?.delete(subscriber) || subs.size > 0) return;
    this.channels.delete(channel);
    if (this.client && this.listened.delete(channel)) {
      await this.client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
    }
  }

  private connect(): Promise<void> {
    const run = this.open().finally(() => {
      if (this.connecting === run) this.connecting = null;
    });
    this.connecting = run;
    return run;
  }

  private async open(): Promise<void> {
    const client = this.options.client();
    // Without a listener an error on this connection would be thrown as an uncaught exception and stop the process.
    client.on('error', (err) => this.lost(client, err.message));
    client.on('end', () => this.lost(client, 'the listening connection ended'));
    client.on('notification', (msg) => {
      if (msg.payload === undefined) return;
      for (const sub of this.channels.get(msg.channel) ?? []) sub.onNotice(msg.payload);
    });
    try {
      await client.connect();
      this.pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
      this.client = client;
      this.listened.clear();
      await this.listenAll();
    } catch (err) {
      this.client = null;
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.lost(null, `cannot listen: ${errorMessage(err)}`);
      return;
    }
    if (this.state === 'stopped') {
      this.client = null;
      await client.end().catch(() => undefined);
      return;
    }
    this.attempt = 0;
    this.enter('listening');
    for (const subs of [...this.channels.values()]) for (const sub of [...subs]) sub.onListening?.();
  }

  /** LISTENs on every subscribed channel the current connection does not listen to yet. */
  private async listenAll(): Promise<void> {
    const client = this.client;
    if (!client) return;
    for (const channel of [...this.channels.keys()]) {
      if (this.listened.has(channel)) continue;
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      this.listened.add(channel);
    }
  }

  private enter(state: NoticesState): void {
    this.state = state;
    this.since = (this.options.now ?? Date.now)();
  }

  private lost(client: pg.Client | null, message: string): void {
    if (this.state === 'stopped' || (client !== null && client !== this.client)) return;
    this.client = null;
    this.listened.clear();
    client?.removeAllListeners('end');
    void client?.end().catch(() => undefined);
    // Still down after a failed attempt: `since` keeps the moment it was lost.
    if (this.state !== 'down') this.enter('down');
    this.lastError = message;
    this.options.onProblem(new Error(`PostgreSQL notices: ${message}`));
    if (this.retry) return;
    const { first, max } = this.options.retryMs ?? { first: 1000, max: 10_000 };
    const delay = Math.min(max, first * 2 ** this.attempt++);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.state === 'stopped') return;
      this.reconnects++;
      void this.connect();
    }, delay);
    this.retry.unref();
  }
}
