// Device supervision's own types: care tasks as stored and shown, grouped outages, the events it emits, and its tunable settings.
import type { CareTaskKind } from '../core/types.js';

export const CARE_TASK_STATES = ['open', 'closed'] as const;
export type CareTaskState = (typeof CARE_TASK_STATES)[number];

/** A non-urgent piece of care work for the resident's grid worker. */
export interface CareTask {
  id: string;
  kind: CareTaskKind;
  state: CareTaskState;
  residentId: string;
  /** The device concerned; null for resident-level tasks (a wellness check). */
  deviceId: string | null;
  communityId: string;
  /** The resident's grid worker at the time the task opened; null when the community has no worker. */
  workerId: string | null;
  detail: Record<string, unknown> | null;
  openedAt: number;
  closedAt: number | null;
  /** 'system' when the condition cleared by itself, else the person who closed it by hand. */
  closedBy: string | null;
  /** Why it closed: the cleared condition, or 'closed by hand'. */
  closeReason: string | null;
  /** The note of a hand close. */
  closeNote: string | null;
  updatedAt: number;
}

export interface CareTaskFilter {
  state?: CareTaskState;
  communityId?: string;
  workerId?: string;
  limit?: number;
}

/** `bridge`: the devices behind one zigbee2mqtt coordinator (or other bridge) that went away together. */
export type OutagePlaceKind = 'building' | 'community' | 'bridge';

/** A place whose devices can drop together: one building of a community, the whole community, or one bridge. */
export interface OutagePlace {
  kind: OutagePlaceKind;
  /** `building:<community>:<building>`, `community:<community>` or `bridge:<bridge id>`; at most one open outage per key. */
  key: string;
  communityId: string;
  /** The building (e.g. "安达里3号楼") for a building outage; null for a community one. */
  building: string | null;
}

export interface OutageDevice {
  deviceId: string;
  residentId: string;
  droppedAt: number;
  /** When it came back; null while it is still offline. */
  backAt: number | null;
}

/** Who was paged for an outage, once, when it opened. */
export interface OutagePage {
  role: 'worker' | 'duty_contact';
  personId: string;
  smsId: string;
}

/**
 * How an outage ended: enough devices came back (`recovered`), a community outage took it in (`merged`), it stayed
 * open past the stale limit (`partially_recovered`), or a person closed it (`closed_by_hand`).
 */
export const OUTAGE_CLOSE_REASONS = ['recovered', 'merged', 'partially_recovered', 'closed_by_hand'] as const;
export type OutageCloseReason = (typeof OUTAGE_CLOSE_REASONS)[number];

/** Many devices of one place offline together (a power cut, a broadband outage): one record instead of many tasks. */
export interface Outage {
  id: string;
  place: OutagePlace;
  devices: OutageDevice[];
  openedAt: number;
  closedAt: number | null;
  /** Filled when it closes: how many came back, how long it lasted, who was still offline. */
  summary: string | null;
  page: OutagePage | null;
  // Optional (added with the hand and stale closes) so outages built elsewhere before them still type-check; absent = null.
  /** 'system' for a close by rule, else the person who closed it by hand; null while open. */
  closedBy?: string | null;
  closeReason?: OutageCloseReason | null;
  /** The note of a hand close. */
  closeNote?: string | null;
  updatedAt: number;
}

export interface OutageFilter {
  state?: 'open' | 'closed';
  communityId?: string;
  limit?: number;
}

export interface SupervisionSettings {
  /** How often the offline-timeout sweep runs; by default offlineAfterSeconds / 15, between 5 s and 60 s. */
  sweepIntervalMs: number | null;
  /** Telemetry or event battery (percent) below this opens a low-battery task. */
  lowBatteryPercent: number;
  /** A low-battery task closes by itself once the battery reads at least this (a fresh battery), not at 20.1 %. */
  batteryReplacedPercent: number;
  /** Drops counted together for a storm, and how long a device-offline task waits for a storm to absorb it. */
  stormWindowMs: number;
  /** A storm needs at least this many devices of the place offline within the window... */
  stormMinDevices: number;
  /** ...and at least this share of the place's reporting devices. */
  stormMinShare: number;
  /** An outage closes once this share of its devices is back. */
  outageRecoveredShare: number;
  /** An outage still open this long after it opened closes as partially recovered; its devices still down get tasks. */
  outageStaleMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionSettings = {
  sweepIntervalMs: null,
  lowBatteryPercent: 20,
  batteryReplacedPercent: 50,
  stormWindowMs: 120_000,
  stormMinDevices: 5,
  stormMinShare: 0.5,
  outageRecoveredShare: 0.8,
  outageStaleMs: 6 * 60 * 60 * 1000,
};

/** Digest times when the registry has no `careDigest.times`. */
export const DEFAULT_DIGEST_TIMES = ['08:30', '17:30'] as const;
/** Settings key under which the registry import keeps `careDigest` (JSON of `{ times: string[] }`). */
export const CARE_DIGEST_SETTING = 'care_digest';
