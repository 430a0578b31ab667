// PostgreSQL LISTEN/NOTIFY as the nodes' broadcast channel, on the store's one listening connection (which reconnects by itself).
import type { Logger } from '../../core/logger.js';
import type { PgDatabase } from './database.js';

export interface PgNotifyChannelDeps {
  /** Sends go through the store's pool; notices arrive on its one listening connection. */
  database: PgDatabase;
  /** The channel's base name; the schema's name is added, so installations sharing a database do not hear each other. */
  name: string;
  log: Logger;
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
  private readonly handlers: ((payload: string) => void)[] = [];
  private readonly gapHandlers: (() => void)[] = [];
  private unsubscribe: (() => Promise<void>) | null = null;
  /** Set once start() has listened (or tried): any later (re)listening follows a time when notices were not heard. */
  private started = false;

  constructor(private readonly deps: PgNotifyChannelDeps) {}

  onPayload(handler: (payload: string) => void): void {
    this.handlers.push(handler);
  }

  /** Called each time the channel listens again after a loss: whatever was sent in between never arrived. */
  onGap(handler: () => void): void {
    this.gapHandlers.push(handler);
  }

  /**
   * Listens before it resolves when the database answers, so nothing sent after start() is missed. It never fails the
   * start-up: a channel that cannot listen yet is reported by the store and retried in the background.
   */
  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.started = false;
    this.unsubscribe = await this.deps.database.notices.subscribe(await this.deps.database.channel(this.deps.name), {
      onNotice: (payload) => {
        for (const handler of this.handlers) handler(payload);
      },
      onListening: () => {
        // The store's connection may already listen for others when this channel subscribes: that first listening is
        // not announced here, so "again" is any listening after start() has returned.
        if (!this.started) return;
        this.deps.log.info({ channel: this.deps.name }, 'live feed channel listening again; notices sent meanwhile are lost');
        for (const handler of this.gapHandlers) handler();
      },
    });
    this.started = true;
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  state(): NotifyChannelState {
    const { state, reconnects, lastError } = this.deps.database.notices.status();
    return { listening: this.unsubscribe !== null && state === 'listening', reconnects, lastError };
  }

  async send(payload: string): Promise<void> {
    await this.deps.database.broadcast(await this.deps.database.channel(this.deps.name), payload);
  }
}
