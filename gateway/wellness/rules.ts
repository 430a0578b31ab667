// Pure inactivity rules: who is watched, what counts as a sign of life, and when a wellness check becomes a page.
import type { EventType, Resident, WakingHours } from '../core/types.js';
import { wakingHoursOf } from './waking.js';

export const HOUR_MS = 3_600_000;

/**
 * Device events that show the resident is alive: movement, and a person pressing a button (`sos`, or
 * `cancel` on any fixture). A `fall` is not one: a fall followed by stillness is exactly what must stay
 * visible. Heartbeats and batteries speak for the device, not the person.
 */
export const SIGN_OF_LIFE_EVENTS: readonly EventType[] = ['motion', 'sos', 'cancel'];

export type SignSource = 'motion' | 'button' | 'check_in';

export function signSourceOf(type: EventType): SignSource | null {
  if (type === 'motion') return 'motion';
  if (type === 'sos' || type === 'cancel') return 'button';
  return null;
}

/** What the monitor watches for one resident, derived from the registry on each sweep. */
export interface Watch {
  residentId: string;
  /** Waking hours without a sign of life before a wellness-check task opens. */
  taskHours: number;
  /** Waking hours before a grid worker is paged: twice taskHours, or taskHours for a high-risk resident. */
  pageHours: number;
  waking: WakingHours;
}

/** Residents with `inactivityHours` are watched; others have no sensor to judge by and are not. */
export function watchOf(resident: Resident): Watch | null {
  const hours = resident.inactivityHours;
  if (hours === undefined || !(hours > 0)) return null;
  return { residentId: resident.id, taskHours: hours, pageHours: inactivityPageHours(resident) ?? hours, waking: wakingHoursOf(resident) };
}

/** Hours without a sign of life at which the alarm path pages; null for a resident who is not watched. */
export function inactivityPageHours(resident: Pick<Resident, 'inactivityHours' | 'highRisk'>): number | null {
  const hours = resident.inactivityHours;
  if (hours === undefined || !(hours > 0)) return null;
  return resident.highRisk ? hours : 2 * hours;
}

/** What the monitor should have done for a resident, given the waking time counted without a sign of life. */
export interface Wanted {
  task: boolean;
  page: boolean;
}

export function wanted(inactiveMs: number, watch: Watch): Wanted {
  return { task: inactiveMs >= watch.taskHours * HOUR_MS, page: inactiveMs >= watch.pageHours * HOUR_MS };
}
