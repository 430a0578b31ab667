// The duty roster: who is on duty now and each day of a week, read from the workers' shifts the way paging reads them.
import type { Community, Contact, Weekday, Worker } from '../core/types.js';
import { WEEKDAYS } from '../core/types.js';
import { isOnDuty, parseHhmm } from '../paging/shifts.js';
import { addDays, formatDate, localDate, weekdayOf, type CivilDate } from '../core/time.js';

export interface RosterShift {
  worker: string;
  name: string;
  community: string;
  /** Local "HH:MM". */
  from: string;
  to: string;
  /** Ends the next day (`to` not after `from`); "00:00"–"00:00" is round the clock. */
  overnight: boolean;
}

export interface RosterDay {
  date: string;
  weekday: Weekday;
  shifts: RosterShift[];
}

export interface Roster {
  now: string;
  timeZone: string;
  onDutyNow: { worker: string; name: string; community: string; phone: string }[];
  /** Workers with no shift at all: never paged except as the last round. */
  neverOnDuty: { worker: string; name: string; community: string }[];
  /** The station duty phones paged after the first three workers (or first when nobody is on duty). */
  dutyContacts: { community: string; contacts: Contact[] }[];
  week: RosterDay[];
}

/** Monday of the local week that contains `ms`. */
export function mondayOf(ms: number, timeZone: string): CivilDate {
  const today = localDate(ms, timeZone);
  return addDays(today, -((weekdayOf(today) + 6) % 7));
}

export function buildRoster(input: {
  workers: Worker[];
  communities: Community[];
  now: number;
  timeZone: string;
  weekStart: CivilDate;
}): Roster {
  const { workers, communities, now, timeZone, weekStart } = input;
  const byId = [...workers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const week: RosterDay[] = [];
  for (let i = 0; i < 7; i++) {
    const date = addDays(weekStart, i);
    const weekday = WEEKDAYS[weekdayOf(date)] ?? 'sun';
    const shifts: RosterShift[] = [];
    for (const w of byId) {
      for (const s of w.shifts) {
        if (!s.days.includes(weekday)) continue;
        shifts.push({
          worker: w.id,
          name: w.name,
          community: w.community,
          from: s.from,
          to: s.to,
          overnight: parseHhmm(s.to) <= parseHhmm(s.from),
        });
      }
    }
    shifts.sort((a, b) => parseHhmm(a.from) - parseHhmm(b.from) || (a.worker < b.worker ? -1 : 1));
    week.push({ date: formatDate(date), weekday, shifts });
  }
  return {
    now: new Date(now).toISOString(),
    timeZone,
    onDutyNow: byId
      .filter((w) => isOnDuty(w, now, timeZone))
      .map((w) => ({ worker: w.id, name: w.name, community: w.community, phone: w.phone })),
    neverOnDuty: byId.filter((w) => w.shifts.length === 0).map((w) => ({ worker: w.id, name: w.name, community: w.community })),
    dutyContacts: communities.filter((c) => (c.dutyContacts ?? []).length > 0).map((c) => ({ community: c.id, contacts: c.dutyContacts })),
    week,
  };
}
