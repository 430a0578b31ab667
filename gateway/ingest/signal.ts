// Turns a recorded device event into the Signal the rules consume, dropping device clocks that cannot be right.
import type { Device, Signal } from '../core/types.js';
import type { StoredEvent } from '../storage/ports.js';
import { decodeEvent, parseDeviceTime, type DeviceEvent } from '../../devices/kinds.js';

/** Device clocks further ahead than this are wrong (unset RTC, bad NTP), not a message from the future. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
/** A message this old is a replay or a dead RTC battery; either way its timestamp says nothing useful. */
export const MAX_PAST_SKEW_MS = 30 * 24 * 60 * 60 * 1000;

/** The device timestamp when plausible at `receivedAt`; `skewed` when one was sent but is not. */
export function plausibleDeviceTime(ts: string | undefined, receivedAt: number): { deviceTs: string | undefined; skewed: boolean } {
  if (ts === undefined) return { deviceTs: undefined, skewed: false };
  const t = parseDeviceTime(ts);
  const plausible = Number.isFinite(t) && t <= receivedAt + MAX_FUTURE_SKEW_MS && t >= receivedAt - MAX_PAST_SKEW_MS;
  return plausible ? { deviceTs: ts, skewed: false } : { deviceTs: undefined, skewed: true };
}

export interface SignalInput {
  eventId: number;
  device: Device;
  event: DeviceEvent;
  receivedAt: number;
  arrivedHr?: number;
}

export function buildSignal(input: SignalInput): Signal {
  const { event, device, receivedAt } = input;
  const { deviceTs, skewed } = plausibleDeviceTime(event.ts, receivedAt);
  const signal: Signal = {
    eventId: input.eventId,
    deviceId: device.id,
    deviceKind: device.kind,
    residentId: device.resident,
    type: event.type,
    seq: event.seq,
    receivedAt,
    payload: skewed ? { ...event, _clockSkew: true } : { ...event },
  };
  if (deviceTs !== undefined) signal.deviceTs = deviceTs;
  if (input.arrivedHr !== undefined) signal.arrivedHr = input.arrivedHr;
  return signal;
}

/**
 * Rebuilds the Signal of an event recorded earlier (e.g. acknowledged, then the gateway crashed before
 * acting on it). Null when the stored payload no longer decodes for the device's current kind.
 */
export function signalFromStored(stored: StoredEvent, device: Device): Signal | null {
  const decoded = decodeEvent(device.kind, Buffer.from(stored.payload, 'utf8'), { maxBytes: Number.POSITIVE_INFINITY });
  if (!decoded.ok) return null;
  return buildSignal({ eventId: stored.id, device, event: decoded.value, receivedAt: stored.receivedAt });
}
