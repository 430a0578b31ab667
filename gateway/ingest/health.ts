// In-memory device health view: updated on every message, written to the store in batches rather than per message.
import type { DeviceHealth } from '../core/types.js';

export function emptyHealth(deviceId: string): DeviceHealth {
  return {
    deviceId,
    state: 'unknown',
    lastSeen: null,
    battery: null,
    rssi: null,
    lastStatusAt: null,
    remoteAddress: null,
    lastRejection: null,
    rejectedCount: 0,
  };
}

function copy(h: DeviceHealth): DeviceHealth {
  return { ...h, lastRejection: h.lastRejection ? { ...h.lastRejection } : null };
}

/** Health records by device id, with the set of ids changed since the last flush. */
export class HealthBook {
  private readonly records = new Map<string, DeviceHealth>();
  private readonly dirty = new Set<string>();

  load(records: DeviceHealth[]): void {
    for (const r of records) this.records.set(r.deviceId, copy(r));
  }

  /** A snapshot: callers cannot change the book through it. */
  get(deviceId: string): DeviceHealth | null {
    const h = this.records.get(deviceId);
    return h ? copy(h) : null;
  }

  list(): DeviceHealth[] {
    return [...this.records.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId)).map(copy);
  }

  /** Applies `change` to the device's record (created if new) and marks it for the next flush. */
  update(deviceId: string, change: (h: DeviceHealth) => void): DeviceHealth {
    let h = this.records.get(deviceId);
    if (!h) {
      h = emptyHealth(deviceId);
      this.records.set(deviceId, h);
    }
    change(h);
    this.dirty.add(deviceId);
    return copy(h);
  }

  /** Records changed since the last call; hand them back with `markDirty` if writing them failed. */
  takeDirty(): DeviceHealth[] {
    const out: DeviceHealth[] = [];
    for (const id of this.dirty) {
      const h = this.records.get(id);
      if (h) out.push(copy(h));
    }
    this.dirty.clear();
    return out;
  }

  markDirty(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) this.dirty.add(id);
  }
}
