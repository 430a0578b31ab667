// Server-sent events from GET /api/stream: one EventSource per tab, named events fanned out to the pages that listen.

type Handler = (data: unknown) => void;

export class LiveFeed {
  private source: EventSource | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly attached = new Set<string>();
  private readonly stateHandlers = new Set<(connected: boolean) => void>();

  /** Opens the stream (after sign-in); EventSource reconnects by itself with the server's `retry:` delay. */
  connect(url = '/api/stream'): void {
    if (this.source) return;
    const source = new EventSource(url, { withCredentials: true });
    source.onopen = () => this.emitState(true);
    source.onerror = () => this.emitState(false);
    this.source = source;
    this.attached.clear();
    for (const type of this.handlers.keys()) this.attach(type);
  }

  close(): void {
    this.source?.close();
    this.source = null;
    this.attached.clear();
  }

  /** Listens for one event type (`incident`, `device`, `outage`, `task`, `visit`…); returns the unsubscribe. */
  on(type: string, handler: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(handler);
    this.attach(type);
    return () => set.delete(handler);
  }

  onConnection(handler: (connected: boolean) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  private attach(type: string): void {
    if (!this.source || this.attached.has(type)) return;
    this.attached.add(type);
    this.source.addEventListener(type, (event) => {
      let data: unknown;
      try {
        data = JSON.parse((event as MessageEvent<string>).data);
      } catch {
        return;
      }
      for (const handler of this.handlers.get(type) ?? []) handler(data);
    });
  }

  private emitState(connected: boolean): void {
    for (const handler of this.stateHandlers) handler(connected);
  }
}
