// The events the MQTT edge (broker and ingest) emits, and the ingest's counters.
import type { DeviceState, Rejection, RejectionReason, SecurityEvent, Signal } from '../core/types.js';
import type { Telemetry } from '../../devices/kinds.js';

export interface TelemetryReceived {
  deviceId: string;
  battery: number | null;
  rssi: number | null;
  at: number;
  payload: Telemetry;
}

export interface DeviceStatusChanged {
  deviceId: string;
  state: DeviceState;
  at: number;
}

/** An event the device sent again (same connection, or flagged DUP), acknowledged again and not acted on. */
export interface SignalRedelivered {
  deviceId: string;
  seq: number;
  dup: boolean;
}

/** A device went over its limits: dropped messages, and (`disconnect`) a flood that the broker ends. */
export interface DeviceFlooding {
  deviceId: string;
  residentId: string;
  reason: 'rate' | 'quota';
  disconnect: boolean;
  at: number;
  detail: string;
}

/** A device's command subscription is in place on a new connection (SUBACK sent, or a persistent session restored). */
export interface DeviceSessionStarted {
  deviceId: string;
  residentId: string;
  at: number;
}

export type DropReason = 'rate' | 'quota' | 'low_disk';

export interface IngestEvents {
  /** A new event, durably recorded (a redelivery is not emitted again). */
  signalReceived: [Signal];
  signalRedelivered: [SignalRedelivered];
  /** A message acknowledged but not acted on. */
  signalRejected: [Rejection];
  telemetryReceived: [TelemetryReceived];
  deviceStatusChanged: [DeviceStatusChanged];
  /**
   * The device said again the state this node already has (its `online` after a CONNACK, say): nothing changed here,
   * but a node that decided otherwise meanwhile (a replayed will) must hear it. Only the cluster's notices act on it.
   */
  deviceStatusAffirmed: [DeviceStatusChanged];
  securityEvent: [SecurityEvent];
  deviceFlooding: [DeviceFlooding];
  deviceSessionStarted: [DeviceSessionStarted];
}

export interface IngestStats {
  /** New events recorded. */
  accepted: number;
  /** Redeliveries recognised and not acted on again. */
  duplicates: number;
  rejected: Record<RejectionReason, number>;
  /** Rejections counted but left out of the durable rejection log because too many were waiting. */
  rejectionsNotLogged: number;
  telemetry: number;
  status: number;
  /** Messages acknowledged but not written: over a device's rate or daily quota, or heartbeats shed below the disk reserve. */
  dropped: Record<DropReason, number>;
  /** Group commits written, and those that failed (their events were not acknowledged). */
  batches: number;
  commitFailures: number;
  /** Events per group commit: cumulative buckets (count of batches with size <= le), as a histogram wants. */
  batchSizes: { count: number; sum: number; max: number; buckets: { le: number; count: number }[] };
  /** Events waiting for their group commit right now. */
  queued: number;
}

export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;
