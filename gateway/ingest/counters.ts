// The ingest's running counts for /metrics: events accepted and redelivered, messages rejected and dropped, group commits.
import type { RejectionReason } from '../core/types.js';
import { BATCH_SIZE_BUCKETS, type DropReason, type IngestStats } from './events.js';

export class IngestCounters {
  accepted = 0;
  duplicates = 0;
  telemetry = 0;
  status = 0;
  batches = 0;
  commitFailures = 0;
  rejectionsNotLogged = 0;
  readonly dropped: Record<DropReason, number> = { rate: 0, quota: 0, low_disk: 0 };
  readonly rejected: Record<RejectionReason, number> = {
    payload_too_large: 0,
    malformed_json: 0,
    invalid_payload: 0,
    unknown_type: 0,
    type_not_supported_by_kind: 0,
    unknown_channel: 0,
    impossible_value: 0,
    unknown_device: 0,
  };
  private readonly batchSizes = { count: 0, sum: 0, max: 0, buckets: BATCH_SIZE_BUCKETS.map((le) => ({ le, count: 0 })) };

  /** One group commit of `size` events. */
  countBatch(size: number): void {
    const s = this.batchSizes;
    this.batches++;
    s.count++;
    s.sum += size;
    s.max = Math.max(s.max, size);
    for (const b of s.buckets) if (size <= b.le) b.count++;
  }

  /** A copy of the counts, with the events waiting for their group commit now. */
  snapshot(queued: number): IngestStats {
    return {
      accepted: this.accepted,
      duplicates: this.duplicates,
      telemetry: this.telemetry,
      status: this.status,
      batches: this.batches,
      commitFailures: this.commitFailures,
      rejectionsNotLogged: this.rejectionsNotLogged,
      dropped: { ...this.dropped },
      rejected: { ...this.rejected },
      batchSizes: { ...this.batchSizes, buckets: this.batchSizes.buckets.map((b) => ({ ...b })) },
      queued,
    };
  }
}
