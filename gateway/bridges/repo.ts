// The registry as the bridges read it: a bridge by id, and a device by its id on a bridge.
import type { Bridge } from '../core/bridges.js';
import type { Device } from '../core/types.js';

export interface BridgeRepo {
  getBridge(id: string): Promise<Bridge | null>;
  listBridges(): Promise<Bridge[]>;
  /** The device registered on `bridgeId` as `externalId` (compared as normaliseExternalId does), or null. */
  findBridgedDevice(bridgeId: string, externalId: string): Promise<Device | null>;
  /** Every device registered on the bridge, by id. */
  listBridgedDevices(bridgeId: string): Promise<Device[]>;
}
