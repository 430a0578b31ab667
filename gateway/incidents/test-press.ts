// Where the incident service asks whether an alarm press is a weekly test, and records it as one.
import type { Resident, Signal } from '../core/types.js';

/** An alarm press (SOS or fall): only these can fall in a weekly test window. */
export function isPress(signal: Signal): boolean {
  return signal.type === 'sos' || signal.type === 'fall';
}
import type { Store } from '../storage/ports.js';

/** The test window the press of an alarm signal fell in (by its arrival time), or null: then it is a real alarm. `resident`: the signal's. */
export async function testWindowOf(
  store: Pick<Store, 'testPresses'>,
  signal: Signal,
  resident: Pick<Resident, 'community' | 'building'>,
): Promise<{ id: string } | null> {
  if (!isPress(signal)) return null;
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
