// Reads a server-sent event stream over a real HTTP connection (undici fetch) and lets tests wait for events.
import { waitFor } from './wait.js';

export interface SseEvent {
  event: string;
  data: string;
  /** When it was parsed (performance.now()). */
  at: number;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | null = null;
  ended = false;
  private buffer = '';
  private readonly controller = new AbortController();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseReader> {
    const controller = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    const reader = new SseReader(res.status, res.headers);
    reader.controller.signal.addEventListener('abort', () => controller.abort());
    if (res.body) void reader.pump(res.body);
    else reader.ended = true;
    return reader;
  }

  /** JSON data of the events named `name`. */
  data<T>(name: string): T[] {
    return this.events.filter((e) => e.event === name).map((e) => JSON.parse(e.data) as T);
  }

  async waitFor<T>(name: string, predicate: (data: T) => boolean = () => true, timeoutMs = 5000): Promise<T & { receivedAt: number }> {
    const hit = await waitFor(
      () => `a matching ${name} event (got: ${this.events.map((e) => e.event).join(', ')})`,
      () => {
        const found = this.events.find((e) => e.event === name && predicate(JSON.parse(e.data) as T));
        if (!found && this.ended) throw new Error(`stream ended before a ${name} event`);
        return found;
      },
      { timeoutMs, intervalMs: 10 },
    );
    return { ...(JSON.parse(hit.data) as T), receivedAt: hit.at };
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the server cut the connection.
    }
    this.ended = true;
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
      else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
    }
    if (data.length > 0) this.events.push({ event, data: data.join('\n'), at: performance.now() });
  }
}
