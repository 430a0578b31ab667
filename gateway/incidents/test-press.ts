// Where the incident service asks whether an alarm press is a weekly test, and records it as one.
import type { Signal } from '../core/types.js';
import type { Store } from '../storage/ports.js';

/** The test window the press of an alarm signal fell in (by its arrival time), or null: then it is a real alarm. */
export async function testWindowOf(store: Pick<Store, 'registry' | 'testPresses'>, signal: Signal): Promise<{ id: string } | null> {
  if (signal.type !== 'sos' && signal.type !== 'fall') return null;
  const resident = await store.registry.getResident(signal.residentId);
  if (!resident) return null;
  return store.testPresses.windowAt(signal.deviceId, resident.community, resident.building ?? null, signal.receivedAt);
}

/** Records the press for the weekly check; a test incident is also linked to its window, which closes it when it ends. */
export async function recordTestPress(
  store: Pick<Store, 'testPresses'>,
  signal: Signal,
  windowId: string,
  incidentId: string,
  testIncident: boolean,
): Promise<void> {
  await store.testPresses.recordPress({
    deviceId: signal.deviceId,
    residentId: signal.residentId,
    windowId,
    incidentId,
    eventId: signal.eventId,
    at: signal.receivedAt,
  });
  if (testIncident) await store.testPresses.linkIncident(windowId, incidentId);
}
