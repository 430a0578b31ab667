// A volunteer found nobody answering the door: a `door_unanswered` incident raised in her name, which pages like an alarm.
import type { Volunteer } from '../core/types.js';
import type { IncidentService } from './service.js';

export interface DoorUnansweredDeps {
  volunteers: { listVolunteers(): Promise<Volunteer[]> };
  incidents: Pick<IncidentService, 'raiseForResident'>;
}

/** The visit feature's `onDoorUnanswered`; a volunteer no longer in the registry is still named by her id. */
export function doorUnansweredAlarm(deps: DoorUnansweredDeps): (residentId: string, volunteerId: string) => Promise<void> {
  return async (residentId, volunteerId) => {
    const volunteer = (await deps.volunteers.listVolunteers()).find((v) => v.id === volunteerId);
    await deps.incidents.raiseForResident(
      residentId,
      'door_unanswered',
      { role: 'staff', id: volunteerId, name: volunteer?.name ?? volunteerId, phone: volunteer?.phone ?? null },
      'sms',
      { volunteer: volunteerId },
    );
  };
}
