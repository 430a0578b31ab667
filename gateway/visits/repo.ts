// The visit feature's repository port: plans (over the registry's visits), occurrence records, the ledger and job runs.
import type { LedgerEntry, NewLedgerEntry, OccurrenceRecord, VisitPlan } from './types.js';

export interface VisitRepo {
  listPlans(): Promise<VisitPlan[]>;
  getPlan(id: string): Promise<VisitPlan | null>;
  /**
   * Writes the plan: its definition into the registry's visit document (other document fields are kept,
   * so a later registry import and this agree on one visit list), and its coordinator state beside it.
   */
  savePlan(plan: VisitPlan): Promise<void>;

  /** Records of occurrences starting in [from, to). */
  listRecords(from: number, to: number): Promise<OccurrenceRecord[]>;
  getRecord(visitId: string, start: number): Promise<OccurrenceRecord | null>;
  /** The volunteer's occurrences checked in and not yet out, oldest first. */
  listCheckedIn(volunteerId: string): Promise<OccurrenceRecord[]>;
  saveRecord(record: OccurrenceRecord): Promise<void>;
  /**
   * Marks the occurrence missed unless something already happened to it (any record other than a plain
   * 'scheduled' one without a reassignment). True only for the one caller that marked it.
   */
  claimMissed(record: OccurrenceRecord): Promise<boolean>;

  addLedgerEntry(entry: NewLedgerEntry): Promise<LedgerEntry>;
  /** Oldest first. */
  listLedger(volunteerId: string): Promise<LedgerEntry[]>;
  /** Entries whose service date falls in the month "YYYY-MM", oldest first. */
  listLedgerForMonth(month: string): Promise<LedgerEntry[]>;

  /** Records a job run by key (e.g. `reminder:2026-11-27:v-01`). True only for the first caller, ever. */
  claimRun(key: string, at: number): Promise<boolean>;
  hasRun(key: string): Promise<boolean>;
}
