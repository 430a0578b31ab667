// The SMS dispatcher's waiting line and send slots: alarm messages before routine ones, first in first out within each
// priority, and slots that routine traffic can never fill completely.
import type { MessagePriority, OutboundSms } from '../core/types.js';

export interface SendQueueOptions {
  /** Provider calls in flight at once, whatever their priority. */
  concurrency: number;
  /**
   * Slots routine messages never take, so an alarm finds one free however slow the provider and however many routine
   * messages went first. Default: a quarter of `concurrency`, leaving routine traffic at least one slot.
   */
  alarmReserve?: number;
}

/**
 * A burst of routine messages (visit reminders, digests, sign-in codes) queued ahead of an alarm page must not delay it:
 * the page overtakes every routine message still waiting, and, while routine sends hold the provider, one of the slots
 * they cannot take is free for it. Within a priority the order is the order of queueing, so a responder's first page
 * still leaves before the page link that follows it.
 */
export class SendQueue {
  private readonly lanes: Record<MessagePriority, OutboundSms[]> = { alarm: [], routine: [] };
  /** Provider calls in flight, by message id, with their priority. */
  private readonly inFlight = new Map<string, MessagePriority>();
  private routineInFlight = 0;
  readonly concurrency: number;
  /** The most routine messages in flight at once. */
  readonly routineSlots: number;

  constructor(opts: SendQueueOptions) {
    this.concurrency = Math.max(1, Math.floor(opts.concurrency));
    const reserve = opts.alarmReserve ?? Math.floor(this.concurrency / 4);
    this.routineSlots = Math.max(1, this.concurrency - Math.max(0, Math.floor(reserve)));
  }

  /** Queues a message behind those of its priority. */
  push(msg: OutboundSms): void {
    this.lanes[msg.priority].push(msg);
  }

  /**
   * Queues messages coming back together (resumed after a restart, or released from their backoff when the provider
   * answers again): each takes its place among those waiting by the time it was first queued, so a retry of an older
   * message is not sent after newer ones of its priority.
   */
  pushOldestFirst(msgs: readonly OutboundSms[]): void {
    for (const msg of msgs) this.lanes[msg.priority].push(msg);
    // A stable sort: messages queued in the same millisecond keep their order.
    for (const lane of Object.values(this.lanes)) lane.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Whether `take()` would give a message now: a slot is free for the first message waiting. */
  hasSendable(): boolean {
    if (this.inFlight.size >= this.concurrency) return false;
    if (this.lanes.alarm.length > 0) return true;
    return this.lanes.routine.length > 0 && this.routineInFlight < this.routineSlots;
  }

  /** The next message to send, counted as in flight until `done`; undefined when none may go now. */
  take(): OutboundSms | undefined {
    if (!this.hasSendable()) return undefined;
    const msg = this.lanes.alarm.shift() ?? this.lanes.routine.shift();
    if (!msg) return undefined;
    this.inFlight.set(msg.id, msg.priority);
    if (msg.priority === 'routine') this.routineInFlight++;
    return msg;
  }

  /** A message taken with `take()` is off the provider (sent, failed, or waiting out a backoff). */
  done(id: string): void {
    const priority = this.inFlight.get(id);
    if (priority === undefined) return;
    this.inFlight.delete(id);
    if (priority === 'routine') this.routineInFlight--;
  }

  /** Messages waiting for a slot. */
  get waiting(): number {
    return this.lanes.alarm.length + this.lanes.routine.length;
  }

  /** Every message waiting, alarms first. */
  *values(): IterableIterator<OutboundSms> {
    yield* this.lanes.alarm;
    yield* this.lanes.routine;
  }

  /** Forgets the messages waiting (they stay unsent in the store); those in flight are still counted until `done`. */
  clear(): void {
    this.lanes.alarm.length = 0;
    this.lanes.routine.length = 0;
  }
}
