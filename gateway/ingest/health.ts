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

function sameHealth(a: DeviceHealth, b: DeviceHealth): boolean {
  return (
    a.state === b.state &&
    a.lastSeen === b.lastSeen &&
    a.battery === b.battery &&
    a.rssi === b.rssi &&
    a.lastStatusAt === b.lastStatusAt &&
    a.remoteAddress === b.remoteAddress &&
    a.rejectedCount === b.rejectedCount
  );
}

function copy(h: DeviceHealth): DeviceHealth {
  return { ...h, lastRejection: h.lastRejection ? { ...h.lastRejection } : null };
}

/** Health records by device id, with the set of ids changed since the last flush. */
export class HealthBook {
  private readonly records = new Map<string, DeviceHealth>();
  private readonly dirty = new Set<string>();
  /** Devices whose state here was last taken from another node's notice, not heard or decided by this node. */
  private readonly fromElsewhere = new Set<string>();

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

  /** The device's state, without a snapshot (asked on every message). */
  stateOf(deviceId: string): DeviceHealth['state'] | null {
    return this.records.get(deviceId)?.state ?? null;
  }

  /**
   * The device's own record (created if new), marked for the next flush, for the owner of the book to change in
   * place: the ingest does so on every message, and a closure and a snapshot each time were most of its garbage.
   */
  edit(deviceId: string): DeviceHealth {
    let h = this.records.get(deviceId);
    if (!h) {
      h = emptyHealth(deviceId);
      this.records.set(deviceId, h);
    }
    this.dirty.add(deviceId);
    this.fromElsewhere.delete(deviceId);
    return h;
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

  /**
   * Takes the stored records that are at least as new as this book's (another node heard the device, or marked it
   * offline, and flushed): newest last_seen wins, as in the store. A record changed here and not yet written keeps
   * this book's copy. Returns the devices whose state the stored record changed, with their new state.
   */
  adopt(stored: readonly DeviceHealth[]): { deviceId: string; state: DeviceHealth['state'] }[] {
    const changed: { deviceId: string; state: DeviceHealth['state'] }[] = [];
    for (const s of stored) {
      if (this.dirty.has(s.deviceId)) continue;
      const mine = this.records.get(s.deviceId);
      if (mine && (s.lastSeen ?? -1) < (mine.lastSeen ?? -1)) continue;
      if (mine && sameHealth(mine, s)) continue;
      this.records.set(s.deviceId, copy(s));
      this.fromElsewhere.delete(s.deviceId);
      if (mine?.state !== s.state) changed.push({ deviceId: s.deviceId, state: s.state });
    }
    return changed;
  }

  /**
   * Another node heard the device (its live-feed notice that the device is online there): taken quietly and not
   * written (that node writes it) unless this book heard it later, newest last_seen winning as in the store. Without
   * it a node that marked a device offline (a will at the end of a short session here) went on saying so while the
   * device was online on another node, until its next sweep round. Returns whether the state changed.
   */
  heardOnline(deviceId: string, at: number): boolean {
    const mine = this.records.get(deviceId);
    if (mine && (mine.lastSeen ?? -1) > at) return false;
    const h = mine ?? emptyHealth(deviceId);
    if (!mine) this.records.set(deviceId, h);
    h.lastSeen = at;
    this.fromElsewhere.add(deviceId);
    if (h.state === 'online') return false;
    h.state = 'online';
    return true;
  }

  /**
   * Another node gave up on the device: taken quietly only when this book's `online` came from that kind of notice
   * (heardOnline) and nothing since; a state this node decided itself is left to its own supervision (the node that
   * sweeps announces offline to its own supervision, the others take it from the store at their next round).
   */
  heardOffline(deviceId: string, at: number): boolean {
    const mine = this.records.get(deviceId);
    if (!mine || !this.fromElsewhere.has(deviceId) || (mine.lastSeen ?? -1) > at || mine.state === 'offline') return false;
    mine.state = 'offline';
    this.fromElsewhere.delete(deviceId);
    return true;
  }

  markDirty(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) this.dirty.add(id);
  }
}
