// Applies delivery receipts to stored SMS: found by the provider's message id, in turn with the send's own update, and
// receipts that overtake the provider's answer to the send held until that answer names the message.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { OutboundSms, SmsStatus } from '../core/types.js';
import type { SmsStatusUpdate, Store } from '../storage/ports.js';
import type { StatusCallbackParams } from './dispatch-types.js';
import { advances, isFinal, mapTwilioStatus } from './sms-status.js';

// Receipts that overtake the provider's answer to our send are held this long for the SID to become known.
const EARLY_RECEIPT_TTL_MS = 60_000;
const EARLY_RECEIPT_MAX = 1000;
const SID_CACHE_MAX = 10_000;

export interface ReceiptApplierDeps {
  store: Pick<Store, 'sms'>;
  clock: Clock;
  log: Logger;
  /** Writes a status change of a stored message and announces it (the dispatcher's). */
  record: (prev: OutboundSms, update: Omit<SmsStatusUpdate, 'at'>) => Promise<OutboundSms>;
  /** Provider calls in flight: only while there are some can a receipt come before its send's answer. */
  sendsInFlight: () => number;
}

export class ReceiptApplier {
  private readonly sidToId = new Map<string, string>();
  private readonly earlyReceipts = new Map<string, { params: StatusCallbackParams; at: number }[]>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(private readonly deps: ReceiptApplierDeps) {}

  /** A Twilio-style status callback; false for a SID no stored message has (or a status it does not know). */
  async handleStatusCallback(params: StatusCallbackParams): Promise<boolean> {
    const status = mapTwilioStatus(params.MessageStatus);
    if (!status) {
      this.deps.log.debug({ sid: params.MessageSid, status: params.MessageStatus }, 'status callback with an unknown status ignored');
      return false;
    }
    const id = this.sidToId.get(params.MessageSid) ?? (await this.deps.store.sms.getBySid(params.MessageSid))?.id;
    // Checked again after the await, with no await before holding the receipt: the send may have finished meanwhile.
    const known = id ?? this.sidToId.get(params.MessageSid);
    if (!known) {
      if (this.deps.sendsInFlight() > 0) this.holdEarly(params);
      this.deps.log.debug({ sid: params.MessageSid }, 'status callback for an unknown message');
      return false;
    }
    return this.serialised(known, () => this.apply(known, status, params.ErrorCode ?? null));
  }

  /** A receipt by the provider's message id (any provider); false for an id no stored message has. */
  async handleReceipt(sid: string, status: SmsStatus, errorCode: string | null): Promise<boolean> {
    const id = this.sidToId.get(sid) ?? (await this.deps.store.sms.getBySid(sid))?.id;
    if (!id) return false;
    return this.serialised(id, () => this.apply(id, status, errorCode));
  }

  /** The provider took message `id` as `sid`: later receipts find it without a read. */
  remember(sid: string, id: string): void {
    this.sidToId.set(sid, id);
    if (this.sidToId.size > SID_CACHE_MAX) {
      const oldest = this.sidToId.keys().next();
      if (!oldest.done) this.sidToId.delete(oldest.value);
    }
  }

  /** Applies the receipts for `sid` that arrived before the provider's answer named it. */
  async replayEarly(sid: string): Promise<void> {
    const list = this.earlyReceipts.get(sid);
    if (!list) return;
    this.earlyReceipts.delete(sid);
    for (const { params } of list) await this.handleStatusCallback(params);
  }

  /** Runs `work` after earlier work on the same message: receipts and the send's own update never interleave. */
  async serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  private async apply(id: string, status: SmsStatus, errorCode: string | null): Promise<boolean> {
    const row = await this.deps.store.sms.get(id);
    if (!row) return false;
    if (!advances(row.status, status)) {
      this.deps.log.debug({ sms: id, from: row.status, to: status }, 'stale status callback ignored');
      return true;
    }
    const failing = status === 'failed' || status === 'undelivered';
    await this.deps.record(row, {
      status,
      ...(failing
        ? { errorCode: errorCode ?? row.errorCode, error: `delivery ${status}${errorCode ? ` (provider error ${errorCode})` : ''}` }
        : {}),
    });
    if (isFinal(status) && row.providerSid) this.sidToId.delete(row.providerSid);
    return true;
  }

  private holdEarly(params: StatusCallbackParams): void {
    const now = this.deps.clock.now();
    for (const [sid, list] of this.earlyReceipts) {
      if (list.every((r) => now - r.at > EARLY_RECEIPT_TTL_MS)) this.earlyReceipts.delete(sid);
    }
    if (this.earlyReceipts.size >= EARLY_RECEIPT_MAX) return;
    const list = this.earlyReceipts.get(params.MessageSid) ?? [];
    list.push({ params, at: now });
    this.earlyReceipts.set(params.MessageSid, list);
  }
}
