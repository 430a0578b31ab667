// The slow-alarm log: an alarm whose first SMS send started later than ALARM_SLOW_LOG_MS after its arrival is logged once, with where its time went.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/logger.js';
import type { OutboundSms, Signal } from '../core/types.js';
import type { LoopWatch, LoopWindow } from './loop-watch.js';

/** Alarms traced at once at most: beyond it the oldest trace is dropped (a flood of alarms is logged by other means). */
const MAX_TRACED = 1024;

export interface SlowAlarmLogDeps {
  /** ALARM_SLOW_LOG_MS; 0 traces nothing at all. */
  thresholdMs: number;
  log: Logger;
  /** The event loop's lateness and collections; started and stopped with the log, its timer run while alarms are traced. */
  loop: Pick<LoopWatch, 'start' | 'stop' | 'during' | 'watching'>;
  /** Whether the store holds the resident in memory (no database read for it); undefined when the store has no cache. */
  residentCached?: (residentId: string) => boolean | undefined;
}

/** One alarm's instants, all performance.now(). */
interface Trace {
  deviceId: string;
  residentId: string;
  eventId: number;
  arrived: number;
  recorded: number;
  taken?: number;
  began?: number;
  committed?: number;
  /** How long its transaction's COMMIT itself took (the store's commit timing), part of transactionMs. */
  commitMs?: number;
  incidentId?: string;
  uncached?: boolean;
}

/** Milliseconds each stage took, in order; a stage whose mark is missing counts as 0 and the next takes its share. */
export interface AlarmStages {
  /** Broker hook -> the event's group commit done (waiting for the group before it, the INSERT, the COMMIT). */
  recordMs: number;
  /** -> the signal processor took it into a transaction (alarm batches before it still running). */
  queueMs: number;
  /** -> that transaction began its work (family pages of the same resident still running, a connection, BEGIN). */
  beginMs: number;
  /** -> its COMMIT done (the reads, the incident, its pages' rows, the COMMIT itself). */
  transactionMs: number;
  /** Of transactionMs, the COMMIT alone (PostgreSQL: its round trip with the WAL flush); absent when not timed. */
  commitMs?: number;
  /** -> the first page's SMS send starting (the SMS queue, building the request). */
  sendMs: number;
}

/** The fields of the log line (tests and the cluster benchmark read them). */
export interface SlowAlarmReport extends AlarmStages {
  deviceId: string;
  incidentId: string;
  eventId: number;
  totalMs: number;
  /** Wall-clock time of the arrival (ms since epoch), to line reports of several nodes up. */
  arrivedAt: number;
  lagMs: number;
  gcMs: number;
  gcCount: number;
  residentUncached?: boolean;
}

/**
 * Marks each alarm's instants as it goes: recorded (the bus's signalReceived), taken, began, opened and committed (the
 * incident service), and its first page's send (the dispatcher's onSent). Only an alarm whose transaction opened an
 * incident and paged its first step is reported; any other trace is dropped at its commit. Every method is cheap
 * (a performance.now() and a map operation) and never throws into the alarm path.
 */
export class SlowAlarmLog {
  private readonly byEvent = new Map<number, Trace>();
  private readonly byIncident = new Map<string, Trace>();
  /** The store's last COMMIT time: a transaction's afterCommit effects run right after its own is timed. */
  private lastCommitMs: number | undefined;

  constructor(private readonly deps: SlowAlarmLogDeps) {}

  private get on(): boolean {
    return this.deps.thresholdMs > 0;
  }

  start(): void {
    if (this.on) this.deps.loop.start();
  }

  stop(): void {
    this.deps.loop.stop();
    this.byEvent.clear();
    this.byIncident.clear();
  }

  /** A signal's event was committed (signalReceived): an alarm starts its trace here, from its arrival at the hook. */
  recorded(signal: Signal): void {
    if (!this.on || (signal.type !== 'sos' && signal.type !== 'fall') || signal.arrivedHr === undefined) return;
    this.guard(() => {
      this.deps.loop.watching(true);
      bounded(this.byEvent, signal.eventId, {
        deviceId: signal.deviceId,
        residentId: signal.residentId,
        eventId: signal.eventId,
        arrived: signal.arrivedHr ?? 0,
        recorded: performance.now(),
      });
    });
  }

  /** The signal processor handed these signals to the incident service. */
  taken(signals: readonly Signal[]): void {
    this.mark(signals, (t, now) => (t.taken = now));
  }

  /** Their transaction began its work (before any read). */
  began(signals: readonly Signal[]): void {
    this.mark(signals, (t, now) => {
      t.began = now;
      t.uncached = this.deps.residentCached?.(t.residentId) === false ? true : undefined;
    });
  }

  /** The signal opened `incidentId` and paged its first step in that transaction. */
  opened(signal: Signal, incidentId: string): void {
    const trace = this.on ? this.byEvent.get(signal.eventId) : undefined;
    if (trace) trace.incidentId = incidentId;
  }

  /** The store timed a COMMIT (any transaction's); the one that runs committed() next is the one just timed. */
  commitTimed(ms: number): void {
    this.lastCommitMs = ms;
  }

  /** Their transaction committed, before the SMS it enqueued start: traces that opened nothing end here. */
  committed(signals: readonly Signal[]): void {
    const commitMs = this.lastCommitMs;
    this.lastCommitMs = undefined;
    this.mark(signals, (t, now) => {
      this.byEvent.delete(t.eventId);
      if (t.incidentId === undefined) return;
      t.committed = now;
      if (commitMs !== undefined) t.commitMs = commitMs;
      bounded(this.byIncident, t.incidentId, t);
    });
    this.idleWhenDone();
  }

  /** An SMS request started at `sentAt`: the first step's page of a traced incident ends its trace. */
  pageSent(msg: OutboundSms, sentAt: number): void {
    if (!this.on || msg.purpose !== 'page' || msg.step !== 1 || !msg.incidentId) return;
    const trace = this.byIncident.get(msg.incidentId);
    if (!trace) return;
    this.byIncident.delete(msg.incidentId);
    this.idleWhenDone();
    if (sentAt - trace.arrived <= this.deps.thresholdMs) return;
    this.guard(() => {
      const report = reportOf(trace, msg.incidentId ?? '', sentAt, this.deps.loop.during(trace.arrived, sentAt));
      this.deps.log.warn(report, describe(report));
    });
  }

  /** No alarm traced any more: the lateness timer stops (an alarm that never pages is dropped at its commit). */
  private idleWhenDone(): void {
    if (this.byEvent.size === 0 && this.byIncident.size === 0) this.deps.loop.watching(false);
  }

  private mark(signals: readonly Signal[], set: (trace: Trace, now: number) => void): void {
    if (!this.on || this.byEvent.size === 0) return;
    this.guard(() => {
      const now = performance.now();
      for (const s of signals) {
        if (s.type !== 'sos' && s.type !== 'fall') continue;
        const trace = this.byEvent.get(s.eventId);
        if (trace) set(trace, now);
      }
    });
  }

  /** A fault here is a lost report, never a fault of the alarm. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch {
      // Nothing to do: the alarm goes on unmeasured.
    }
  }
}

function bounded<K>(map: Map<K, Trace>, key: K, trace: Trace): void {
  if (map.size >= MAX_TRACED) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, trace);
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

function reportOf(t: Trace, incidentId: string, sentAt: number, loop: LoopWindow): SlowAlarmReport {
  // Each stage ends at its mark, or where the previous one ended when a mark is missing (a retried batch, say).
  const recorded = t.recorded;
  const taken = t.taken ?? recorded;
  const began = t.began ?? taken;
  const committed = t.committed ?? began;
  return {
    deviceId: t.deviceId,
    incidentId,
    eventId: t.eventId,
    totalMs: round(sentAt - t.arrived),
    recordMs: round(recorded - t.arrived),
    queueMs: round(taken - recorded),
    beginMs: round(began - taken),
    transactionMs: round(committed - began),
    ...(t.commitMs !== undefined ? { commitMs: round(t.commitMs) } : {}),
    sendMs: round(sentAt - committed),
    arrivedAt: Math.round(performance.timeOrigin + t.arrived),
    lagMs: round(loop.lagMs),
    gcMs: round(loop.gcMs),
    gcCount: loop.gcCount,
    ...(t.uncached ? { residentUncached: true } : {}),
  };
}

const STAGE_NAMES: [Exclude<keyof AlarmStages, 'commitMs'>, string][] = [
  ['recordMs', 'event commit'],
  ['queueMs', 'signal queue'],
  ['beginMs', 'waiting to begin'],
  ['transactionMs', 'incident transaction'],
  ['sendMs', 'SMS send start'],
];

/** One readable line: the total, the stage that took most, and the split. */
function describe(r: SlowAlarmReport): string {
  const [key, name] = STAGE_NAMES.reduce((a, b) => (r[b[0]] > r[a[0]] ? b : a));
  const split = STAGE_NAMES.map(
    ([k, n]) => `${n} ${r[k]}${k === 'transactionMs' && r.commitMs !== undefined ? ` (COMMIT ${r.commitMs})` : ''}`,
  ).join(', ');
  const uncached = r.residentUncached ? '; resident read from the database' : '';
  return (
    `slow alarm: ${r.totalMs} ms from arrival to its first SMS send, ${r[key]} of it ${name} ` +
    `(${split} ms; event loop late up to ${r.lagMs} ms, gc ${r.gcMs} ms in ${r.gcCount}${uncached})`
  );
}
