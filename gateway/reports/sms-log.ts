// The SMS log for the dashboard: every message sent and received, newest first, with filters; outbox messages marked as not sent.
import type { SmsLogEntry, SmsLogQuery, SmsLogReads } from './read-model.js';

export type { SmsLogEntry, SmsLogQuery } from './read-model.js';

export class SmsLogReader {
  constructor(private readonly deps: { reads: SmsLogReads }) {}

  async list(q: SmsLogQuery): Promise<SmsLogEntry[]> {
    const { reads } = this.deps;
    // Inbound messages have no purpose of their own and one status, `received`: a filter on either leaves them out.
    const wantsInbound = q.direction !== 'out' && (q.status === undefined || q.status === 'received') && !q.purpose;
    const [out, inbound] = await Promise.all([q.direction === 'in' ? [] : reads.outbound(q), wantsInbound ? reads.inbound(q) : []]);
    return [...out, ...inbound].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(0, q.limit);
  }

  /** Outbound messages in the outbox (never sent), for the warning above the log. */
  outboxCount(): Promise<number> {
    return this.deps.reads.outboxCount();
  }
}
