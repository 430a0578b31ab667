// Row shape and row-to-domain mapper of the event log, shared by the SQLite and PostgreSQL engines.
import type { EventType } from '../../core/types.js';
import type { StoredEvent } from '../ports.js';

/** An events row with `processed` already a boolean; each engine reads its own column type into it. */
export interface EventRow {
  id: number;
  device_id: string;
  seq: number;
  type: string;
  payload: string;
  payload_hash: string;
  device_ts: string | null;
  received_at: number;
  processed: boolean;
}

export function toEvent(r: EventRow): StoredEvent {
  return {
    id: r.id,
    deviceId: r.device_id,
    seq: r.seq,
    type: r.type as EventType,
    payload: r.payload,
    payloadHash: r.payload_hash,
    deviceTs: r.device_ts,
    receivedAt: r.received_at,
    processed: r.processed,
  };
}
