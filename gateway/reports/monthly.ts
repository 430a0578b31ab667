// Monthly service reports per community, computed from the store's report read model: alarms, response times, false alarms, devices online, visits.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { DeviceHealth, IncidentType } from '../core/types.js';
import { localDate } from '../core/time.js';
import type { MonthlyReportReads } from './read-model.js';
import {
  addMonths,
  bucketize,
  formatMonth,
  monthBounds,
  parseMonth,
  seconds,
  share,
  summarise,
  type Bucket,
  type Summary,
} from './stats.js';

export const INCIDENT_TYPES: readonly IncidentType[] = ['sos', 'fall', 'door_unanswered', 'inactivity'];

export interface MonthlyReport {
  month: string;
  /** Null: every community together. */
  community: string | null;
  communityName: string | null;
  timeZone: string;
  /** Local month bounds, ISO 8601 (UTC). */
  from: string;
  to: string;
  alarms: { total: number; byType: Record<IncidentType, number> };
  /** Alarm (incident opened) → first SMS page, seconds. A fall's 30 s cancel window is part of it. */
  firstPage: Summary;
  /**
   * Alarm → acknowledgement, seconds, over incidents that were paged. The shares count acknowledgements within 60 s
   * and 180 s of the alarm against every paged incident (one never acknowledged counts as "not within").
   */
  acknowledge: Summary & {
    paged: number;
    acknowledged: number;
    within60s: number | null;
    within180s: number | null;
    distribution: Bucket[];
  };
  /** Alarm → responder on site, seconds; null when no incident of the month has an on-site time recorded. */
  onSite: Summary | null;
  /** Cancelled before anyone was paged (the resident's `cancel` within the fall-cancel window), against all alarms. */
  falseAlarms: { cancelled: number; share: number | null };
  /** A snapshot now (devices have no monthly history); null in trend rows. */
  devices: { total: number; online: number; share: number | null; asOf: string } | null;
  /** Visit occurrences that started in the month with a recorded outcome. `checkedIn`: checked in, never checked out. */
  visits: { done: number; missed: number; checkedIn: number; cancelled: number };
}

export interface ReportDeps {
  reads: MonthlyReportReads;
  clock: Clock;
  timeZone: string;
  /** Live device health (the ingest's in-memory view); without it the flushed device_health rows are read. */
  deviceHealth?: (deviceId: string) => DeviceHealth | null;
}

export class MonthlyReports {
  constructor(private readonly deps: ReportDeps) {}

  /** The report of one local month ("YYYY-MM") for one community, or for all when community is null. */
  async monthly(monthText: string, community: string | null): Promise<MonthlyReport> {
    const month = parseMonth(monthText);
    if (!month) throw new GatewayError('GW_ERR_BAD_REQUEST', `month must be "YYYY-MM", got "${monthText}"`);
    return this.compute(formatMonth(month), community, true);
  }

  /** One report per community (the ones with residents), for the CSV and the per-community table. */
  async monthlyByCommunity(monthText: string): Promise<MonthlyReport[]> {
    const month = parseMonth(monthText);
    if (!month) throw new GatewayError('GW_ERR_BAD_REQUEST', `month must be "YYYY-MM", got "${monthText}"`);
    const out: MonthlyReport[] = [];
    for (const c of await this.communities()) out.push(await this.compute(formatMonth(month), c.id, true));
    return out;
  }

  /** `months` monthly rows ending with `endMonth` (default: the current local month), oldest first; no device snapshot. */
  async trend(community: string | null, months = 12, endMonth?: string): Promise<MonthlyReport[]> {
    const end = endMonth ? parseMonth(endMonth) : { ...localDate(this.deps.clock.now(), this.deps.timeZone), day: 1 };
    if (!end) throw new GatewayError('GW_ERR_BAD_REQUEST', `to must be "YYYY-MM", got "${endMonth ?? ''}"`);
    if (!Number.isInteger(months) || months < 1 || months > 36) throw new GatewayError('GW_ERR_BAD_REQUEST', 'months must be 1..36');
    const out: MonthlyReport[] = [];
    for (let i = months - 1; i >= 0; i--) out.push(await this.compute(formatMonth(addMonths(end, -i)), community, false));
    return out;
  }

  /** The communities the registry knows, by id. */
  communities(): Promise<{ id: string; name: string }[]> {
    return this.deps.reads.communities();
  }

  private async compute(monthText: string, community: string | null, withDevices: boolean): Promise<MonthlyReport> {
    const month = parseMonth(monthText);
    if (!month) throw new GatewayError('GW_ERR_BAD_REQUEST', `month must be "YYYY-MM", got "${monthText}"`);
    const { from, to } = monthBounds(month, this.deps.timeZone);
    const incidents = await this.deps.reads.incidentsOpened(from, to, community);

    const byType = Object.fromEntries(INCIDENT_TYPES.map((t) => [t, 0])) as Record<IncidentType, number>;
    for (const i of incidents) if (i.type in byType) byType[i.type as IncidentType]++;

    const paged = incidents.filter((i) => i.firstPagedAt !== null);
    const firstPage = paged.map((i) => seconds(i.openedAt, i.firstPagedAt)).filter(isNumber);
    const ack = paged.map((i) => seconds(i.openedAt, i.acknowledgedAt)).filter(isNumber);
    const onSite = incidents.map((i) => seconds(i.openedAt, i.onSiteAt)).filter(isNumber);
    const cancelled = incidents.filter((i) => i.state === 'cancelled').length;

    return {
      month: monthText,
      community,
      communityName: community === null ? null : ((await this.communities()).find((c) => c.id === community)?.name ?? null),
      timeZone: this.deps.timeZone,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      alarms: { total: incidents.length, byType },
      firstPage: summarise(firstPage),
      acknowledge: {
        ...summarise(ack),
        paged: paged.length,
        acknowledged: ack.length,
        within60s: share(ack.filter((s) => s <= 60).length, paged.length),
        within180s: share(ack.filter((s) => s <= 180).length, paged.length),
        distribution: bucketize(ack),
      },
      onSite: onSite.length > 0 ? summarise(onSite) : null,
      falseAlarms: { cancelled, share: share(cancelled, incidents.length) },
      devices: withDevices ? await this.devices(community) : null,
      visits: await this.visits(from, to, community),
    };
  }

  private async devices(community: string | null): Promise<MonthlyReport['devices']> {
    const rows = await this.deps.reads.deviceStates(community);
    const live = this.deps.deviceHealth;
    const online = rows.filter((r) => (live ? (live(r.id)?.state ?? r.state) : r.state) === 'online').length;
    return { total: rows.length, online, share: share(online, rows.length), asOf: new Date(this.deps.clock.now()).toISOString() };
  }

  private async visits(from: number, to: number, community: string | null): Promise<MonthlyReport['visits']> {
    const rows = await this.deps.reads.visitOutcomes(from, to, community);
    const count = (status: string) => rows.find((r) => r.status === status)?.count ?? 0;
    return { done: count('done'), missed: count('missed'), checkedIn: count('checked_in'), cancelled: count('cancelled') };
  }
}

function isNumber(v: number | null): v is number {
  return v !== null;
}
