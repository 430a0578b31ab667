// Bridges for tests: one of each kind and a few devices on them, added to a running test gateway's registry.
import type { Gateway } from '../../gateway/app.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';

export const Z2M_BRIDGE = { id: 'z2m-andali', kind: 'zigbee2mqtt', secret: 'z2m-andali-secret', baseTopic: 'zigbee2mqtt' } as const;
export const CS_BRIDGE = {
  id: 'cs-1',
  kind: 'chirpstack',
  url: 'mqtt://127.0.0.1:1884',
  username: 'gateway',
  password: 'cs-password',
  applicationId: 'b1c4a7e2-7d1f-4c0b-9a55-3f4e2a1d9c10',
} as const;
export const HTTP_BRIDGE = { id: 'onenet-1', kind: 'http', secret: 'onenet-token-0123', auth: 'onenet' } as const;

/** Bridged devices of the test registry's residents (r-001, r-002). */
export const BRIDGED_DEVICES = [
  { id: 'zb-btn-101', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: '0x00158d0001a2b3c4', model: 'TS0215A_sos' },
  { id: 'zb-motion-101', kind: 'motion_sensor', resident: 'r-001', bridge: 'z2m-andali', externalId: 'hall-motion', model: 'RTCGQ11LM' },
  { id: 'zb-btn-102', kind: 'sos_button', resident: 'r-002', bridge: 'z2m-andali', externalId: 'btn-wang', model: 'HS1EB/HS1EB-E' },
  { id: 'lora-btn-101', kind: 'sos_button', resident: 'r-001', bridge: 'cs-1', externalId: '0102030405060708' },
  { id: 'nb-btn-102', kind: 'sos_button', resident: 'r-002', bridge: 'onenet-1', externalId: 'onenet-dev-42' },
] as const;

/** Imports the three bridges and their devices (or the ones given) into the gateway's registry. */
export async function addTestBridges(
  gateway: Gateway,
  doc: Record<string, unknown> = { bridges: [Z2M_BRIDGE, CS_BRIDGE, HTTP_BRIDGE], devices: BRIDGED_DEVICES },
): Promise<void> {
  await importRegistryDocument({ store: gateway.store, log: silentLogger() }, doc, { source: 'test' });
}
