// How long a device may stay silent before it is offline: its own value, then its bridge's, then its kind's, then its transport's default, then the registry-wide one.
import type { Bridge, BridgeKind } from '../core/bridges.js';
import { DEVICE_KINDS, type Device, type DeviceKind } from '../core/types.js';

/**
 * Transport defaults, for bridged devices whose registry names no value of its own. Zigbee battery devices report
 * every hour or few (an Aqara sensor about hourly, a Tuya SOS button with its battery every few hours): six hours
 * misses a couple of reports before calling one offline. LoRaWAN buttons send a status uplink once or twice a day:
 * 25 hours. 4G/NB-IoT pendants behind a vendor cloud heartbeat every one to two hours to save their battery: 4 hours.
 */
export const TRANSPORT_OFFLINE_AFTER_SECONDS: Readonly<Record<BridgeKind, number>> = {
  zigbee2mqtt: 6 * 3600,
  chirpstack: 25 * 3600,
  http: 4 * 3600,
};

/** Registry setting key of the `supervision` section (JSON of SupervisionSection). */
export const SUPERVISION_SETTING = 'supervision';

/** The registry's `supervision` section: `offlineAfterSeconds` per device kind. */
export interface SupervisionSection {
  offlineAfterSeconds?: Partial<Record<DeviceKind, number>>;
}

export type OfflineAfterSource = 'device' | 'bridge' | 'kind' | 'transport' | 'registry';

export interface OfflineAfterRules {
  /** escalation.offlineAfterSeconds: every device no other rule covers. */
  globalSeconds: number;
  byKind: Partial<Record<DeviceKind, number>>;
  bridges: ReadonlyMap<string, Pick<Bridge, 'id' | 'kind' | 'offlineAfterSeconds'>>;
}

/** The device's silence limit in seconds, and which rule set it. */
export function offlineAfterOf(
  device: Pick<Device, 'kind' | 'bridge' | 'offlineAfterSeconds'>,
  rules: OfflineAfterRules,
): { seconds: number; source: OfflineAfterSource } {
  if (device.offlineAfterSeconds !== undefined) return { seconds: device.offlineAfterSeconds, source: 'device' };
  const bridge = device.bridge === undefined ? undefined : rules.bridges.get(device.bridge);
  if (bridge?.offlineAfterSeconds !== undefined) return { seconds: bridge.offlineAfterSeconds, source: 'bridge' };
  const byKind = rules.byKind[device.kind];
  if (byKind !== undefined) return { seconds: byKind, source: 'kind' };
  if (bridge) return { seconds: TRANSPORT_OFFLINE_AFTER_SECONDS[bridge.kind], source: 'transport' };
  return { seconds: rules.globalSeconds, source: 'registry' };
}

/** Reads the stored `supervision` section (validated at import); anything unreadable in it names no kind. */
export function parseSupervisionSection(stored: string | null): SupervisionSection {
  if (stored === null) return {};
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return {};
  }
  const limits: unknown =
    typeof value === 'object' && value !== null && 'offlineAfterSeconds' in value ? value.offlineAfterSeconds : undefined;
  if (typeof limits !== 'object' || limits === null) return {};
  const byKind: Partial<Record<DeviceKind, number>> = {};
  for (const kind of DEVICE_KINDS) {
    const n: unknown = kind in limits ? Object.entries(limits).find(([k]) => k === kind)?.[1] : undefined;
    if (typeof n === 'number' && Number.isFinite(n) && n > 0) byKind[kind] = n;
  }
  return { offlineAfterSeconds: byKind };
}
