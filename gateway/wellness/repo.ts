// The inactivity monitor's storage port: each watched resident's count since their last sign of life, so a restart resumes it.
import type { EventType } from '../core/types.js';
import type { SignSource } from './rules.js';

export interface WellnessState {
  residentId: string;
  lastSignAt: number | null;
  lastSignSource: SignSource | null;
  /** Waking time without a sign of life, counted up to `countedUntil`. */
  inactiveMs: number;
  countedUntil: number;
  /** The wellness-check task is open (set once the task sink took it). */
  taskOpenedAt: number | null;
  /** This episode was paged through the alarm path (at most once per episode). */
  pagedAt: number | null;
}

/** The latest recorded sign of life of one resident among device events after a cursor. */
export interface RecordedSign {
  residentId: string;
  type: EventType;
  receivedAt: number;
}

export interface WellnessRepo {
  list(): Promise<WellnessState[]>;
  /** Writes the states, and the event cursor when given, in one transaction. */
  save(states: WellnessState[], eventCursor: number | null): Promise<void>;
  remove(residentIds: string[]): Promise<void>;
  /** Changes whenever the registry's residents change (count and last upsert): the monitor re-reads them only then. */
  residentsStamp(): Promise<string>;
  /** Id of the last device event the monitor had taken into account; null before its first start. */
  eventCursor(): Promise<number | null>;
  /** Id of the newest recorded device event (0 when there is none). */
  lastEventId(): Promise<number>;
  /**
   * Per resident, the newest event of one of `types` recorded after `afterId` (events of devices no longer
   * in the registry are left out), and the newest event id overall.
   */
  signsAfter(afterId: number, types: readonly EventType[]): Promise<{ signs: RecordedSign[]; lastEventId: number }>;
}
