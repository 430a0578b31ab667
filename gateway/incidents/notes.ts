// Facts added to an open incident's timeline without changing its state, e.g. a sign of life after an inactivity page.
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { AuditEntry } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import type { IncidentEvents } from './service.js';

export interface IncidentNotesDeps {
  store: Pick<Store, 'incidents'>;
  bus: EventBus<IncidentEvents>;
  clock: Clock;
}

export class IncidentNotes {
  constructor(private readonly deps: IncidentNotesDeps) {}

  /**
   * The resident showed a sign of life after an inactivity page. The incident stays open: someone still goes to the
   * door (a motion sensor cannot tell that all is well), but the responder on the way and the board should know.
   * Returns the entry, or null when the resident has no active inactivity incident.
   */
  async signOfLife(residentId: string, at: number, source: string): Promise<AuditEntry | null> {
    const { store, bus, clock } = this.deps;
    const incident = await store.incidents.findActiveForResident(residentId);
    if (!incident || incident.type !== 'inactivity') return null;
    const entry = await store.incidents.appendAudit({
      incidentId: incident.id,
      at: clock.now(),
      action: 'sign_of_life',
      actor: 'inactivity monitor',
      channel: 'system',
      detail: { source, signAt: at },
    });
    bus.emit('incidentChanged', incident, entry);
    return entry;
  }
}
