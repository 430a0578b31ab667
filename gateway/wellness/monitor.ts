// Inactivity monitor: counts each watched resident's waking time without a sign of life; opens a wellness check, then pages.
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { CareTaskSink, Signal } from '../core/types.js';
import type { IngestEvents } from '../ingest/events.js';
import type { Store } from '../storage/ports.js';
import type { WellnessState } from './repo.js';
import { HOUR_MS, SIGN_OF_LIFE_EVENTS, signSourceOf, wanted, watchOf, type SignSource, type Watch } from './rules.js';
import { describeWakingHours, isWaking, wakingMs } from './waking.js';

export interface InactivityMonitorDeps {
  /** Registry (who is watched) and store.wellness (the counts, across restarts). */
  store: Pick<Store, 'registry' | 'wellness'>;
  bus: EventBus<Pick<IngestEvents, 'signalReceived'>>;
  clock: Clock;
  log: Logger;
  /** Zone of the residents' waking hours (config TZ). */
  timeZone: string;
  /** The care-task service: wellness-check tasks open and clear here. */
  tasks: CareTaskSink;
  /** Pages through the alarm path: raise an `inactivity` incident for the resident. */
  raise: (residentId: string, hours: number) => Promise<void>;
  /** A sign of life after this episode's page: tell the open incident (its timeline, the board). */
  afterPage?: (residentId: string, at: number, source: SignSource) => Promise<unknown>;
  /** How often counts advance and thresholds are checked (default one minute). */
  sweepMs?: number;
  /**
   * How often the counts themselves are saved (default five minutes). Task and page marks and check-ins are
   * saved at once; a crash loses at most this much counted time, and never a sign of life (see catchUp).
   */
  saveEveryMs?: number;
}

/** What one sweep did, for logs and tests. */
export interface SweepReport {
  watched: number;
  tasksOpened: number;
  paged: number;
  tasksCleared: number;
  ms: number;
}

const DEFAULT_SWEEP_MS = 60_000;
const DEFAULT_SAVE_EVERY_MS = 5 * 60_000;
/** Rows per write transaction, and residents per stretch of the sweep, between which alarms get the event loop. */
const CHUNK = 200;

export class InactivityMonitor {
  private readonly states = new Map<string, WellnessState>();
  /** The page (pagedAt) each resident's sign-of-life note was made for. */
  private readonly toldAfterPage = new Map<string, number>();
  private watches = new Map<string, Watch>();
  /** Changed since the last save. */
  private readonly dirty = new Set<string>();
  /** Changed in a way that must not wait for the periodic save: task and page marks, check-ins. */
  private readonly urgent = new Set<string>();
  private cursor = 0;
  private savedCursor = -1;
  private lastFullSave = Number.NEGATIVE_INFINITY;
  private residentsStamp: string | null = null;
  private timer: TimerHandle | null = null;
  /** Sweeps, clears and flushes run one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();
  /** A sweep waiting its turn: later requests share it rather than queue more. */
  private queuedSweep: Promise<SweepReport> | null = null;
  private running = false;

  constructor(private readonly deps: InactivityMonitorDeps) {}

  /**
   * Loads the saved counts and resumes them from now: the time the gateway was not running is not counted,
   * because no sign of life could have reached it then. Events recorded after the last save are read back.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { store, bus, clock } = this.deps;
    bus.on(this, 'signalReceived', (signal) => this.onSignal(signal));
    try {
      const now = clock.now();
      for (const s of await store.wellness.list()) {
        this.states.set(s.residentId, { ...s, countedUntil: Math.max(s.countedUntil, now) });
        this.dirty.add(s.residentId);
      }
      // After the saved counts: a resident no longer watched has its open task cleared and its count dropped.
      await this.loadWatches();
      await this.catchUp();
      await this.sweep();
    } catch (err) {
      this.running = false;
      bus.removeAll(this);
      throw err;
    }
    this.arm();
  }

  /** Stops the sweeps, waits for work under way and saves the counts. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    this.deps.bus.removeAll(this);
    await this.chain;
    await this.saveAll();
  }

  /** A volunteer checked in at the resident's home: a sign of life, saved at once (it is not in the event log). */
  onCheckIn(residentId: string, at: number): Promise<void> {
    const episode = this.signOfLife(residentId, at, 'check_in');
    if (this.states.has(residentId)) this.urgent.add(residentId);
    return this.exclusive(async () => {
      if (episode) await this.reconcileOne(residentId);
      await this.saveUrgent();
    });
  }

  /** Advances every count to now and acts on the thresholds; runs every sweepMs, and tests call it directly. */
  sweep(): Promise<SweepReport> {
    if (this.queuedSweep) return this.queuedSweep;
    const queued = this.exclusive(async () => {
      this.queuedSweep = null;
      return this.runSweep();
    });
    this.queuedSweep = queued;
    return queued;
  }

  /** A resident's state as the monitor holds it (for the API and tests). */
  stateOf(residentId: string): Readonly<WellnessState> | null {
    const s = this.states.get(residentId);
    return s ? { ...s } : null;
  }

  private onSignal(signal: Signal): void {
    this.cursor = Math.max(this.cursor, signal.eventId);
    const source = signSourceOf(signal.type);
    if (!source) return;
    if (this.signOfLife(signal.residentId, signal.receivedAt, source)) {
      // Logged by exclusive(); the bus has nobody to tell.
      this.exclusive(async () => {
        await this.reconcileOne(signal.residentId);
        await this.saveUrgent();
      }).catch(() => undefined);
    }
  }

  /**
   * Records a sign of life in memory (the next sweep saves it). Returns true when it ends an episode, so
   * the caller clears the task now rather than at the next sweep.
   */
  private signOfLife(residentId: string, at: number, source: SignSource): boolean {
    const state = this.states.get(residentId);
    const watch = this.watches.get(residentId);
    if (!state || !watch) return false;
    // A replayed or late event older than the newest sign says nothing new.
    if (state.lastSignAt !== null && at < state.lastSignAt) return false;
    // Also true while a task is being opened (its mark not set yet): the clear must follow it.
    const episode = state.taskOpenedAt !== null || state.pagedAt !== null || wanted(state.inactiveMs, watch).task;
    if (state.pagedAt !== null && this.deps.afterPage) {
      const { afterPage } = this.deps;
      // Once per episode: the first sign after the page is the news; the episode ends with it.
      if (this.toldAfterPage.get(residentId) !== state.pagedAt) {
        this.toldAfterPage.set(residentId, state.pagedAt);
        void afterPage(residentId, at, source).catch((err: unknown) =>
          this.deps.log.error({ err: errorMessage(err), residentId }, 'could not note a sign of life on the inactivity incident'),
        );
      }
    }
    state.lastSignAt = at;
    state.lastSignSource = source;
    state.inactiveMs = 0;
    state.countedUntil = Math.max(state.countedUntil, at);
    this.dirty.add(residentId);
    return episode;
  }

  private async runSweep(): Promise<SweepReport> {
    const started = performance.now();
    const report: SweepReport = { watched: 0, tasksOpened: 0, paged: 0, tasksCleared: 0, ms: 0 };
    await this.loadWatches();
    const now = this.deps.clock.now();
    for (const watch of this.watches.values()) {
      if (report.watched > 0 && report.watched % CHUNK === 0) await yieldToAlarms();
      const state = this.stateFor(watch.residentId, now);
      const counted = wakingMs(state.countedUntil, now, watch.waking, this.deps.timeZone);
      state.countedUntil = Math.max(state.countedUntil, now);
      if (counted > 0) {
        state.inactiveMs += counted;
        this.dirty.add(state.residentId);
      }
      report.watched++;
      await this.reconcile(state, watch, now, report);
    }
    await this.saveUrgent();
    if (now - this.lastFullSave >= (this.deps.saveEveryMs ?? DEFAULT_SAVE_EVERY_MS)) await this.saveAll();
    report.ms = performance.now() - started;
    if (report.tasksOpened + report.paged + report.tasksCleared > 0) this.deps.log.info({ ...report }, 'inactivity sweep acted');
    return report;
  }

  /** A new watched resident starts counting now: time before the gateway watched them says nothing. */
  private stateFor(residentId: string, now: number): WellnessState {
    let state = this.states.get(residentId);
    if (!state) {
      state = { residentId, lastSignAt: null, lastSignSource: null, inactiveMs: 0, countedUntil: now, taskOpenedAt: null, pagedAt: null };
      this.states.set(residentId, state);
      this.dirty.add(residentId);
    }
    return state;
  }

  private async reconcileOne(residentId: string): Promise<void> {
    const state = this.states.get(residentId);
    const watch = this.watches.get(residentId);
    if (state && watch) await this.reconcile(state, watch, this.deps.clock.now(), null);
  }

  /**
   * Brings the task and the page in line with the count. Each action runs before its mark is saved, so a
   * crash in between repeats it: the task sink opens idempotently, and a second raise joins the incident
   * already open instead of paging again.
   */
  private async reconcile(state: WellnessState, watch: Watch, now: number, report: SweepReport | null): Promise<void> {
    const want = wanted(state.inactiveMs, watch);
    const id = state.residentId;
    if (!want.task) {
      // A sign of life (or a raised threshold) ends the episode.
      if (state.taskOpenedAt !== null) {
        const reason = state.lastSignSource ? `sign of life: ${state.lastSignSource}` : 'below the inactivity threshold';
        if (await this.attempt(id, 'clear the wellness check', () => this.deps.tasks.clear('wellness_check', id, undefined, reason, now))) {
          state.taskOpenedAt = null;
          this.urgent.add(id);
          if (report) report.tasksCleared++;
        }
      }
      if (state.pagedAt !== null) {
        state.pagedAt = null;
        this.urgent.add(id);
      }
      return;
    }
    // Counts only grow while awake, so a threshold is crossed then (the instant before `now` covers a crossing
    // at the window's last minute); this keeps a registry edit or a restart at night from acting at night.
    if (!isWaking(now, watch.waking, this.deps.timeZone) && !isWaking(now - 1, watch.waking, this.deps.timeZone)) return;
    const hoursInactive = Math.round((state.inactiveMs / HOUR_MS) * 10) / 10;
    if (state.taskOpenedAt === null) {
      const detail = {
        inactivityHours: watch.taskHours,
        hoursWithoutSignOfLife: hoursInactive,
        wakingHours: describeWakingHours(watch.waking),
        lastSignOfLifeAt: state.lastSignAt === null ? null : new Date(state.lastSignAt).toISOString(),
        lastSignSource: state.lastSignSource,
      };
      if (
        await this.attempt(id, 'open a wellness check', () => this.deps.tasks.open({ kind: 'wellness_check', residentId: id, detail }, now))
      ) {
        state.taskOpenedAt = now;
        this.urgent.add(id);
        if (report) report.tasksOpened++;
        this.deps.log.info({ resident: id, hours: hoursInactive }, 'wellness check opened: no sign of life');
      }
    }
    if (want.page && state.pagedAt === null) {
      if (await this.attempt(id, 'page through the alarm path', () => this.deps.raise(id, watch.pageHours))) {
        state.pagedAt = now;
        this.urgent.add(id);
        if (report) report.paged++;
        this.deps.log.warn({ resident: id, hours: hoursInactive }, 'inactivity alarm raised: no sign of life');
      }
    }
  }

  /** One failing resident must not stop the sweep for the others; the next sweep tries again. */
  private async attempt(residentId: string, what: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.deps.log.error(
        { err: errorMessage(err), resident: residentId },
        `inactivity monitor could not ${what}; retrying on the next sweep`,
      );
      return false;
    }
  }

  /** Reloads who is watched; a resident no longer watched has an open task cleared and their count dropped. */
  private async loadWatches(): Promise<void> {
    // Parsing every resident each minute would cost more than the whole sweep: only when the registry changed.
    const stamp = await this.deps.store.wellness.residentsStamp();
    if (stamp === this.residentsStamp) return;
    this.residentsStamp = stamp;
    const next = new Map<string, Watch>();
    for (const resident of await this.deps.store.registry.listResidents()) {
      const watch = watchOf(resident);
      if (watch) next.set(resident.id, watch);
    }
    this.watches = next;
    const dropped: string[] = [];
    for (const state of this.states.values()) {
      if (next.has(state.residentId)) continue;
      if (state.taskOpenedAt !== null) {
        const id = state.residentId;
        const ok = await this.attempt(id, 'clear the wellness check', () =>
          this.deps.tasks.clear('wellness_check', id, undefined, 'inactivity monitoring turned off', this.deps.clock.now()),
        );
        if (!ok) continue;
      }
      dropped.push(state.residentId);
    }
    for (const id of dropped) {
      this.states.delete(id);
      this.dirty.delete(id);
      this.urgent.delete(id);
    }
    if (dropped.length > 0) await this.deps.store.wellness.remove(dropped);
  }

  /** Signs of life recorded after the last save (acknowledged to the device, then a crash): taken into account now. */
  private async catchUp(): Promise<void> {
    const { wellness } = this.deps.store;
    const saved = await wellness.eventCursor();
    if (saved === null) {
      // First start: history from before the monitor existed must not open a flood of tasks.
      this.cursor = Math.max(this.cursor, await wellness.lastEventId());
      return;
    }
    const { signs, lastEventId } = await wellness.signsAfter(saved, SIGN_OF_LIFE_EVENTS);
    this.cursor = Math.max(this.cursor, lastEventId);
    for (const sign of signs) {
      const source = signSourceOf(sign.type);
      if (source) this.signOfLife(sign.residentId, sign.receivedAt, source);
    }
    if (signs.length > 0)
      this.deps.log.info({ residents: signs.length }, 'inactivity: signs of life recorded before the restart taken into account');
  }

  /** Saves task and page marks and check-ins now; the event cursor stays, as other counts may not be saved yet. */
  private async saveUrgent(): Promise<void> {
    if (this.urgent.size === 0) return;
    const ids = [...this.urgent];
    this.urgent.clear();
    if (await this.save(ids, null)) for (const id of ids) this.dirty.delete(id);
    else for (const id of ids) this.urgent.add(id);
  }

  /**
   * Saves every changed count, then the event cursor: once it moves, the events before it are known to be in
   * the saved counts. Written in chunks so a large neighbourhood never holds the database for long.
   */
  private async saveAll(): Promise<void> {
    this.lastFullSave = this.deps.clock.now();
    const cursor = this.cursor;
    const ids = [...new Set([...this.urgent, ...this.dirty])];
    if (ids.length === 0 && cursor === this.savedCursor) return;
    this.urgent.clear();
    this.dirty.clear();
    for (let i = 0; i < ids.length || i === 0; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const last = i + CHUNK >= ids.length;
      if (!(await this.save(chunk, last ? cursor : null))) {
        for (const id of ids.slice(i)) this.dirty.add(id);
        return;
      }
      if (last) this.savedCursor = cursor;
      else await yieldToAlarms();
    }
  }

  private async save(ids: string[], cursor: number | null): Promise<boolean> {
    const states = ids.map((id) => this.states.get(id)).filter((s): s is WellnessState => s !== undefined);
    try {
      await this.deps.store.wellness.save(
        states.map((s) => ({ ...s })),
        cursor,
      );
      return true;
    } catch (err) {
      this.deps.log.error(
        { err: errorMessage(err), states: states.length },
        'inactivity counts could not be saved; retrying on the next sweep',
      );
      return false;
    }
  }

  private arm(): void {
    if (!this.running) return;
    // Re-armed before the sweep runs, so a slow sweep never stretches the period; sweep() skips a queued duplicate.
    this.timer = this.deps.clock.setTimer(this.deps.sweepMs ?? DEFAULT_SWEEP_MS, () => {
      this.timer = null;
      this.arm();
      this.sweep().catch(() => undefined);
    });
  }

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(job);
    this.chain = run.catch((err: unknown) => {
      this.deps.log.error({ err: errorMessage(err) }, 'inactivity monitor job failed');
    });
    return run;
  }
}

/** Lets I/O callbacks (an alarm arriving) run between stretches of work. */
function yieldToAlarms(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
