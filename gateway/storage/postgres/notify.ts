// PostgreSQL LISTEN/NOTIFY as the nodes' broadcast channel: one dedicated listening connection that reconnects by itself.
import pg from 'pg';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PgDatabase } from './database.js';

export interface PgNotifyChannelDeps {
  connectionString: string;
  /** Sends go through the store's pool, never through the listening connection (which may be reconnecting). */
  database: PgDatabase;
  /** The channel's base name; the schema's name is added, so installations sharing a database do not hear each other. */
  name: string;
  log: Logger;
  /** Wait before reconnecting, doubled up to maxBackoffMs (defaults 500 ms, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface NotifyChannelState {
  listening: boolean;
  reconnects: number;
  lastError: string | null;
}

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; the envelope keeps a margin under it. */
const MAX_PAYLOAD_BYTES = 7900;

export class PgNotifyChannel {
  readonly maxBytes = MAX_PAYLOAD_BYTES;
  private client: pg.Client | null = null;
  private channel: string | null = null;
  private readonly handlers: ((payload: string) => void)[] = [];
  private stopped = true;
  private retry: NodeJS.Timeout | null = null;
  private backoff: number;
  private readonly status: NotifyChannelState = { listening: false, reconnects: 0, lastError: null };

  constructor(private readonly deps: PgNotifyChannelDeps) {
    this.backoff = deps.backoffMs ?? 500;
  }

  onPayload(handler: (payload: string) => void): void {
    this.handlers.push(handler);
  }

  /**
   * Listens before it resolves, so nothing sent after start() is missed. It never fails the start-up: a channel that
   * cannot listen (the database already answered the store) is logged and retried in the background.
   */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.listen();
    } catch (err) {
      this.status.lastError = errorMessage(err);
      this.deps.log.error({ err }, 'live feed channel cannot listen yet; other nodes\u2019 events miss this node until it does');
      this.scheduleReconnect();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.client = null;
    this.status.listening = false;
    await client?.end().catch(() => undefined);
  }

  state(): NotifyChannelState {
    return { ...this.status };
  }

  async send(payload: string): Promise<void> {
    const channel = this.channel ?? (await this.channelName());
    await this.deps.database.broadcast(channel, payload);
  }

  private async channelName(): Promise<string> {
    const row = await this.deps.database.one<{ schema: string }>('SELECT current_schema() AS schema');
    this.channel = `${this.deps.name}:${row?.schema ?? 'public'}`.slice(0, 63);
    return this.channel;
  }

  private async listen(): Promise<void> {
    const channel = this.channel ?? (await this.channelName());
    const client = new pg.Client({ connectionString: this.deps.connectionString });
    client.on('notification', (msg) => {
      if (msg.channel !== channel || msg.payload === undefined) return;
      for (const handler of this.handlers) handler(msg.payload);
    });
    // A listening connection that fails is replaced; without a listener its error would stop the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.status.listening = true;
    this.backoff = this.deps.backoffMs ?? 500;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    this.status.listening = false;
    this.status.lastError = errorMessage(err);
    this.deps.log.error({ err }, 'live feed channel lost; other nodes\u2019 events miss this node until it listens again');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.deps.maxBackoffMs ?? 30_000);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.status.reconnects++;
      this.listen().then(
        () => this.deps.log.info({ reconnects: this.status.reconnects }, 'live feed channel listening again'),
        (err: unknown) => {
          this.status.lastError = errorMessage(err);
          this.scheduleReconnect();
        },
      );
    }, wait);
    this.retry.unref();
  }
}
