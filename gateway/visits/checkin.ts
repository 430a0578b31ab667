// Volunteers' SMS replies to visit reminders: 到/D checks in, 走/Z checks out, 没人 raises the alarm for an unanswered door.
import { errorMessage } from '../core/errors.js';
import type { InboundSms, MessageIntent, Volunteer } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import type { VolunteerLedger } from './ledger.js';
import {
  REPLY_NO_VISIT_TODAY,
  REPLY_NOT_A_VOLUNTEER,
  REPLY_NOT_CHECKED_IN,
  REPLY_VISIT_HELP,
  replyAlreadyCheckedIn,
  replyCheckedIn,
  replyCheckedOut,
  replyDoorUnanswered,
  replyTooEarly,
} from './messages.js';
import { blankRecord } from './occurrences.js';
import type { VisitCoreDeps, VisitSchedule } from './schedule.js';
import { addDays, hhmm, localDate, startOfDay } from '../core/time.js';
import { MINUTE_MS, type Occurrence, type OccurrenceRecord } from './types.js';

export interface CheckInDeps extends VisitCoreDeps {
  schedule: VisitSchedule;
  ledger: VolunteerLedger;
  sms: SmsQueue;
  /** The volunteer found nobody answering the door: the lead connects this to the alarm path. */
  onDoorUnanswered(residentId: string, volunteerId: string): Promise<void>;
  /** A check-in was recorded: a sign of life for the resident (the inactivity monitor listens). */
  onCheckIn?(residentId: string, at: number): void | Promise<void>;
}

export type VisitCommand = 'check_in' | 'check_out' | 'door_unanswered' | 'help';

/** Reads an already normalised reply (NFKC, trimmed, upper case; see normaliseReply). */
export function visitCommand(command: string): VisitCommand {
  if (command === '到' || command === 'D') return 'check_in';
  if (command === '走' || command === 'Z') return 'check_out';
  if (command === '没人' || command === '无人' || command === '没有人') return 'door_unanswered';
  return 'help';
}

export class VisitReplies {
  constructor(private readonly deps: CheckInDeps) {}

  /** The ReplyRouter handler for the 'visit' context; returns how the reply was handled, for the SMS log. */
  async handle(sms: InboundSms, command: string): Promise<string> {
    const volunteer = (await this.deps.store.registry.listVolunteers()).find((v) => v.phone === sms.from);
    if (!volunteer) {
      await this.reply(sms.from, REPLY_NOT_A_VOLUNTEER, null);
      return 'visit_unknown_phone';
    }
    const what = visitCommand(command);
    switch (what) {
      case 'check_in':
        return this.checkIn(volunteer);
      case 'check_out':
        return this.checkOut(volunteer);
      case 'door_unanswered':
        return this.doorUnanswered(volunteer);
      case 'help':
        await this.reply(volunteer.phone, REPLY_VISIT_HELP, volunteer.id);
        return 'visit_help';
    }
  }

  private async checkIn(volunteer: Volunteer): Promise<string> {
    const outcome = await this.deps.store.transaction(async () => {
      const current = await this.checkedInToday(volunteer.id);
      if (current) return { handled: 'visit_already_checked_in', text: replyAlreadyCheckedIn(await this.residentName(current.residentId)) };
      const found = await this.openOccurrence(volunteer.id);
      if ('text' in found) return found;
      const now = this.deps.clock.now();
      const o = found.occurrence;
      await this.deps.store.visits.saveRecord({
        ...(o.record ?? blankRecord(o, now)),
        status: 'checked_in',
        checkedInAt: now,
        updatedAt: now,
      });
      this.deps.log.info({ visit: o.plan.id, start: o.start, volunteer: volunteer.id }, 'visit checked in');
      return {
        handled: 'visit_check_in',
        text: replyCheckedIn(await this.residentName(o.resident), o.plan.activity),
        checkedIn: { residentId: o.resident, at: now },
      };
    });
    // After the commit, and never for 没人: a volunteer at a door nobody opens has seen no sign of life.
    if ('checkedIn' in outcome && outcome.checkedIn) await this.signOfLife(outcome.checkedIn.residentId, outcome.checkedIn.at);
    await this.reply(volunteer.phone, outcome.text, volunteer.id);
    return outcome.handled;
  }

  private async checkOut(volunteer: Volunteer): Promise<string> {
    const outcome = await this.deps.store.transaction(async () => {
      const open = await this.deps.store.visits.listCheckedIn(volunteer.id);
      const latest = open[open.length - 1];
      if (!latest) return { handled: 'visit_not_checked_in', text: REPLY_NOT_CHECKED_IN };
      const now = this.deps.clock.now();
      const credited = await this.deps.ledger.creditCheckOut({ ...latest, status: 'done', checkedOutAt: now, updatedAt: now });
      this.deps.log.info(
        { visit: latest.visitId, start: latest.start, volunteer: volunteer.id, hours: credited.hours },
        'visit checked out',
      );
      return { handled: 'visit_check_out', text: replyCheckedOut(credited.hours, credited.points) };
    });
    await this.reply(volunteer.phone, outcome.text, volunteer.id);
    return outcome.handled;
  }

  /** Checks the volunteer in (they are at the door) and raises the alarm once per occurrence. */
  private async doorUnanswered(volunteer: Volunteer): Promise<string> {
    const outcome = await this.deps.store.transaction(async () => {
      const now = this.deps.clock.now();
      let record: OccurrenceRecord | null = await this.checkedInToday(volunteer.id);
      if (!record) {
        const found = await this.openOccurrence(volunteer.id);
        if ('text' in found) return { ...found, alarm: null };
        const o = found.occurrence;
        record = { ...(o.record ?? blankRecord(o, now)), status: 'checked_in', checkedInAt: now };
      }
      const first = record.doorUnansweredAt === null;
      await this.deps.store.visits.saveRecord({ ...record, doorUnansweredAt: record.doorUnansweredAt ?? now, updatedAt: now });
      const text = replyDoorUnanswered(await this.residentName(record.residentId));
      return { handled: 'visit_door_unanswered', text, alarm: first ? record.residentId : null };
    });
    if (outcome.alarm) {
      this.deps.log.warn({ resident: outcome.alarm, volunteer: volunteer.id }, 'visit: nobody answers the door');
      // After the commit: the alarm path runs its own transactions.
      await this.deps.onDoorUnanswered(outcome.alarm, volunteer.id).catch((err: unknown) => {
        this.deps.log.error({ err: errorMessage(err), resident: outcome.alarm }, 'door-unanswered alarm could not be raised');
      });
    }
    await this.reply(volunteer.phone, outcome.text, volunteer.id);
    return outcome.handled;
  }

  private async signOfLife(residentId: string, at: number): Promise<void> {
    try {
      await this.deps.onCheckIn?.(residentId, at);
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err), resident: residentId }, 'check-in could not be passed on as a sign of life');
    }
  }

  private async checkedInToday(volunteerId: string): Promise<OccurrenceRecord | null> {
    const { from } = this.today();
    const open = (await this.deps.store.visits.listCheckedIn(volunteerId)).filter((r) => r.start >= from);
    return open[open.length - 1] ?? null;
  }

  /**
   * The volunteer's earliest occurrence today that is not over, not settled, and starts within the check-in
   * window; a missed one still takes a late check-in. Otherwise the text telling them why not.
   */
  private async openOccurrence(volunteerId: string): Promise<{ occurrence: Occurrence } | { handled: string; text: MessageIntent }> {
    const now = this.deps.clock.now();
    const { from, to } = this.today();
    const mine = (await this.deps.schedule.occurrencesBetween(from, to)).filter(
      (o) => o.volunteer === volunteerId && (o.status === 'scheduled' || o.status === 'missed') && o.end > now,
    );
    const early = this.deps.settings.checkInEarlyMinutes;
    const open = mine.find((o) => o.start - early * MINUTE_MS <= now);
    if (open) return { occurrence: open };
    const later = mine[0];
    if (later)
      return {
        handled: 'visit_too_early',
        text: replyTooEarly(hhmm(later.start, this.deps.timeZone), await this.residentName(later.resident), early),
      };
    return { handled: 'visit_nothing_today', text: REPLY_NO_VISIT_TODAY };
  }

  private today(): { from: number; to: number } {
    const { timeZone, clock } = this.deps;
    const day = localDate(clock.now(), timeZone);
    return { from: startOfDay(day, timeZone), to: startOfDay(addDays(day, 1), timeZone) };
  }

  private async residentName(id: string): Promise<string> {
    return (await this.deps.store.registry.getResident(id))?.name ?? '老人';
  }

  /** Replies carry no context, so they never change how the phone's next reply is routed. */
  private async reply(to: string, intent: MessageIntent, volunteerId: string | null): Promise<void> {
    await this.deps.sms.enqueue({
      to,
      intent,
      priority: 'routine',
      purpose: 'help',
      incidentId: null,
      step: null,
      role: null,
      personId: volunteerId,
      context: null,
    });
  }
}
