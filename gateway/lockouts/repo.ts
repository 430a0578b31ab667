// The shared failure ledger's port: sign-in failures every gateway node appends, and reads back from the others, so one lockout holds across nodes.

/** One failed sign-in (or counted request) under a limiter's key, e.g. scope `mqtt` and key `<address>\0<device id>`. */
export interface FailureEntry {
  /** Which limiter counts it: `mqtt` (device CONNECT), `login_subject`, `login_ip`, `otp_phone`, `otp_ip`. */
  scope: string;
  key: string;
  /** Epoch milliseconds, by the clock of the node that saw it. */
  at: number;
  /** The process that appended it, so it can skip its own entries when reading the others'. */
  node: string;
}

export interface LedgerRow {
  /** Grows with each append; read cursors go by it. */
  id: number;
  entry: FailureEntry;
}

export interface FailureLedgerRepo {
  append(entry: FailureEntry): Promise<void>;
  /**
   * Entries of other nodes (`node` differs from `exceptNode`) with an id above `afterId` and a time after `notBefore`,
   * by id, at most `limit`.
   */
  since(q: { afterId: number; notBefore: number; exceptNode: string; limit: number }): Promise<LedgerRow[]>;
  /** Deletes entries at or before `before`; resolves with how many. */
  prune(before: number): Promise<number>;
}
