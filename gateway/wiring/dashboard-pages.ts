// Composition of the dashboard pages' dependencies from the gateway's parts (store, ingest health, SMS provider, visit feature); wiring only.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceHealth, SmsProviderName } from '../core/types.js';
import type { DashboardPageDeps, VolunteerActions, VolunteerCommand } from '../http/routes/page-deps.js';
import { importRegistryDocument, type ImportDeps } from '../registry/import.js';
import type { RegistryCounts } from '../storage/ports.js';
import type { VisitService } from '../visits/service.js';
import { MonthlyReports } from '../reports/monthly.js';
import { exportRegistry } from '../reports/registry-export.js';
import { SmsLogReader } from '../reports/sms-log.js';
import type { SqliteStore } from '../storage/sqlite/store.js';
import { storedHealthOf, type GatewayStore } from './storage.js';

export interface DashboardDataDeps {
  store: GatewayStore;
  clock: Clock;
  timeZone: string;
  log: Logger;
  /** The ingest's live health (Ingest.healthOf); without it, the health rows last flushed to SQLite (required on PostgreSQL). */
  deviceHealth?: (deviceId: string) => DeviceHealth | null;
  smsProvider(): SmsProviderName;
  visits?: Pick<VisitService, 'listOccurrences' | 'replies'>;
  /** Refuses an import whose `sms.templates` could not be the catalogue in force (see ImportDeps.checkTemplates). */
  checkTemplates?: ImportDeps['checkTemplates'];
  /** After a dashboard import: refresh what caches the registry (device index, supervision, the SMS catalogue…). */
  onRegistryImported?(counts: RegistryCounts): void | Promise<void>;
}

/** The words a volunteer would text for each button. */
const TEXTS: Record<VolunteerCommand, string> = { check_in: '到', check_out: '走', door_unanswered: '没人' };

export function createDashboardPageDeps(d: DashboardDataDeps): DashboardPageDeps {
  const { store, clock, timeZone, log } = d;
  const health = d.deviceHealth ?? storedHealthOf(store);
  if (!health) throw new GatewayError('GW_ERR_CONFIG', 'the dashboard pages on PostgreSQL need the live device health (deviceHealth)');
  return {
    clock,
    timeZone,
    reports: new MonthlyReports({ reads: store.reports, clock, timeZone, deviceHealth: health }),
    smsLog: new SmsLogReader({ reads: store.reports }),
    registry: store.registry,
    deviceHealth: health,
    smsProvider: () => d.smsProvider(),
    exportRegistry: (format) => exportRegistry(store.registry, format),
    importRegistry: async (doc) => {
      const counts = await importRegistryDocument({ store, log, ...(d.checkTemplates ? { checkTemplates: d.checkTemplates } : {}) }, doc, {
        source: 'dashboard',
      });
      await d.onRegistryImported?.(counts);
      return counts;
    },
    ...(d.visits ? { visits: d.visits, volunteerActions: volunteerActionsVia({ visits: d.visits, store, clock }) } : {}),
  };
}

/**
 * A dashboard button does what the volunteer's SMS would: the visit feature's own reply handler, fed with her phone,
 * so the rules (check-in window, one alarm per door, hours capped) are the same, and she gets the usual SMS receipt.
 */
export function volunteerActionsVia(deps: {
  visits: Pick<VisitService, 'replies'>;
  store: Pick<GatewayStore, 'registry'>;
  clock: Clock;
}): VolunteerActions {
  return {
    async act(volunteerId, command) {
      const volunteer = (await deps.store.registry.listVolunteers()).find((v) => v.id === volunteerId);
      if (!volunteer) throw new GatewayError('GW_ERR_FORBIDDEN', `volunteer ${volunteerId} is not in the registry`);
      const text = TEXTS[command];
      return deps.visits.replies.handle(
        { provider: 'dashboard', from: volunteer.phone, body: text, providerSid: null, receivedAt: deps.clock.now() },
        text,
      );
    },
  };
}

/** Device health as last flushed to SQLite, read synchronously (the lists read it per device). */
export function storedHealth(store: SqliteStore): (deviceId: string) => DeviceHealth | null {
  return (deviceId) => store.health.read(deviceId);
}
