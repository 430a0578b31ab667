// Writes SMS status changes in groups: every change that arrives while one commit runs shares the next commit.
import { GroupCommitter } from '../ingest/group-commit.js';
import type { OutboundSms } from '../core/types.js';
import type { SmsStatusUpdate, Store } from '../storage/ports.js';

export interface SmsStatusWriterDeps {
  store: Pick<Store, 'sms' | 'transaction'>;
  /** Most changes one commit takes. */
  maxBatch?: number;
}

interface Change {
  id: string;
  update: SmsStatusUpdate;
}

/**
 * An alarm's SMS bring a dozen small status writes (handed over, then each delivery receipt). Committed
 * one by one, each holds the event loop for its own COMMIT; grouped, a burst of receipts costs one.
 *
 * Commits are `normal` durability (no fsync): a process crash loses none of them. A power loss can lose
 * the latest ones, and what that costs is a duplicate, never a loss: a message whose hand-over is lost
 * looks unsent and is sent again on start, and a lost receipt leaves the status at the previous step
 * (a status only ever advances, so a later receipt still applies).
 */
export class SmsStatusWriter {
  private readonly committer: GroupCommitter<Change, OutboundSms | null>;

  constructor(private readonly deps: SmsStatusWriterDeps) {
    this.committer = new GroupCommitter({
      options: { maxBatch: deps.maxBatch ?? 128, maxDelayMs: 0 },
      commit: (changes) => this.commit(changes),
    });
  }

  /** Resolves with the stored row once the change is committed (null if the row is gone). */
  write(id: string, update: SmsStatusUpdate): Promise<OutboundSms | null> {
    return this.committer.submit({ id, update });
  }

  /** Commits whatever is waiting and resolves when it is stored. */
  flush(): Promise<void> {
    return this.committer.flush();
  }

  private commit(changes: Change[]): Promise<(OutboundSms | null)[]> {
    const { store } = this.deps;
    return store.transaction(
      async () => {
        const out: (OutboundSms | null)[] = [];
        for (const c of changes) out.push(await store.sms.update(c.id, c.update));
        return out;
      },
      { durability: 'normal' },
    );
  }
}

/** The message as `update` leaves it, for when its row is gone and work goes on with the copy in memory. */
export function withUpdate(prev: OutboundSms, update: Omit<SmsStatusUpdate, 'at'>, at: number): OutboundSms {
  const out: OutboundSms = { ...prev, status: update.status, updatedAt: at };
  if (update.providerSid !== undefined) out.providerSid = update.providerSid;
  if (update.attempts !== undefined) out.attempts = update.attempts;
  if (update.errorCode !== undefined) out.errorCode = update.errorCode;
  if (update.error !== undefined) out.error = update.error;
  if (update.sentAt !== undefined) out.sentAt = update.sentAt;
  return out;
}
