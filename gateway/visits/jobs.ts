// Scheduled visit work: the evening reminder per volunteer (once per day and volunteer, ever) and the missed-visit sweep.
import { ACTIVE_STATES, type Resident, type SmsContext, type Volunteer, type Worker } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import type { Store } from '../storage/ports.js';
import { distanceM } from '../paging/selection.js';
import { isOnDuty } from '../paging/shifts.js';
import { missedNotice, reminderText, type ReminderItem } from './messages.js';
import { blankRecord } from './occurrences.js';
import { reminderMinutes, type VisitCoreDeps, type VisitSchedule } from './schedule.js';
import { addDays, formatDate, hhmm, localDate, localParts, startOfDay, weekdayOf, type CivilDate } from '../core/time.js';
import { MINUTE_MS, type Occurrence } from './types.js';

export interface JobsDeps extends VisitCoreDeps {
  /** The jobs also read the phone's latest page, so a reminder never takes over a live incident's reply context. */
  store: VisitCoreDeps['store'] & Pick<Store, 'sms' | 'incidents'>;
  schedule: VisitSchedule;
  sms: SmsQueue;
  /** A signed link to the volunteer's page, valid until `expiresAt`; added to the reminder when present. */
  volunteerLink?: (volunteerId: string, expiresAt: number) => string;
}

export function reminderKey(day: CivilDate, volunteerId: string): string {
  return `reminder:${formatDate(day)}:${volunteerId}`;
}

export class VisitJobs {
  constructor(private readonly deps: JobsDeps) {}

  /**
   * Reminders that are due: tomorrow's once the local reminder time has passed today and, with `catchUp` (at start),
   * today's too, in case the gateway was down last evening. Only visits still ahead are listed.
   */
  async remindersDue(opts: { catchUp: boolean }): Promise<number> {
    const { clock, timeZone, settings } = this.deps;
    const now = clock.now();
    const today = localDate(now, timeZone);
    const parts = localParts(now, timeZone);
    let sent = 0;
    if (opts.catchUp) sent += await this.sendReminders(today, '今天');
    if (parts.hour * 60 + parts.minute >= reminderMinutes(settings.reminderTime))
      sent += await this.sendReminders(addDays(today, 1), '明天');
    return sent;
  }

  /** One SMS per volunteer listing the day's visits that will take place and are still ahead; returns how many were sent. */
  async sendReminders(day: CivilDate, label: '今天' | '明天'): Promise<number> {
    const { store, clock, timeZone, log } = this.deps;
    const now = clock.now();
    const occurrences = (
      await this.deps.schedule.occurrencesBetween(startOfDay(day, timeZone), startOfDay(addDays(day, 1), timeZone))
    ).filter((o) => o.status === 'scheduled' && o.start > now);
    if (occurrences.length === 0) return 0;
    const byVolunteer = groupBy(occurrences, (o) => o.volunteer);
    const volunteers = new Map((await store.registry.listVolunteers()).map((v) => [v.id, v]));
    const residents = new Map((await store.registry.listResidents()).map((r) => [r.id, r]));
    let sent = 0;
    for (const [volunteerId, list] of byVolunteer) {
      const volunteer = volunteers.get(volunteerId);
      const first = list[0];
      if (!volunteer || !first) continue;
      const items = list.map((o): ReminderItem => {
        const r = residents.get(o.resident);
        return { time: hhmm(o.start, timeZone), residentName: r?.name ?? o.resident, address: r?.address ?? '', activity: o.plan.activity };
      });
      // The link lasts until the end of the visit day: it is a credential, so it should not outlive its purpose.
      const link = this.deps.volunteerLink?.(volunteerId, startOfDay(addDays(day, 1), timeZone));
      const intent = reminderText({ ...day, weekday: weekdayOf(day) }, label, items, link);
      const key = reminderKey(day, volunteerId);
      // The run key and the SMS are committed together: a crash leaves both or neither, and a restart never sends twice.
      const done = await store.transaction(async () => {
        if (!(await store.visits.claimRun(key, now))) return false;
        const context = await this.replyContext(volunteer, { kind: 'visit', visitId: first.plan.id, occurrenceStart: first.start });
        await this.deps.sms.enqueue({
          to: volunteer.phone,
          intent,
          priority: 'routine',
          purpose: 'notice',
          incidentId: null,
          step: null,
          role: null,
          personId: volunteerId,
          context,
        });
        return true;
      });
      if (done) {
        sent++;
        log.info({ key, visits: list.length }, 'visit reminder sent');
      }
    }
    return sent;
  }

  /**
   * Occurrences whose missed-visit moment (start + missedAfterMinutes) passed within the alert window and that
   * nobody checked in to: recorded as missed once, and the team leader and the resident's grid worker told.
   */
  async sweepMissed(): Promise<number> {
    const { store, clock, settings, log } = this.deps;
    const now = clock.now();
    const missedAfter = settings.missedAfterMinutes * MINUTE_MS;
    const from = now - missedAfter - settings.missedAlertWindowMinutes * MINUTE_MS;
    const candidates = (await this.deps.schedule.occurrencesBetween(from, now - missedAfter + 1)).filter(
      (o) => o.status === 'missed' && !o.record?.missedAt && !o.record?.reassignedFrom && !o.record?.doorUnansweredAt,
    );
    let alerted = 0;
    for (const o of candidates) {
      const claimed = await store.transaction(async () => {
        if (!(await store.visits.claimMissed({ ...(o.record ?? blankRecord(o, now)), missedAt: now, updatedAt: now }))) return false;
        await this.notifyMissed(o);
        return true;
      });
      if (claimed) {
        alerted++;
        log.warn({ visit: o.plan.id, start: o.start, volunteer: o.volunteer }, 'visit missed');
      }
    }
    return alerted;
  }

  private async notifyMissed(o: Occurrence): Promise<void> {
    const { store, timeZone, settings } = this.deps;
    const volunteers = await store.registry.listVolunteers();
    const volunteer = volunteers.find((v) => v.id === o.volunteer);
    const resident = await store.registry.getResident(o.resident);
    const intent = missedNotice({
      volunteerName: volunteer?.name ?? o.volunteer,
      residentName: resident?.name ?? o.resident,
      address: resident?.address ?? '',
      time: hhmm(o.start, timeZone),
      activity: o.plan.activity,
      minutes: settings.missedAfterMinutes,
    });
    const told = new Set<string>();
    // Notices carry no reply context: a worker's next "1" still answers the incident page it was meant for.
    const send = async (to: string, personId: string, role: 'worker' | null) => {
      if (told.has(to)) return;
      told.add(to);
      await this.deps.sms.enqueue({
        to,
        intent,
        priority: 'routine',
        purpose: 'notice',
        incidentId: null,
        step: null,
        role,
        personId,
        context: null,
      });
    };
    for (const leader of teamLeaders(volunteers, volunteer)) await send(leader.phone, leader.id, null);
    const worker = resident ? gridWorker(resident, await store.registry.listWorkers(), this.deps.clock.now(), timeZone) : null;
    if (worker) await send(worker.phone, worker.id, 'worker');
  }

  /** Visit context, unless the phone's latest page is for an incident still active: its "1" must keep reaching it. */
  private async replyContext(volunteer: Volunteer, context: SmsContext): Promise<SmsContext | null> {
    const latest = await this.deps.store.sms.latestWithContextTo(volunteer.phone);
    if (latest?.context?.kind !== 'incident') return context;
    const incident = await this.deps.store.incidents.get(latest.context.incidentId);
    return incident && ACTIVE_STATES.includes(incident.state) ? null : context;
  }
}

/** The leaders (volunteers[].leader) of the volunteer's team, the volunteer excluded. */
export function teamLeaders(volunteers: Volunteer[], volunteer: Volunteer | undefined): Volunteer[] {
  if (!volunteer?.team) return [];
  return volunteers.filter((v) => v.leader === true && v.team === volunteer.team && v.id !== volunteer.id);
}

/**
 * The resident's grid worker: the nearest worker of the resident's community, preferring one on duty now (someone
 * off duty may not read the notice until tomorrow); by id when positions are unknown.
 */
export function gridWorker(resident: Resident, workers: Worker[], now: number, timeZone: string): Worker | null {
  const home = resident.location;
  const ranked = workers
    .filter((w) => w.community === resident.community)
    .map((w) => ({ w, off: isOnDuty(w, now, timeZone) ? 0 : 1, d: home && w.location ? distanceM(home, w.location) : Infinity }))
    .sort((a, b) => a.off - b.off || a.d - b.d || (a.w.id < b.w.id ? -1 : a.w.id > b.w.id ? 1 : 0));
  return ranked[0]?.w ?? null;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
