// Telemetry side branch: bus events become InfluxDB points in a bounded buffer, written in batches with backoff; never on the alarm path.
import type { InfluxConfig } from '../config/schema.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { IncidentEvents } from '../incidents/service.js';
import type { IngestEvents } from '../ingest/events.js';
import type { NotifierEvents } from '../notifiers/dispatcher.js';
import type { Store } from '../storage/ports.js';
import type { SupervisionEvents } from '../supervision/events.js';
import type { Outage } from '../supervision/types.js';
import { BoundedQueue } from './buffer.js';
import {
  careTaskPoint,
  deviceStatusPoint,
  eventPoint,
  incidentPoint,
  outagePoint,
  pagePoint,
  telemetryPoint,
  type DeviceTags,
  type TelemetryPoint,
} from './points.js';
import { RegistryTags } from './registry-tags.js';
import { createSink, SinkError, type SinkKind, type TelemetrySink } from './sinks.js';

/** The bus events the writer listens to; the gateway's bus carries these and more. */
export type TelemetryEvents = Pick<IngestEvents, 'signalReceived' | 'telemetryReceived' | 'deviceStatusChanged'> &
  IncidentEvents &
  NotifierEvents &
  Pick<SupervisionEvents, 'taskChanged' | 'outageChanged' | 'registryChanged'>;

export interface TelemetryWriterDeps {
  /** null (INFLUX_URL not set): the writer stays `disabled` and listens to nothing. */
  config: InfluxConfig | null;
  store: Pick<Store, 'registry' | 'incidents'>;
  bus: EventBus<TelemetryEvents>;
  log: Logger;
  clock: Clock;
  /** Points that may wait while InfluxDB is away (default 50 000); beyond it the oldest are dropped. */
  maxBuffer?: number;
  /** Points per write request (default 500). */
  batchSize?: number;
  /** How often queued points are written (default 1000 ms); a full batch goes at once. */
  flushMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** How long start() waits for its first attempt to reach InfluxDB before returning anyway (default 2 s). */
  startWaitMs?: number;
  /** How long stop() keeps writing what is buffered (default 5 s). */
  stopTimeoutMs?: number;
  /** How often the registry placements (building, community) are reloaded (default 5 min). */
  registryRefreshMs?: number;
  /** Called with each number of points dropped (buffer full), e.g. for a Prometheus counter. */
  onDropped?: (n: number) => void;
  /** Called with each number of points written. */
  onWritten?: (n: number) => void;
}

export type TelemetryStatus = 'up' | 'down' | 'disabled';

export interface TelemetryHealth {
  status: TelemetryStatus;
  backend: SinkKind | null;
  /** Points waiting, including a batch being written. */
  buffered: number;
  /** Points dropped because the buffer was full (oldest first), since start. */
  dropped: number;
  /** Points InfluxDB refused as invalid (HTTP 400), since start. */
  rejected: number;
  written: number;
  lastError: string | null;
  /** Clock time of the last successful write. */
  lastWriteAt: number | null;
}

/** A point whose registry placement was not cached when its event arrived; resolved by the flush loop. */
interface Unplaced {
  place(tags: RegistryTags): Promise<TelemetryPoint | null>;
}

type Queued = TelemetryPoint | Unplaced;

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class TelemetryWriter {
  private readonly queue: BoundedQueue<Queued>;
  private readonly tags: RegistryTags;
  private sink: TelemetrySink | null = null;
  private running = false;
  private stopping = false;
  private ready = false;
  private timer: TimerHandle | null = null;
  private flushing: Promise<void> | null = null;
  private inFlight = 0;
  private failures = 0;
  private micro = 0;
  private lastRegistryLoad = Number.NEGATIVE_INFINITY;
  private readonly state: { status: 'up' | 'down'; lastError: string | null; lastWriteAt: number | null } = {
    status: 'down',
    lastError: null,
    lastWriteAt: null,
  };
  private readonly counts = { dropped: 0, rejected: 0, written: 0 };

  constructor(private readonly deps: TelemetryWriterDeps) {
    this.queue = new BoundedQueue<Queued>(deps.maxBuffer ?? 50_000);
    this.tags = new RegistryTags({ store: deps.store });
  }

  private get batchSize(): number {
    // 500: serialising a batch blocks the event loop the alarm path shares; at 500 a backfill stalls it ~7 ms (p99), at 5000 ~25 ms.
    return this.deps.batchSize ?? 500;
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    if (!config || this.running) return;
    this.sink = createSink({ config, log, timeoutMs: this.deps.requestTimeoutMs ?? 10_000 });
    this.running = true;
    this.stopping = false;
    await this.reloadRegistry();
    this.subscribe();
    log.info({ target: this.sink.target, backend: this.sink.kind }, 'telemetry writer started');
    // The first attempt (setup, then any points) usually settles at once; a black-holed host must not hold up start-up.
    await waitAtMost(this.flush(), this.deps.startWaitMs ?? 2000);
  }

  /** Stops listening, then keeps writing what is buffered for at most stopTimeoutMs. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    this.deps.bus.removeAll(this);
    this.timer?.cancel();
    this.timer = null;
    const deadline = Date.now() + (this.deps.stopTimeoutMs ?? 5000);
    // Let a write under way finish, then one more pass (even in backoff) for whatever InfluxDB will take.
    if (this.flushing) await waitAtMost(this.flushing, deadline - Date.now());
    if (this.queue.length > 0) await waitAtMost(this.flush(), deadline - Date.now());
    this.stopping = false;
    const left = this.queue.length + this.inFlight;
    if (left > 0) this.deps.log.warn({ left, lastError: this.state.lastError }, 'telemetry writer stopped with points not written');
  }

  health(): TelemetryHealth {
    return {
      status: this.deps.config ? this.state.status : 'disabled',
      backend: this.sink?.kind ?? null,
      buffered: this.queue.length + this.inFlight,
      dropped: this.counts.dropped,
      rejected: this.counts.rejected,
      written: this.counts.written,
      lastError: this.state.lastError,
      lastWriteAt: this.state.lastWriteAt,
    };
  }

  /** Points dropped because the buffer was full, since start. */
  droppedTotal(): number {
    return this.counts.dropped;
  }

  /** Writes what is queued now (or joins the write under way); resolves when done or given up for now. */
  flush(): Promise<void> {
    if (!this.sink || (!this.running && !this.stopping)) return Promise.resolve();
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
      this.scheduleNext();
    });
    return this.flushing;
  }

  private subscribe(): void {
    const { bus } = this.deps;
    bus.on(
      this,
      'signalReceived',
      this.guard((signal) => {
        this.enqueueForDevice(signal.deviceId, (where) => eventPoint(signal, where), {
          kind: signal.deviceKind,
          resident: signal.residentId,
        });
      }),
    );
    bus.on(
      this,
      'telemetryReceived',
      this.guard((t) => this.enqueueForDevice(t.deviceId, (where) => telemetryPoint(t, where))),
    );
    bus.on(
      this,
      'deviceStatusChanged',
      this.guard((s) => this.enqueueForDevice(s.deviceId, (where) => deviceStatusPoint(s, where))),
    );
    bus.on(
      this,
      'incidentChanged',
      this.guard((incident, entry) => {
        this.tags.noteIncident(incident.id, incident.residentId);
        const build = (building: string | undefined): TelemetryPoint =>
          incidentPoint(incident, entry, {
            resident: incident.residentId,
            community: incident.communityId,
            ...(building ? { building } : {}),
          });
        const cached = this.tags.cachedResident(incident.residentId);
        this.enqueue(
          cached ? build(cached.building) : { place: async (tags) => build((await tags.resident(incident.residentId))?.building) },
        );
      }),
    );
    bus.on(
      this,
      'smsStatusChanged',
      this.guard((msg) => {
        const cached = this.tags.cachedPage(msg);
        this.enqueue(cached ? pagePoint(msg, cached) : { place: async (tags) => pagePoint(msg, await tags.pageTags(msg)) });
      }),
    );
    bus.on(
      this,
      'taskChanged',
      this.guard((task, change) => {
        const cached = this.tags.cachedResident(task.residentId);
        const fallback = { resident: task.residentId, community: task.communityId };
        this.enqueue(
          cached
            ? careTaskPoint(task, change, cached)
            : { place: async (tags) => careTaskPoint(task, change, (await tags.resident(task.residentId)) ?? fallback) },
        );
      }),
    );
    bus.on(
      this,
      'outageChanged',
      this.guard((outage, change) => {
        if (change !== 'updated') this.enqueueOutage(outage, change);
      }),
    );
    // A registry import while running: new devices and moved residents are tagged right away, not after the periodic reload.
    bus.on(this, 'registryChanged', () => this.reloadRegistry());
  }

  /**
   * Built now (the outage object changes as devices come back); only the building tag may wait for the registry. It is
   * a member device's building tag, which residentTags checked, never the place's own name, which may be an address.
   */
  private enqueueOutage(outage: Outage, change: 'opened' | 'closed'): void {
    const p = outagePoint(outage, change, undefined);
    const first = outage.devices[0]?.deviceId;
    const building = outage.place.building;
    if (outage.place.kind !== 'building' || !first || !building) {
      this.enqueue(p);
      return;
    }
    const safe = (tags: DeviceTags | null | undefined): TelemetryPoint => {
      if (tags?.building === building) p.tags.building = building;
      return p;
    };
    const cached = this.tags.cachedDevice(first);
    this.enqueue(cached ? safe(cached) : { place: async (tags) => safe(await tags.device(first)) });
  }

  /** Telemetry must never disturb the alarm path: a mapping bug is logged here, not thrown into the bus. */
  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        fn(...args);
      } catch (err) {
        this.deps.log.error({ err }, 'telemetry point could not be built; skipped');
      }
    };
  }

  /** O(1) on a cache hit; a miss defers the registry look-up to the flush loop rather than query on the bus. */
  private enqueueForDevice(
    deviceId: string,
    build: (where: DeviceTags) => TelemetryPoint | null,
    known: { kind?: string; resident?: string } = {},
  ): void {
    const cached = this.tags.cachedDevice(deviceId);
    if (cached) {
      this.enqueue(build(cached));
      return;
    }
    this.enqueue({
      place: async (tags) => {
        const where = (await tags.device(deviceId)) ?? {
          device: deviceId,
          kind: known.kind ?? 'unknown',
          resident: known.resident ?? 'unknown',
          community: 'unknown',
        };
        return build(where);
      },
    });
  }

  private enqueue(item: Queued | null): void {
    if (!item) return;
    if ('measurement' in item) item.micro = this.nextMicro();
    const dropped = this.queue.push(item);
    if (dropped > 0) this.countDropped(dropped);
    if (this.queue.length === this.batchSize && !this.flushing && this.failures === 0 && this.running) this.schedule(0);
  }

  private nextMicro(): number {
    this.micro = (this.micro + 1) % 1000;
    return this.micro;
  }

  private async drain(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    if (this.deps.clock.now() - this.lastRegistryLoad >= (this.deps.registryRefreshMs ?? 300_000)) await this.reloadRegistry();
    if (!this.ready) {
      try {
        await sink.setup();
        this.ready = true;
        this.succeeded(0);
      } catch (err) {
        this.failed(err);
        return;
      }
    }
    while (this.queue.length > 0 && (this.running || this.stopping)) {
      const batch = this.queue.take(this.batchSize);
      this.inFlight = batch.length;
      const points = await this.place(batch);
      try {
        await sink.write(points);
        this.succeeded(points.length);
      } catch (err) {
        if (err instanceof SinkError && err.failure === 'reject') {
          this.counts.rejected += points.length;
          this.state.lastError = err.message;
          this.deps.log.error({ err, points: points.length }, 'InfluxDB refused a batch of telemetry; it is dropped');
          continue;
        }
        if (err instanceof SinkError && err.failure === 'setup') this.ready = false;
        const dropped = this.queue.putBack(points);
        if (dropped > 0) this.countDropped(dropped);
        this.failed(err);
        return;
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private async place(batch: Queued[]): Promise<TelemetryPoint[]> {
    const points: TelemetryPoint[] = [];
    for (const item of batch) {
      if ('measurement' in item) {
        points.push(item);
        continue;
      }
      try {
        const p = await item.place(this.tags);
        if (p) {
          p.micro = this.nextMicro();
          points.push(p);
        }
      } catch (err) {
        this.deps.log.warn({ err }, 'telemetry point could not be placed in the registry; skipped');
      }
    }
    return points;
  }

  private scheduleNext(): void {
    if (!this.running) return;
    if (this.failures > 0) this.schedule(Math.min(RETRY_FIRST_MS * 2 ** (this.failures - 1), RETRY_MAX_MS));
    else this.schedule(this.queue.length >= this.batchSize ? 0 : (this.deps.flushMs ?? 1000));
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(ms, () => {
      this.timer = null;
      void this.flush();
    });
  }

  private succeeded(n: number): void {
    if (this.state.status === 'down') {
      this.deps.log.info(
        { target: this.sink?.target, backlog: this.queue.length + n, afterFailures: this.failures },
        'InfluxDB reachable; writing telemetry',
      );
    }
    this.failures = 0;
    this.state.status = 'up';
    if (n === 0) return;
    this.counts.written += n;
    this.state.lastWriteAt = this.deps.clock.now();
    this.callback(this.deps.onWritten, n);
  }

  private failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.state.status === 'up' || this.failures === 0) {
      this.deps.log.warn(
        { err: message, target: this.sink?.target, buffered: this.queue.length },
        'InfluxDB unreachable; buffering telemetry',
      );
    }
    this.failures++;
    this.state.status = 'down';
    this.state.lastError = message;
  }

  private countDropped(n: number): void {
    this.counts.dropped += n;
    this.callback(this.deps.onDropped, n);
  }

  private callback(fn: ((n: number) => void) | undefined, n: number): void {
    try {
      fn?.(n);
    } catch (err) {
      this.deps.log.error({ err }, 'telemetry writer callback failed');
    }
  }

  private async reloadRegistry(): Promise<void> {
    this.lastRegistryLoad = this.deps.clock.now();
    try {
      await this.tags.reload();
    } catch (err) {
      this.deps.log.warn({ err }, 'telemetry: registry placements could not be loaded; points are placed one by one');
    }
  }
}

/** Resolves when `work` settles or after `ms`, whichever comes first; never rejects. */
async function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  try {
    await Promise.race([work.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
