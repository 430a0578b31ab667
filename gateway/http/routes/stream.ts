// GET /api/stream: the dashboard's server-sent events (incident, device, outage, task), scoped to the caller by the live feed.
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import type { Caller } from '../../access/caller.js';
import type { LiveClient, LiveStreamSource } from '../../live/feed.js';

/** Bytes a client may leave unread before it is dropped: a stalled tab must not hold the gateway's memory. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;
/** EventSource waits this long before reconnecting (SSE `retry:` field, ms). */
export const SSE_RETRY_MS = 2000;

export interface StreamRouteOptions {
  live: LiveStreamSource;
  maxBufferedBytes?: number;
}

/** An SSE connection on a raw response: writes never wait, and a client that falls behind is cut off instead. */
export class SseClient implements LiveClient {
  private closed = false;

  constructor(
    readonly caller: Caller,
    private readonly res: ServerResponse,
    private readonly maxBuffered: number,
  ) {}

  send(event: string, data: unknown): boolean {
    return this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  ping(): boolean {
    return this.write(': ping\n\n');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }

  isClosed(): boolean {
    return this.closed || this.res.destroyed;
  }

  private write(chunk: string): boolean {
    if (this.isClosed()) return false;
    // writableLength counts what the socket has not taken yet: past the bound the reader is stalled, not slow.
    if (this.res.writableLength + chunk.length > this.maxBuffered) {
      this.closed = true;
      this.res.destroy();
      return false;
    }
    this.res.write(chunk);
    return true;
  }
}

export const streamRoutes: FastifyPluginAsync<StreamRouteOptions> = async (app, { live, maxBufferedBytes }) => {
  // Open streams would keep the server from closing: end them first (EventSource then retries elsewhere or later).
  app.addHook('preClose', async () => live.closeAll());

  app.get('/stream', async (request, reply) => {
    const caller = request.caller;
    if (!caller) throw new GatewayError('GW_ERR_UNAUTHORIZED');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses by default, which would hold events back.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
    const client = new SseClient(caller, res, maxBufferedBytes ?? SSE_MAX_BUFFERED_BYTES);
    const unsubscribe = live.subscribe(client);
    res.on('close', () => {
      unsubscribe();
      client.close();
    });
  });
};
