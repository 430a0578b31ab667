// What the dashboard pages' routes need (reports, people lists, roster, registry editor, SMS log, a volunteer's own visits).
import type { Clock } from '../../core/clock.js';
import type { DeviceHealth, SmsProviderName } from '../../core/types.js';
import type { MonthlyReports } from '../../reports/monthly.js';
import type { ExportFormat, RegistryExport } from '../../reports/registry-export.js';
import type { SmsLogReader } from '../../reports/sms-log.js';
import type { RegistryCounts, RegistryRepo } from '../../storage/ports.js';
import type { VisitApi } from './visits.js';

export type VolunteerCommand = 'check_in' | 'check_out' | 'door_unanswered';

/** A volunteer's own check-in, check-out and "nobody answers the door", acting exactly as her SMS `到`/`走`/`没人` would. */
export interface VolunteerActions {
  /** Returns how it was handled (visit_check_in, visit_too_early, …), as the SMS path reports it. */
  act(volunteerId: string, command: VolunteerCommand): Promise<string>;
}

export interface DashboardPageDeps {
  clock: Clock;
  /** Config TZ: month bounds, the roster's week and today's visits are local to it. */
  timeZone: string;
  reports: Pick<MonthlyReports, 'monthly' | 'monthlyByCommunity' | 'trend' | 'communities'>;
  smsLog: Pick<SmsLogReader, 'list' | 'outboxCount'>;
  registry: Pick<
    RegistryRepo,
    'listCommunities' | 'listResidents' | 'listWorkers' | 'listDevices' | 'listVolunteers' | 'getResident' | 'getCommunity'
  >;
  /** Live device health (online, battery, last seen, last rejection). */
  deviceHealth(deviceId: string): DeviceHealth | null;
  exportRegistry(format: ExportFormat): Promise<RegistryExport>;
  /** Validates like REGISTRY_FILE (gateway/registry/load.ts) and imports all-or-nothing; throws GW_ERR_REGISTRY_INVALID. */
  importRegistry(doc: unknown): Promise<RegistryCounts>;
  /** 'outbox' while no Twilio credentials are configured: the SMS log then says loudly that nothing is sent. */
  smsProvider(): SmsProviderName;
  /** Visit occurrences (the visit feature); without it the volunteer's page has no visits to show. */
  visits?: Pick<VisitApi, 'listOccurrences'>;
  volunteerActions?: VolunteerActions;
}
