// PUBACKs for a connection whose PUBLISHes are recorded concurrently: each goes out once its message is recorded and every earlier one's has gone, in arrival order.

export interface InOrderAcksDeps {
  /** Writes the PUBACK for this packet id; called in arrival order, once per recorded QoS 1 message. */
  send: (messageId: number) => void;
}

interface Entry {
  /** Undefined for a QoS 0 message: nothing to acknowledge, but it keeps its place (a failed record stops the line). */
  messageId: number | undefined;
  state: 'pending' | 'recorded' | 'failed';
}

/**
 * The acknowledgements owed on one connection. A client MUST send PUBACKs in the order the PUBLISHes arrived
 * ([MQTT-4.6.0-2] in 3.1.1, the same rule in 5), and ours goes only after the message is durably recorded: a message
 * recorded early (a later group, a rejection noted at once) waits for the ones before it. A failed record gets no
 * PUBACK, and neither does anything after it, since that PUBACK would overtake the one that never comes: the broker
 * sends them all again on the next connection [MQTT-4.4.0-1], and the redelivery is absorbed by the ingest's dedupe.
 */
export class InOrderAcks {
  private readonly queue: Entry[] = [];
  private stopped = false;

  constructor(private readonly deps: InOrderAcksDeps) {}

  /** Takes the next PUBLISH in arrival order; `recorded` settles when its record is durable, or has failed. */
  track(messageId: number | undefined, recorded: Promise<unknown>): void {
    if (this.stopped) return;
    const entry: Entry = { messageId, state: 'pending' };
    this.queue.push(entry);
    recorded.then(
      () => this.settle(entry, 'recorded'),
      () => this.settle(entry, 'failed'),
    );
  }

  /** Messages taken and not yet acknowledged (recorded ones waiting for an earlier one included). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Nothing more is acknowledged: the connection closed, or a record failed; the broker sends the rest again. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private settle(entry: Entry, state: 'recorded' | 'failed'): void {
    entry.state = state;
    while (!this.stopped) {
      const head = this.queue[0];
      if (!head || head.state === 'pending') return;
      if (head.state === 'failed') return this.stop();
      this.queue.shift();
      if (head.messageId !== undefined) this.deps.send(head.messageId);
    }
  }
}

/**
 * A PUBACK with success and no properties: fixed header 0x40, remaining length 2, the packet id. The same bytes in
 * MQTT 3.1.1 and 5 (a v5 PUBACK may leave out a 0x00 reason code and empty properties [MQTT-3.4.2.1]).
 */
export function pubackPacket(messageId: number): Buffer {
  if (!Number.isInteger(messageId) || messageId < 1 || messageId > 0xffff) throw new RangeError(`invalid MQTT packet id ${messageId}`);
  return Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]);
}
