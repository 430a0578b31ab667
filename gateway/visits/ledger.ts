// Service hours and points: credit at check-out (capped), coordinator corrections, redemptions, the ledger and a monthly CSV.
import { GatewayError } from '../core/errors.js';
import type { Volunteer } from '../core/types.js';
import { blankRecord, toView } from './occurrences.js';
import { badRequest, type VisitCoreDeps, type VisitSchedule } from './schedule.js';
import { formatDate, isoLocal, localDate } from '../core/time.js';
import { MINUTE_MS, type LedgerEntry, type OccurrenceRecord, type OccurrenceView } from './types.js';

export interface LedgerEntryView {
  id: number;
  at: string;
  /** The local day the entry counts for. */
  date: string;
  kind: LedgerEntry['kind'];
  visit: string | null;
  occurrenceStart: string | null;
  hours: number;
  points: number;
  /** Points after this entry. */
  balance: number;
  note: string | null;
  by: string;
}

export interface LedgerView {
  volunteer: string;
  name: string;
  pointsPerHour: number;
  hours: number;
  balance: number;
  entries: LedgerEntryView[];
}

export interface LedgerDeps extends VisitCoreDeps {
  schedule: VisitSchedule;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Hours from check-in to check-out, capped at the scheduled duration plus the allowed overtime. */
export function serviceHours(
  record: Pick<OccurrenceRecord, 'start' | 'end' | 'checkedInAt' | 'checkedOutAt'>,
  overtimeCapMinutes: number,
): number {
  if (record.checkedInAt === null || record.checkedOutAt === null) return 0;
  const worked = Math.max(0, record.checkedOutAt - record.checkedInAt);
  const cap = record.end - record.start + overtimeCapMinutes * MINUTE_MS;
  return round2(Math.min(worked, cap) / 3_600_000);
}

export class VolunteerLedger {
  constructor(private readonly deps: LedgerDeps) {}

  private get repo() {
    return this.deps.store.visits;
  }

  /** Credits a checked-out occurrence (call inside the check-out transaction); returns what was credited. */
  async creditCheckOut(record: OccurrenceRecord): Promise<{ hours: number; points: number; record: OccurrenceRecord }> {
    const hours = serviceHours(record, this.deps.settings.overtimeCapMinutes);
    const points = round2(hours * this.deps.settings.pointsPerHour);
    const credited = { ...record, creditedHours: round2(record.creditedHours + hours) };
    await this.repo.saveRecord(credited);
    await this.repo.addLedgerEntry({
      volunteerId: record.volunteerId,
      at: this.deps.clock.now(),
      serviceDate: formatDate(localDate(record.start, this.deps.timeZone)),
      kind: 'visit',
      visitId: record.visitId,
      occurrenceStart: record.start,
      hours,
      points,
      note: null,
      actor: 'sms',
    });
    return { hours, points, record: credited };
  }

  /** A coordinator sets the hours of one occurrence; the ledger gets the difference as a correction. */
  async correct(visitId: string, startText: string, hours: number, note: string | null, by: string): Promise<OccurrenceView> {
    if (!Number.isFinite(hours) || hours < 0 || hours > 24) throw badRequest('hours must be a number from 0 to 24');
    return this.deps.store.transaction(async () => {
      const o = await this.deps.schedule.occurrence(visitId, startText);
      if (o.status === 'cancelled') throw badRequest('that occurrence is cancelled; it has no hours to correct');
      if (o.start > this.deps.clock.now()) throw badRequest('that occurrence has not started yet');
      const now = this.deps.clock.now();
      const base = o.record ?? blankRecord(o, now);
      const delta = round2(hours - base.creditedHours);
      if (delta === 0) throw badRequest(`that occurrence already has ${hours} hours`);
      // A correction settles the occurrence: the coordinator says the visit took place.
      const status = hours > 0 || base.status === 'checked_in' ? 'done' : base.status;
      const record: OccurrenceRecord = { ...base, status, creditedHours: round2(hours), note: note ?? base.note, updatedAt: now };
      await this.repo.saveRecord(record);
      await this.repo.addLedgerEntry({
        volunteerId: record.volunteerId,
        at: now,
        serviceDate: formatDate(localDate(record.start, this.deps.timeZone)),
        kind: 'correction',
        visitId: record.visitId,
        occurrenceStart: record.start,
        hours: delta,
        points: round2(delta * this.deps.settings.pointsPerHour),
        note,
        actor: by,
      });
      return toView({ ...o, status: record.status, record }, this.deps.timeZone);
    });
  }

  async redeem(volunteerId: string, points: number, note: string, by: string): Promise<LedgerEntryView> {
    if (!Number.isFinite(points) || points <= 0) throw badRequest('points must be a positive number');
    if (round2(points) !== points) throw badRequest('points may have at most two decimals');
    return this.deps.store.transaction(async () => {
      await this.volunteer(volunteerId);
      const entries = await this.repo.listLedger(volunteerId);
      const balance = entries.reduce((b, e) => round2(b + e.points), 0);
      if (points > balance) throw badRequest(`volunteer ${volunteerId} has ${balance} points; cannot redeem ${points}`);
      const now = this.deps.clock.now();
      const entry = await this.repo.addLedgerEntry({
        volunteerId,
        at: now,
        serviceDate: formatDate(localDate(now, this.deps.timeZone)),
        kind: 'redemption',
        visitId: null,
        occurrenceStart: null,
        hours: 0,
        points: -points,
        note,
        actor: by,
      });
      return this.entryView(entry, round2(balance - points));
    });
  }

  async ledger(volunteerId: string): Promise<LedgerView> {
    const volunteer = await this.volunteer(volunteerId);
    let balance = 0;
    let hours = 0;
    const entries = (await this.repo.listLedger(volunteerId)).map((e) => {
      balance = round2(balance + e.points);
      hours = round2(hours + e.hours);
      return this.entryView(e, balance);
    });
    return { volunteer: volunteer.id, name: volunteer.name, pointsPerHour: this.deps.settings.pointsPerHour, hours, balance, entries };
  }

  /** One row per volunteer for the month "YYYY-MM": visits, hours, points earned and redeemed. */
  async hoursCsv(month: string): Promise<string> {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw badRequest(`month must be "YYYY-MM", got "${month}"`);
    const volunteers = await this.deps.store.registry.listVolunteers();
    const entries = await this.repo.listLedgerForMonth(month);
    const rows = new Map<string, { name: string; team: string; visits: number; hours: number; earned: number; redeemed: number }>();
    for (const v of volunteers) rows.set(v.id, { name: v.name, team: v.team ?? '', visits: 0, hours: 0, earned: 0, redeemed: 0 });
    for (const e of entries) {
      const row = rows.get(e.volunteerId) ?? { name: '', team: '', visits: 0, hours: 0, earned: 0, redeemed: 0 };
      rows.set(e.volunteerId, row);
      if (e.kind === 'visit') row.visits++;
      row.hours = round2(row.hours + e.hours);
      if (e.kind === 'redemption') row.redeemed = round2(row.redeemed - e.points);
      else row.earned = round2(row.earned + e.points);
    }
    const lines = [['month', 'volunteer', 'name', 'team', 'visits', 'hours', 'points_earned', 'points_redeemed'].join(',')];
    for (const [id, r] of [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      lines.push([month, id, r.name, r.team, r.visits, r.hours, r.earned, r.redeemed].map(csvField).join(','));
    }
    return `${lines.join('\r\n')}\r\n`;
  }

  private async volunteer(id: string): Promise<Volunteer> {
    const v = (await this.deps.store.registry.listVolunteers()).find((x) => x.id === id);
    if (!v) throw new GatewayError('GW_ERR_NOT_FOUND', `volunteer ${id} not found`);
    return v;
  }

  private entryView(e: LedgerEntry, balance: number): LedgerEntryView {
    const tz = this.deps.timeZone;
    return {
      id: e.id,
      at: isoLocal(e.at, tz),
      date: e.serviceDate,
      kind: e.kind,
      visit: e.visitId,
      occurrenceStart: e.occurrenceStart === null ? null : isoLocal(e.occurrenceStart, tz),
      hours: e.hours,
      points: e.points,
      balance,
      note: e.note,
      by: e.actor,
    };
  }
}

/**
 * RFC 4180 quoting; a text cell starting with = + - @ gets a leading apostrophe so a spreadsheet shows it
 * instead of running it as a formula.
 */
export function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
