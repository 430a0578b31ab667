// The live feed across nodes: compact notices (ids, not rows) sent to the other nodes, batched per tick, never awaited.
import type { DeviceState } from '../core/types.js';
import type { Logger } from '../core/logger.js';

/** What one node tells the others; the receiver reads the row itself (an incident's view, a task, an outage). */
export type FeedNotice =
  | { kind: 'incident'; id: string }
  | { kind: 'device'; deviceId: string; state: DeviceState; at: number }
  | { kind: 'task'; id: string; change: 'opened' | 'closed' }
  | { kind: 'outage'; id: string; change: 'opened' | 'updated' | 'closed' };

/** A broadcast channel between the nodes (PostgreSQL LISTEN/NOTIFY): payloads are strings of at most maxBytes. */
export interface NoticeTransport {
  readonly maxBytes: number;
  /** Resolves once sent; rejects when the database did not take it. */
  send(payload: string): Promise<void>;
  /** Every payload any node sent, this one's included. */
  onPayload(handler: (payload: string) => void): void;
  /** The transport listens again after a loss: payloads sent in between were never delivered here. */
  onGap(handler: () => void): void;
}

export type NoticeOutcome = 'sent' | 'failed' | 'received' | 'malformed';

export interface ClusterFeedDeps {
  transport: NoticeTransport;
  node: string;
  log: Logger;
  /** Counts notices by outcome (for /metrics). */
  count?: (outcome: NoticeOutcome, n: number) => void;
}

interface Envelope {
  node: string;
  notices: FeedNotice[];
}

/**
 * Notices raised in one tick go out as one payload (split when longer than the transport takes), after the tick:
 * whoever raised them (the alarm path) never waits for the database, and a failure is logged and counted, not thrown.
 * While a send is under way, what is raised meanwhile waits for it and goes out together after it: in a reconnect
 * storm the notices trickle in a few per tick, and one NOTIFY each woke every node's listening connection.
 */
export class ClusterFeed {
  private pending: FeedNotice[] = [];
  private scheduled = false;
  /** The flush under way, if any: the next one starts when it ends. */
  private sending: Promise<void> | null = null;
  private readonly handlers: ((notices: FeedNotice[]) => void)[] = [];

  constructor(private readonly deps: ClusterFeedDeps) {
    deps.transport.onPayload((payload) => this.receive(payload));
  }

  /** Where other nodes' notices go (each handler, in the order added); this node's own never come back to it. */
  onNotices(handler: (notices: FeedNotice[]) => void): void {
    this.handlers.push(handler);
  }

  /** Other nodes' notices may have been missed (this node's listening connection was lost, and is back). */
  onGap(handler: () => void): void {
    this.deps.transport.onGap(handler);
  }

  publish(notice: FeedNotice): void {
    this.pending.push(notice);
    this.schedule();
  }

  /** Resolves when what was published so far has been handed to the transport (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.scheduled || this.sending) {
      if (this.sending) await this.sending;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const payloads = this.pack(dedupe(this.pending));
    this.pending = [];
    if (payloads.length === 0) return;
    this.sending = (async () => {
      for (const { payload, count } of payloads) {
        try {
          await this.deps.transport.send(payload);
          this.deps.count?.('sent', count);
        } catch (err) {
          this.deps.count?.('failed', count);
          this.deps.log.warn({ err, notices: count }, 'live feed notice not sent to the other nodes');
        }
      }
    })().finally(() => {
      this.sending = null;
      if (this.pending.length > 0) this.schedule();
    });
  }

  /**
   * Envelopes of as many notices as fit in the transport's payload limit. Each notice is encoded once and the envelope's
   * size kept as a sum: a failover's burst (thousands of device notices in a tick) re-encoded each growing batch before.
   */
  private pack(notices: FeedNotice[]): { payload: string; count: number }[] {
    const out: { payload: string; count: number }[] = [];
    // Exactly JSON.stringify({ node, notices }) (the Envelope), built from its parts.
    const head = `{"node":${JSON.stringify(this.deps.node)},"notices":[`;
    const tail = ']}';
    const frame = Buffer.byteLength(head) + tail.length;
    let batch: string[] = [];
    let bytes = frame;
    const close = (): void => {
      out.push({ payload: head + batch.join(',') + tail, count: batch.length });
    };
    for (const n of notices) {
      const encoded = JSON.stringify(n);
      const size = Buffer.byteLength(encoded);
      // A comma before every notice but the first.
      if (batch.length > 0 && bytes + 1 + size > this.deps.transport.maxBytes) {
        close();
        batch = [];
        bytes = frame;
      }
      bytes += (batch.length > 0 ? 1 : 0) + size;
      batch.push(encoded);
    }
    if (batch.length > 0) close();
    return out;
  }

  private receive(payload: string): void {
    const envelope = parseEnvelope(payload);
    if (!envelope) {
      this.deps.count?.('malformed', 1);
      this.deps.log.warn({ excerpt: payload.slice(0, 200) }, 'malformed live feed notice from the cluster channel ignored');
      return;
    }
    // This node showed its own events already, when they happened.
    if (envelope.node === this.deps.node) return;
    this.deps.count?.('received', envelope.notices.length);
    for (const handler of this.handlers) handler(envelope.notices);
  }
}

/** A burst of receipts for one incident is one notice; the order of the rest is kept. */
function dedupe(notices: FeedNotice[]): FeedNotice[] {
  const seen = new Set<string>();
  const out: FeedNotice[] = [];
  for (const n of notices) {
    if (n.kind === 'incident') {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
    }
    out.push(n);
  }
  return out;
}

const STATES: ReadonlySet<string> = new Set(['online', 'offline', 'unknown']);

function parseEnvelope(payload: string): Envelope | null {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!isRecord(raw) || typeof raw.node !== 'string' || !Array.isArray(raw.notices)) return null;
  const notices: FeedNotice[] = [];
  for (const n of raw.notices as unknown[]) {
    const notice = parseNotice(n);
    if (!notice) return null;
    notices.push(notice);
  }
  return { node: raw.node, notices };
}

function parseNotice(n: unknown): FeedNotice | null {
  if (!isRecord(n)) return null;
  switch (n.kind) {
    case 'incident':
      return typeof n.id === 'string' ? { kind: 'incident', id: n.id } : null;
    case 'device':
      return typeof n.deviceId === 'string' && typeof n.state === 'string' && STATES.has(n.state) && typeof n.at === 'number'
        ? { kind: 'device', deviceId: n.deviceId, state: n.state as DeviceState, at: n.at }
        : null;
    case 'task':
      return typeof n.id === 'string' && (n.change === 'opened' || n.change === 'closed')
        ? { kind: 'task', id: n.id, change: n.change }
        : null;
    case 'outage':
      return typeof n.id === 'string' && (n.change === 'opened' || n.change === 'updated' || n.change === 'closed')
        ? { kind: 'outage', id: n.id, change: n.change }
        : null;
    default:
      return null;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
