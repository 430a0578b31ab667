// Supervision's repository port: care tasks, grouped outages and digest runs.
import type { CareTaskKind } from '../core/types.js';
import type { CareTask, CareTaskFilter, Outage, OutageFilter } from './types.js';

export interface CareTaskClose {
  at: number;
  by: string;
  reason: string;
  note: string | null;
}

export interface SupervisionRepo {
  /** Inserts the task unless one of the same kind is open for the same resident and device; true when inserted. */
  insertTask(task: CareTask): Promise<boolean>;
  getTask(id: string): Promise<CareTask | null>;
  findOpenTask(kind: CareTaskKind, residentId: string, deviceId: string | null): Promise<CareTask | null>;
  /** Closes an open task; null when it does not exist or is already closed. */
  closeTask(id: string, close: CareTaskClose): Promise<CareTask | null>;
  /** Newest first. */
  listTasks(filter: CareTaskFilter): Promise<CareTask[]>;
  listOpenTasks(): Promise<CareTask[]>;

  /** Inserts a new outage; false when its place already has an open one. */
  insertOutage(outage: Outage): Promise<boolean>;
  saveOutage(outage: Outage): Promise<void>;
  getOutage(id: string): Promise<Outage | null>;
  listOutages(filter: OutageFilter): Promise<Outage[]>;
  listOpenOutages(): Promise<Outage[]>;

  /** Records a digest run by key (e.g. `digest:2026-11-27:08:30:w-01`). True only for the first caller, ever. */
  claimDigestRun(key: string, at: number): Promise<boolean>;
  hasDigestRun(key: string): Promise<boolean>;
  /** When the latest digest run was recorded, leaving out the runs whose key starts with `exceptPrefix`; null when none. */
  lastDigestRunAt(exceptPrefix: string): Promise<number | null>;
}
