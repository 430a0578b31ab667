// PostgreSQL counters of the SMS providers' per-recipient caps, with an in-memory copy that answers the synchronous count and hears every node's sends.
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../../core/errors.js';
import type { CapCountQuery, CapEntry, SmsCapRepo } from '../../notifiers/caps.js';
import type { PgDatabase } from './database.js';

interface CapRow {
  provider: string;
  phone: string;
  kind: string;
  content: string;
  sent_at: number;
}

/** What a node announces of each send: its own id, so it skips its own announcements, and the entry. */
interface CapNotice {
  node: string;
  entry?: CapEntry;
  /** The entry did not fit a notification: read the table again. */
  reload?: true;
}

export interface PgSmsCapOptions {
  /** A full reload of the table this often (default 5 min): a safety net under the notifications. */
  reloadMs?: number;
}

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
const MAX_NOTICE_BYTES = 7900;
const DEFAULT_RELOAD_MS = 5 * 60_000;
const CHANNEL = 'care_sms_caps';

/**
 * The caps are checked synchronously on the alarm path (no round trip before a page goes out), so the counts are
 * answered from a copy of the table held here: loaded at open, added to by every record, by this node at once and by
 * every other node sharing the database through a NOTIFY sent in the same transaction as its INSERT. The copy is read
 * again after the LISTEN connection comes back (what was sent meanwhile was missed) and every few minutes. Where it
 * cannot know, it counts too few rather than twice: a cap errs towards one message too many, never a page withheld.
 */
export class PgSmsCapRepo implements SmsCapRepo {
  /** Entries by provider and phone: a count looks at one recipient's messages only. */
  private entries = new Map<string, CapEntry[]>();
  /** This node's records whose INSERT has not committed yet: a load must not drop them. */
  private readonly pending = new Set<CapEntry>();
  /** Entries that arrived while a load's query ran: they may be missing from its rows. */
  private readonly loads = new Set<CapEntry[]>();
  private readonly node = randomUUID();
  private unsubscribe: (() => Promise<void>) | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgSmsCapOptions = {},
  ) {}

  /** Reads the counters from the database (at open, after a lost LISTEN connection, and periodically). */
  async load(): Promise<void> {
    const arrived: CapEntry[] = [];
    this.loads.add(arrived);
    let rows: CapRow[];
    try {
      rows = await this.db.query<CapRow>('SELECT provider, phone, kind, content, sent_at FROM sms_cap_log ORDER BY sent_at');
    } finally {
      this.loads.delete(arrived);
    }
    const fresh = new Map<string, CapEntry[]>();
    for (const r of rows) {
      addTo(fresh, { provider: r.provider as CapEntry['provider'], phone: r.phone, kind: r.kind, content: r.content, sentAt: r.sent_at });
    }
    for (const e of [...this.pending, ...arrived]) if (!holds(fresh, e)) addTo(fresh, e);
    this.entries = fresh;
  }

  /** Listens for the other nodes' sends (on the store's one notices connection) and starts the periodic reload. */
  async listen(): Promise<void> {
    if (this.unsubscribe) return;
    let first = true;
    this.unsubscribe = await this.db.notices.subscribe(await this.db.channel(CHANNEL), {
      onNotice: (payload) => this.heard(payload),
      // The first time the counters were just loaded; after a loss, what was sent meanwhile was missed.
      onListening: () => {
        if (!first) this.reload();
        first = false;
      },
    });
    this.reloadTimer = setInterval(() => this.reload(), this.options.reloadMs ?? DEFAULT_RELOAD_MS);
    this.reloadTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    this.reloadTimer = null;
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  count(q: CapCountQuery): number {
    let n = 0;
    for (const e of this.entries.get(keyOf(q.provider, q.phone)) ?? []) {
      if (e.sentAt <= q.since) continue;
      if (q.kind !== undefined && e.kind !== q.kind) continue;
      if (q.content !== undefined && e.content !== q.content) continue;
      n++;
    }
    return n;
  }

  async record(e: CapEntry): Promise<void> {
    const entry = { ...e };
    // Counted here first: a caller checking the cap right after must see this message even before the INSERT returns.
    this.add(entry);
    this.pending.add(entry);
    const channel = await this.db.channel(CHANNEL);
    const notice = JSON.stringify({ node: this.node, entry } satisfies CapNotice);
    const payload =
      Buffer.byteLength(notice) < MAX_NOTICE_BYTES ? notice : JSON.stringify({ node: this.node, reload: true } satisfies CapNotice);
    try {
      // A count lost to a server crash errs towards one message too many, never one page too few: no WAL flush wait.
      // The NOTIFY is delivered at the COMMIT, so no node counts a send whose row did not commit.
      await this.db.write(
        async () => {
          await this.db.run('INSERT INTO sms_cap_log (provider, phone, kind, content, sent_at) VALUES ($1, $2, $3, $4, $5)', [
            e.provider,
            e.phone,
            e.kind,
            e.content,
            e.sentAt,
          ]);
          await this.db.query('SELECT pg_notify($1, $2)', [channel, payload]);
        },
        { durability: 'normal' },
      );
    } finally {
      this.pending.delete(entry);
    }
  }

  async prune(before: number): Promise<void> {
    for (const [key, list] of this.entries) {
      const kept = list.filter((e) => e.sentAt > before);
      if (kept.length > 0) this.entries.set(key, kept);
      else this.entries.delete(key);
    }
    await this.db.write(() => this.db.run('DELETE FROM sms_cap_log WHERE sent_at <= $1', [before]), { durability: 'normal' });
  }

  private add(e: CapEntry): void {
    addTo(this.entries, e);
    for (const arrived of this.loads) arrived.push(e);
  }

  private heard(payload: string): void {
    let notice: CapNotice;
    try {
      notice = JSON.parse(payload) as CapNotice;
    } catch (err) {
      this.db.reportConnectionProblem(new Error(`unreadable SMS cap notice: ${errorMessage(err)}`));
      return;
    }
    if (notice.node === this.node) return;
    if (notice.reload) this.reload();
    // A notice delivered after a load that already read its row: counted once (two sends alike to the millisecond count
    // as one, which errs towards one message too many, never a page withheld).
    else if (notice.entry && !holds(this.entries, notice.entry)) this.add(notice.entry);
  }

  private reload(): void {
    this.load().catch((err: unknown) => this.db.reportConnectionProblem(new Error(`SMS cap counters not reloaded: ${errorMessage(err)}`)));
  }
}

function addTo(map: Map<string, CapEntry[]>, e: CapEntry): void {
  const key = keyOf(e.provider, e.phone);
  const list = map.get(key);
  if (list) list.push(e);
  else map.set(key, [e]);
}

function holds(map: Map<string, CapEntry[]>, e: CapEntry): boolean {
  return (map.get(keyOf(e.provider, e.phone)) ?? []).some((x) => x.kind === e.kind && x.content === e.content && x.sentAt === e.sentAt);
}

function keyOf(provider: string, phone: string): string {
  return `${provider}\u0000${phone}`;
}
