// Device health as messages arrive: last seen and state (changes announced), rejections noted, written to the store in chunks.
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { DeviceState, Rejection } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import type { IngestCounters } from './counters.js';
import type { IngestEvents } from './events.js';
import { HealthBook } from './health.js';
import type { RecordingGuard } from './recording-guard.js';

const MAX_PENDING_REJECTIONS = 1000;
// Health rows written per transaction during a flush (about 1 ms of work each).
const HEALTH_FLUSH_CHUNK = 200;

export interface HealthKeeperDeps {
  store: Pick<Store, 'health' | 'transaction'>;
  bus: EventBus<IngestEvents>;
  clock: Clock;
  log: Logger;
  /** Below its free-space reserve the rejection log is not written (the health record still names the last one). */
  guard?: RecordingGuard;
  counters: IngestCounters;
}

export class HealthKeeper {
  readonly book = new HealthBook();
  private flushing: Promise<void> = Promise.resolve();
  private pendingRejections: Rejection[] = [];

  constructor(private readonly deps: HealthKeeperDeps) {}

  async load(): Promise<void> {
    this.book.load(await this.deps.store.health.list());
  }

  /** Any message the device sent itself shows it is alive, hence online. */
  seen(deviceId: string, at: number, remoteAddress: string | null | undefined): void {
    const h = this.book.edit(deviceId);
    h.lastSeen = at;
    if (remoteAddress) h.remoteAddress = remoteAddress;
    this.setState(deviceId, 'online', at);
  }

  /** Returns whether the state changed (a change is announced on the bus). */
  setState(deviceId: string, state: DeviceState, at: number): boolean {
    if (this.book.stateOf(deviceId) === state) return false;
    this.book.edit(deviceId).state = state;
    this.deps.bus.emit('deviceStatusChanged', { deviceId, state, at });
    return true;
  }

  /** Noted at once in memory and on the bus; the rejection log is written with the next flush. */
  reject(rejection: Rejection): void {
    const { counters } = this.deps;
    counters.rejected[rejection.reason]++;
    const h = this.book.edit(rejection.deviceId);
    h.lastRejection = { reason: rejection.reason, detail: rejection.detail, at: rejection.receivedAt };
    h.rejectedCount++;
    this.deps.log.warn({ deviceId: rejection.deviceId, reason: rejection.reason, detail: rejection.detail }, 'device message rejected');
    // Bounded, so a device flooding garbage cannot grow memory or crowd event commits out of the database; not
    // written at all below the disk reserve (the health record still names the last rejection).
    if (this.pendingRejections.length < MAX_PENDING_REJECTIONS && !this.deps.guard?.shedding) this.pendingRejections.push(rejection);
    else counters.rejectionsNotLogged++;
    this.deps.bus.emit('signalRejected', rejection);
  }

  /**
   * Takes what other nodes wrote to the health book (newest last_seen wins). `announce`: a state it changes goes on the
   * bus as a status change; otherwise it is taken quietly. Returns how many records changed.
   */
  async adoptStored(announce: boolean): Promise<number> {
    const changed = this.book.adopt(await this.deps.store.health.list());
    const at = this.deps.clock.now();
    if (announce) for (const c of changed) this.deps.bus.emit('deviceStatusChanged', { deviceId: c.deviceId, state: c.state, at });
    return changed.length;
  }

  /** Another node heard the device: see HealthBook.heardOnline (not announced: that node did). */
  heardOnline(deviceId: string, at: number): boolean {
    return this.book.heardOnline(deviceId, at);
  }

  /** Another node gave up on the device: see HealthBook.heardOffline. */
  heardOffline(deviceId: string, at: number): boolean {
    return this.book.heardOffline(deviceId, at);
  }

  /**
   * Writes changed health records and the rejection log; serialised, and retried on the next tick if it
   * fails. Under telemetry load a flush holds a thousand rows, so it is cut into chunks with a turn of the
   * event loop between them: an alarm arriving meanwhile waits for one chunk, not for the whole flush.
   * Unsynced commits (`normal`): health is a last-seen view rebuilt by the devices' next messages, and a
   * rejection log lost to a power cut is not worth an fsync on every flush.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const records = this.book.takeDirty();
      const rejections = this.pendingRejections;
      this.pendingRejections = [];
      if (records.length === 0 && rejections.length === 0) return;
      const { store } = this.deps;
      let written = 0;
      let rejectionsWritten = rejections.length === 0;
      try {
        if (!rejectionsWritten) {
          await store.transaction(
            async () => {
              for (const r of rejections) await store.health.recordRejection(r);
            },
            { durability: 'normal' },
          );
          rejectionsWritten = true;
        }
        while (written < records.length) {
          const chunk = records.slice(written, written + HEALTH_FLUSH_CHUNK);
          await store.transaction(() => store.health.save(chunk), { durability: 'normal' });
          written += chunk.length;
          if (written < records.length) await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (err) {
        this.book.markDirty(records.slice(written).map((r) => r.deviceId));
        if (!rejectionsWritten) this.pendingRejections = [...rejections, ...this.pendingRejections].slice(0, MAX_PENDING_REJECTIONS);
        this.deps.log.error({ err, records: records.length - written, rejections: rejections.length }, 'could not write device health');
      }
    });
    return this.flushing;
  }
}
