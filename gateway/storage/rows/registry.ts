// Row shapes and row-to-domain mappers of registry documents, devices and bridges, shared by the SQLite and PostgreSQL engines.
import type { Device } from '../../core/types.js';
import type { Bridge } from '../../core/bridges.js';

export interface DocRow {
  doc: string;
}

export interface DeviceRow {
  doc: string;
  secret_hash: string;
}

export interface BridgeRow {
  doc: string;
  secret_hash: string | null;
}

export function toDevice(row: DeviceRow): Device {
  return { ...(JSON.parse(row.doc) as Omit<Device, 'secretHash'>), secretHash: row.secret_hash };
}

export function toBridge(row: BridgeRow): Bridge {
  const bridge = JSON.parse(row.doc) as Bridge;
  return bridge.kind === 'zigbee2mqtt' && row.secret_hash !== null ? { ...bridge, secretHash: row.secret_hash } : bridge;
}
