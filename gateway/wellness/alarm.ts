// Connects the inactivity monitor to the alarm path: an `inactivity` incident that pages the nearest on-duty worker and the family.
import type { IncidentService } from '../incidents/service.js';

/** The monitor's `raise` dependency over the gateway's IncidentService; joins an incident already open instead of paging again. */
export function inactivityAlarm(
  incidents: Pick<IncidentService, 'raiseForResident'>,
): (residentId: string, hours: number) => Promise<void> {
  return async (residentId, hours) => {
    await incidents.raiseForResident(
      residentId,
      'inactivity',
      { role: 'staff', id: null, name: 'inactivity monitor', phone: null },
      'system',
      {
        hoursWithoutSignOfLife: hours,
      },
    );
  };
}
