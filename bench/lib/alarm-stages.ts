// Splits each alarm's latency into stages, from the gateway's own bus events: broker hook, durable commit, first SMS attempt, arrival at the SMS server.
import { performance } from 'node:perf_hooks';
import type { Gateway } from '../../gateway/app.js';
import { residentIndexIn } from './registry.js';
import { summarize, type LatencySummary } from './stats.js';

export const STAGES = ['publish_to_hook', 'hook_to_commit', 'commit_to_sms_attempt', 'sms_attempt_to_server'] as const;
export type Stage = (typeof STAGES)[number];

/** What each stage covers, for the report. */
export const STAGE_TEXT: Record<Stage, string> = {
  publish_to_hook: 'mqtt.js publish -> aedes authorizePublish entered (client, loopback TCP, aedes parse)',
  hook_to_commit: 'hook -> event durably committed and signalReceived emitted (group commit, SQLite COMMIT)',
  commit_to_sms_attempt:
    'signalReceived -> first page SMS announced sending (signal queue, the incident transaction with its SMS rows, its COMMIT; sends start only after it)',
  sms_attempt_to_server:
    'SMS announced sending -> request at the Twilio-compatible server (handed to the sender thread, twilio SDK and axios there, loopback HTTP, the server parsing the headers)',
};

interface Marks {
  hook?: number;
  committed?: number;
  sending?: number;
}

/** One alarm split into its stages (ms), with its total: the slowest of a round are reported as they are. */
export interface StagedAlarm {
  /** performance.now() of the PUBLISH. */
  startedAt: number;
  /** Seconds from the round's first measured alarm (clusters point at something periodic). */
  roundOffsetS?: number;
  totalMs: number;
  stages: Record<Stage, number>;
}

/** How many of each round's slowest alarms are kept whole, to show which stage their time went to. */
const SLOWEST_KEPT = 10;

export class AlarmStages {
  private readonly marks = new Map<number, Marks>();
  private readonly samples: Record<Stage, number[]> = {
    publish_to_hook: [],
    hook_to_commit: [],
    commit_to_sms_attempt: [],
    sms_attempt_to_server: [],
  };
  private alarms: StagedAlarm[] = [];

  constructor(private readonly deps: { gateway: Gateway }) {}

  start(): void {
    const bus = this.deps.gateway.bus;
    bus.on(this, 'signalReceived', (signal) => {
      const now = performance.now();
      const index = residentIndex(signal.residentId);
      if (index === null || (signal.type !== 'sos' && signal.type !== 'fall')) return;
      const m = this.marks.get(index);
      if (!m || m.committed !== undefined) return;
      m.hook = signal.arrivedHr;
      m.committed = now;
    });
    bus.on(this, 'smsStatusChanged', (sms) => {
      if (sms.status !== 'sending') return;
      const now = performance.now();
      const index = residentIndexIn(sms.body);
      const m = index === null ? undefined : this.marks.get(index);
      if (m && m.committed !== undefined && m.sending === undefined) m.sending = now;
    });
  }

  stop(): void {
    this.deps.gateway.bus.removeAll(this);
  }

  /** Call just before resident `index`'s alarm is published. */
  begin(index: number): void {
    this.marks.set(index, {});
  }

  /** Call when the alarm's SMS arrived; `counted` is false for warm-up alarms. */
  end(index: number, publishedAt: number, arrivedAt: number, counted: boolean): void {
    const m = this.marks.get(index);
    this.marks.delete(index);
    if (!counted || !m || m.hook === undefined || m.committed === undefined || m.sending === undefined) return;
    const stages: Record<Stage, number> = {
      publish_to_hook: m.hook - publishedAt,
      hook_to_commit: m.committed - m.hook,
      commit_to_sms_attempt: m.sending - m.committed,
      sms_attempt_to_server: arrivedAt - m.sending,
    };
    for (const stage of STAGES) this.samples[stage].push(stages[stage]);
    this.alarms.push({ startedAt: publishedAt, totalMs: arrivedAt - publishedAt, stages });
  }

  /** Summaries of the samples since the last call, and the slowest alarms whole; then starts afresh. */
  take(): { stages: Record<Stage, LatencySummary>; slowest: StagedAlarm[] } {
    const of = (stage: Stage): LatencySummary => summarize(this.samples[stage]);
    const stages = {
      publish_to_hook: of('publish_to_hook'),
      hook_to_commit: of('hook_to_commit'),
      commit_to_sms_attempt: of('commit_to_sms_attempt'),
      sms_attempt_to_server: of('sms_attempt_to_server'),
    };
    const first = this.alarms[0]?.startedAt ?? 0;
    const slowest = [...this.alarms]
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, SLOWEST_KEPT)
      .map((a) => ({ ...a, roundOffsetS: (a.startedAt - first) / 1000 }));
    for (const stage of STAGES) this.samples[stage] = [];
    this.alarms = [];
    return { stages, slowest };
  }
}

function residentIndex(residentId: string): number | null {
  const m = /^r-(\d+)$/.exec(residentId);
  return m?.[1] ? Number(m[1]) : null;
}
