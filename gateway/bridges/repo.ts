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

/** A remembered level of a state-style field, as JSON of the value the bridge reported. */
export interface BridgeLevel {
  deviceId: string;
  field: string;
  value: string;
}

export interface BridgeLevelRepo {
  listLevels(): Promise<BridgeLevel[]>;
  saveLevel(level: BridgeLevel, at: number): Promise<void>;
}
