// Ingest: decodes device messages, records events durably (group commit, redelivery dedupe) before they are acknowledged, and keeps device health.
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { Device, DeviceHealth, DeviceState, Rejection } from '../core/types.js';
import { GatewayError } from '../core/errors.js';
import type { NewEvent, Store } from '../storage/ports.js';
import {
  decodeMessage,
  DEFAULT_MAX_PAYLOAD_BYTES,
  type DecodeOptions,
  type DeviceEvent,
  type DeviceStatus,
  type Telemetry,
} from '../../devices/kinds.js';
import { deviceTopicPrefix } from '../../devices/topics.js';
import { DEFAULT_GROUP_COMMIT, GroupCommitter, type GroupCommitOptions } from './group-commit.js';
import { IngestCounters } from './counters.js';
import type { HealthBook } from './health.js';
import { HealthKeeper } from './health-keeper.js';
import { buildSignal, plausibleDeviceTime } from './signal.js';
import type { DropReason, IngestEvents, IngestStats } from './events.js';
import { DeviceLimiter, floodDetail, type DeviceLimits } from './device-limits.js';
import type { RecordingGuard } from './recording-guard.js';

export interface IngestDeps {
  store: Pick<Store, 'events' | 'health' | 'transaction'>;
  bus: EventBus<IngestEvents>;
  clock: Clock;
  log: Logger;
  maxPayloadBytes?: number;
  groupCommit?: GroupCommitOptions;
  /**
   * How long a recorded event can come back as a redelivery (same device, seq and payload, on the same connection
   * or flagged DUP); after it, the same seq is a new event.
   */
  dedupeWindowMs?: number;
  /** How often changed health records are written to the store. */
  healthFlushMs?: number;
  /** Tracks whether events can be committed, and the free-space reserve below which heartbeats are shed. */
  guard?: RecordingGuard;
  /** Per-device limits on non-alarm messages; none when absent. */
  limits?: DeviceLimits;
  /** A message acknowledged but not written (for /metrics). */
  onDropped?: (reason: DropReason) => void;
}

/** Alarm events are never limited nor shed: they are what the disk reserve is kept for. */
const ALARM_EVENT_TYPES: ReadonlySet<string> = new Set(['sos', 'fall', 'cancel']);

export interface IngestMeta {
  remoteAddress: string | null;
  /** performance.now() when the broker hook was entered, for end-to-end latency. */
  arrivedHr: number;
  /** The broker published the device's will: its connection was lost, it did not speak. */
  will?: boolean;
  /** The connection (one CONNECT) the message came on; see EventDelivery. */
  session?: string;
  /** The PUBLISH carried the DUP flag. */
  dup?: boolean;
}

/** What an event's submit resolves with at its group's COMMIT: the promise that the group is on disk. */
interface Recorded {
  durable: Promise<void>;
}

interface PendingEvent {
  record: NewEvent;
  device: Device;
  event: DeviceEvent;
  arrivedHr: number;
}

/** Long enough for a device to reconnect and resend after a lost PUBACK or a gateway restart, short enough that a
 * reused seq (a counter restarted by a reboot) is never mistaken for one later on. */
export const DEFAULT_DEDUPE_WINDOW_MS = 10 * 60 * 1000;
const DEFAULT_HEALTH_FLUSH_MS = 2000;
const EXCERPT_CHARS = 200;

export class Ingest {
  private committer: GroupCommitter<PendingEvent, Recorded> | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private readonly limiter: DeviceLimiter | null;
  private readonly decodeOptions: DecodeOptions;
  private readonly counters = new IngestCounters();
  /** Last seen, state and rejections of each device, written to the store every `healthFlushMs`. */
  private readonly keeper: HealthKeeper;
  private readonly health: HealthBook;

  constructor(private readonly deps: IngestDeps) {
    this.limiter = deps.limits ? new DeviceLimiter(deps.limits) : null;
    this.decodeOptions = { maxBytes: deps.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES };
    this.keeper = new HealthKeeper({
      store: deps.store,
      bus: deps.bus,
      clock: deps.clock,
      log: deps.log,
      guard: deps.guard,
      counters: this.counters,
    });
    this.health = this.keeper.book;
  }

  async start(): Promise<void> {
    if (this.committer) return;
    await this.keeper.load();
    this.committer = new GroupCommitter({
      options: this.deps.groupCommit ?? DEFAULT_GROUP_COMMIT,
      commit: (group) => this.commit(group),
    });
    this.healthTimer = setInterval(() => void this.keeper.flush(), this.deps.healthFlushMs ?? DEFAULT_HEALTH_FLUSH_MS);
    this.healthTimer.unref();
  }

  /** Commits every queued event (their devices get their PUBACK) and writes the health records. */
  async stop(): Promise<void> {
    const committer = this.committer;
    if (!committer) return;
    this.committer = null;
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    await committer.close();
    await this.keeper.flush();
  }

  /**
   * Handles one message from `device` on `channel` (the topic part after `care/v1/<id>/`). Resolves when
   * the broker may acknowledge it: for an event, after its durable commit; a rejected message at once (it
   * is acknowledged so the device stops resending it). Rejects when an event could not be recorded, so
   * that it is not acknowledged.
   */
  async handle(deviceId: string, device: Device, channel: string, payload: Buffer, meta: IngestMeta): Promise<void> {
    await this.take(deviceId, device, channel, payload, meta);
  }

  /**
   * `handle` for the broker's hook, without a promise where there is nothing to wait for: returns the promise of an
   * event's durable record, or undefined once any other message is handled (telemetry and status, most of the traffic,
   * whose promises were most of the garbage under load). Throws when the ingest is not running.
   */
  take(deviceId: string, device: Device, channel: string, payload: Buffer, meta: IngestMeta): Promise<void> | undefined {
    const committer = this.committer;
    if (!committer) throw new GatewayError('GW_ERR_STORAGE', 'ingest is not running');
    const at = this.deps.clock.now();
    const decoded = decodeMessage(device.kind, channel, payload, this.decodeOptions);
    const alarm = decoded.ok && decoded.value.channel === 'event' && ALARM_EVENT_TYPES.has(decoded.value.event.type);
    // Acknowledged but not written: a device resending its flood would only make it worse.
    if (!alarm && !meta.will && !this.admit(device, payload.length, at)) {
      this.keeper.seen(deviceId, at, meta.remoteAddress);
      return;
    }

    if (!decoded.ok) {
      if (!meta.will) this.keeper.seen(deviceId, at, meta.remoteAddress);
      const topic = deviceTopicPrefix(deviceId) + channel;
      this.keeper.reject({
        deviceId,
        topic,
        reason: decoded.reason,
        detail: decoded.detail,
        receivedAt: at,
        payloadExcerpt: excerpt(payload),
      });
      return;
    }
    const msg = decoded.value;
    switch (msg.channel) {
      case 'event':
        this.keeper.seen(deviceId, at, meta.remoteAddress);
        return this.handleEvent(committer, device, msg.event, payload, at, meta);
      case 'telemetry':
        this.keeper.seen(deviceId, at, meta.remoteAddress);
        this.handleTelemetry(deviceId, msg.telemetry, at);
        return;
      case 'status':
        this.handleStatus(deviceId, msg.status, at, meta);
        return;
    }
  }

  /**
   * A packet too large to take at all (the broker closes the connection instead of buffering it): noted on the
   * device's health record and in the rejection log, like any rejected message. `topic` is null when unknown.
   */
  rejectOversized(
    deviceId: string,
    topic: string | null,
    announcedBytes: number | null,
    maxBytes: number,
    remoteAddress: string | null,
  ): void {
    const at = this.deps.clock.now();
    this.keeper.seen(deviceId, at, remoteAddress);
    const size = announcedBytes === null ? 'a malformed length' : `${announcedBytes} bytes`;
    this.keeper.reject({
      deviceId,
      topic: topic ?? `${deviceTopicPrefix(deviceId)}?`,
      reason: 'payload_too_large',
      detail: `MQTT packet of ${size} over the ${maxBytes}-byte limit; connection closed without acknowledgement`,
      receivedAt: at,
      payloadExcerpt: '',
    });
  }

  /**
   * A message a bridge relayed for the device that could not be decoded (malformed JSON, say): on the device's health
   * record and in the rejection log, exactly like a direct device's. The device was heard, through its bridge.
   */
  rejectRelayed(rejection: Rejection, remoteAddress: string | null): void {
    this.keeper.seen(rejection.deviceId, rejection.receivedAt, remoteAddress);
    this.keeper.reject(rejection);
  }

  /**
   * A message a bridge received for this device but could not turn into a signal (malformed in the upstream's own
   * format, a stale retained copy): noted on the device's health record and in the rejection log like a direct
   * device's rejected message. `alive`: the device itself was heard (its radio works), so it counts as seen.
   */
  rejectBridged(rejection: Omit<Rejection, 'receivedAt'>, alive: boolean): void {
    const at = this.deps.clock.now();
    if (alive) this.keeper.seen(rejection.deviceId, at, null);
    this.keeper.reject({ ...rejection, receivedAt: at });
  }

  /** Writes the health records and rejection log now instead of at the next periodic flush. */
  flush(): Promise<void> {
    return this.keeper.flush();
  }

  healthOf(deviceId: string): DeviceHealth | null {
    return this.health.get(deviceId);
  }

  listHealth(): DeviceHealth[] {
    return this.health.list();
  }

  /**
   * Nodes sharing one database: takes what the others wrote to the health book (newest last_seen wins), so a device
   * heard on another node is not silent here. `announce`: a state it changes goes on the bus as a status change (the
   * node that supervises this round acts on devices that came back elsewhere); otherwise it is taken quietly.
   */
  refreshFromStore(announce: boolean): Promise<number> {
    return this.keeper.adoptStored(announce);
  }

  /** Another node's status notice of a device, so this node's API and map say what that node heard (HealthBook). */
  heardElsewhere(deviceId: string, state: DeviceState, at: number): boolean {
    if (state === 'online') return this.keeper.heardOnline(deviceId, at);
    return state === 'offline' && this.keeper.heardOffline(deviceId, at);
  }

  /** Sets a device's state from outside the message flow (e.g. supervision's offline timeout). */
  markState(deviceId: string, state: Exclude<DeviceState, 'unknown'>, at: number): void {
    this.keeper.setState(deviceId, state, at);
  }

  stats(): IngestStats {
    return this.counters.snapshot(this.committer?.pending ?? 0);
  }

  private async handleEvent(
    committer: GroupCommitter<PendingEvent, Recorded>,
    device: Device,
    event: DeviceEvent,
    payload: Buffer,
    at: number,
    meta: IngestMeta,
  ): Promise<void> {
    if ((event.type === 'heartbeat' || event.type === 'low_battery') && event.battery !== undefined) {
      this.health.edit(device.id).battery = event.battery;
    }
    // Below the disk reserve a heartbeat only says "alive", which the health record above already keeps in memory.
    if (event.type === 'heartbeat' && this.deps.guard?.shedding) {
      this.drop('low_disk');
      return;
    }
    const record: NewEvent = {
      deviceId: device.id,
      seq: event.seq,
      type: event.type,
      payload: payload.toString('utf8'),
      payloadHash: createHash('sha256').update(payload).digest('hex'),
      deviceTs: plausibleDeviceTime(event.ts, at).deviceTs ?? null,
      receivedAt: at,
      ...(meta.session ? { delivery: { session: meta.session, dup: meta.dup === true } } : {}),
    };
    const { durable } = await committer.submit({ record, device, event, arrivedHr: meta.arrivedHr });
    // The PUBACK waits for the disk; the alarm itself did not (its signal went out at the COMMIT).
    await durable;
  }

  /**
   * One group commit. Signals go out as soon as the transaction has committed (the rows are safe from a crash of
   * the process); each event's PUBACK waits for `durable`, the WAL sync on the thread pool. The next group can
   * commit while that sync runs, so a slow disk delays acknowledgements, never alarms.
   */
  private async commit(group: PendingEvent[]): Promise<Recorded[]> {
    const dedupeSince = this.deps.clock.now() - (this.deps.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS);
    let ids: (number | null)[];
    let synced: Promise<void>;
    try {
      ({ ids, durable: synced } = await this.deps.store.events.recordBatch(
        group.map((p) => p.record),
        dedupeSince,
      ));
    } catch (err) {
      this.counters.commitFailures++;
      this.deps.guard?.commitFailed(err);
      this.deps.log.error({ err, events: group.length }, 'event commit failed; the events stay unacknowledged');
      throw err;
    }
    this.counters.countBatch(group.length);
    group.forEach((p, i) => {
      const eventId = ids[i];
      if (eventId === null || eventId === undefined) {
        this.counters.duplicates++;
        this.deps.log.debug({ deviceId: p.device.id, seq: p.record.seq }, 'redelivered event acknowledged again, not acted on');
        this.deps.bus.emit('signalRedelivered', { deviceId: p.device.id, seq: p.record.seq, dup: p.record.delivery?.dup === true });
        return;
      }
      this.counters.accepted++;
      this.deps.bus.emit(
        'signalReceived',
        buildSignal({ eventId, device: p.device, event: p.event, receivedAt: p.record.receivedAt, arrivedHr: p.arrivedHr }),
      );
    });
    const durable = synced.then(
      () => this.deps.guard?.committed(),
      (err: unknown) => {
        this.counters.commitFailures++;
        this.deps.guard?.commitFailed(err);
        this.deps.log.error(
          { err, events: group.length },
          'events committed but not synced to disk; left unacknowledged, so devices send them again',
        );
        throw err;
      },
    );
    // One handler per group keeps an unawaited rejection from being reported as unhandled; each event awaits its own copy.
    durable.catch(() => undefined);
    return group.map(() => ({ durable }));
  }

  private handleTelemetry(deviceId: string, telemetry: Telemetry, at: number): void {
    this.counters.telemetry++;
    const h = this.health.edit(deviceId);
    if (telemetry.battery !== undefined) h.battery = telemetry.battery;
    if (telemetry.rssi !== undefined) h.rssi = telemetry.rssi;
    this.deps.bus.emit('telemetryReceived', { deviceId, battery: h.battery, rssi: h.rssi, at, payload: telemetry });
  }

  private handleStatus(deviceId: string, status: DeviceStatus, at: number, meta: IngestMeta): void {
    this.counters.status++;
    // A will is the broker speaking for a lost connection: the device itself was not heard.
    const h = this.health.edit(deviceId);
    if (!meta.will) {
      h.lastSeen = at;
      if (meta.remoteAddress) h.remoteAddress = meta.remoteAddress;
    }
    h.lastStatusAt = at;
    const changed = this.keeper.setState(deviceId, status, at);
    // Its own word, repeated: another node may have decided otherwise meanwhile (a will it replayed while the device
    // was on its way here), and with no change here it would not hear otherwise until its next sweep round.
    if (!changed && !meta.will) this.deps.bus.emit('deviceStatusAffirmed', { deviceId, state: status, at });
  }

  /** True when the device's limits take this non-alarm message; otherwise counts the drop and reports a flood or a spent quota. */
  private admit(device: Device, bytes: number, at: number): boolean {
    const verdict = this.limiter?.admit(device.id, bytes, at);
    if (!verdict || verdict.admit) return true;
    this.drop(verdict.reason);
    if (verdict.disconnect || verdict.quotaReached) {
      this.deps.log.warn({ deviceId: device.id, reason: verdict.reason, disconnect: verdict.disconnect }, 'device over its limits');
      this.deps.bus.emit('deviceFlooding', {
        deviceId: device.id,
        residentId: device.resident,
        reason: verdict.reason,
        disconnect: verdict.disconnect,
        at,
        detail: floodDetail(verdict.reason, this.deps.limits),
      });
    }
    return false;
  }

  private drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
    this.deps.onDropped?.(reason);
  }
}

function excerpt(payload: Buffer): string {
  return payload
    .subarray(0, EXCERPT_CHARS * 4)
    .toString('utf8')
    .slice(0, EXCERPT_CHARS);
}
