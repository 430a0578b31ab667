// The volunteer-visit feature assembled: schedules, SMS check-in/out, reminders and missed-visit sweeps on node-cron, the ledger.
import { schedule as cronSchedule, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Clock } from '../core/clock.js';
import { GatewayError, errorMessage } from '../core/errors.js';
import { everyTriggerRuns, minuteSlot, type JobRunner, type SlotOptions } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { InboundSms, OutboundSms } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import type { Store } from '../storage/ports.js';
import { VisitReplies } from './checkin.js';
import { VisitJobs } from './jobs.js';
import { VolunteerLedger, type LedgerEntryView, type LedgerView } from './ledger.js';
import { VisitSchedule, type NewVisitInput, type OccurrenceQuery, type VisitPatch, type VisitPlanView } from './schedule.js';
import { DEFAULT_VISIT_SETTINGS, type OccurrenceView, type VisitSettings } from './types.js';

/** Same shape as the ReplyRouter's handler (gateway/incidents/replies.ts). */
export type VisitReplyHandler = (sms: InboundSms, command: string, latest: OutboundSms | null) => Promise<string>;

export interface VisitServiceDeps {
  store: Pick<Store, 'registry' | 'visits' | 'incidents' | 'sms' | 'transaction'>;
  clock: Clock;
  log: Logger;
  /** Local zone of schedules and reminders (config TZ). */
  timeZone: string;
  /** The outbound SMS queue (the gateway's SmsDispatcher). */
  sms: SmsQueue;
  /** The ReplyRouter: replies to visit reminders (context kind 'visit') are routed here. */
  replies: { register(kind: 'visit', handler: VisitReplyHandler): void };
  /** A volunteer texted 没人: nobody answers the resident's door. Connect to the alarm path. */
  onDoorUnanswered(residentId: string, volunteerId: string): Promise<void>;
  /** A volunteer checked in: a sign of life for the resident (connect to InactivityMonitor.onCheckIn). */
  onCheckIn?(residentId: string, at: number): void | Promise<void>;
  settings?: Partial<VisitSettings>;
  /**
   * The volunteer's own page, signed for her alone and valid until `expiresAt` (ms): the reminder carries it so she can
   * see her visits and check in from the phone without a password. Without it the reminder has no link.
   */
  volunteerLink?: (volunteerId: string, expiresAt: number) => string;
  /**
   * 'cron' (default): node-cron runs the evening reminder and a per-minute missed-visit sweep in `timeZone`.
   * 'manual': nothing runs by itself; tests drive runReminders()/sweepMissed() on a ManualClock.
   */
  triggers?: 'cron' | 'manual';
  /** Nodes sharing one database: each minute's reminder run and missed sweep runs on one of them (default: this node). */
  slots?: JobRunner;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export class VisitService {
  private readonly settings: VisitSettings;
  readonly schedule: VisitSchedule;
  readonly ledger: VolunteerLedger;
  readonly replies: VisitReplies;
  readonly jobs: VisitJobs;
  private tasks: ScheduledTask[] = [];
  /** Every job runs through this chain, so reminders and sweeps never overlap, whoever triggers them. */
  private chain: Promise<unknown> = Promise.resolve();
  private running = false;

  constructor(private readonly deps: VisitServiceDeps) {
    this.settings = { ...DEFAULT_VISIT_SETTINGS, ...deps.settings };
    const core = { store: deps.store, clock: deps.clock, log: deps.log, timeZone: deps.timeZone, settings: this.settings };
    this.schedule = new VisitSchedule(core);
    this.ledger = new VolunteerLedger({ ...core, schedule: this.schedule });
    this.replies = new VisitReplies({
      ...core,
      schedule: this.schedule,
      ledger: this.ledger,
      sms: deps.sms,
      onDoorUnanswered: (residentId, volunteerId) => deps.onDoorUnanswered(residentId, volunteerId),
      onCheckIn: (residentId, at) => deps.onCheckIn?.(residentId, at),
    });
    this.jobs = new VisitJobs({
      ...core,
      schedule: this.schedule,
      sms: deps.sms,
      ...(deps.volunteerLink ? { volunteerLink: deps.volunteerLink } : {}),
    });
  }

  /** Registers the reply handler, starts the cron triggers, then catches up on reminders and missed visits. */
  async start(): Promise<void> {
    if (this.running) return;
    const match = HHMM.exec(this.settings.reminderTime);
    if (!match) throw new GatewayError('GW_ERR_CONFIG', `visit reminder time must be "HH:MM", got "${this.settings.reminderTime}"`);
    this.running = true;
    this.deps.replies.register('visit', (sms, command) => this.replies.handle(sms, command));
    if ((this.deps.triggers ?? 'cron') === 'cron') {
      const options = { timezone: this.deps.timeZone, noOverlap: true, unref: true, logger: cronLogger(this.deps.log) };
      const [, hour, minute] = match;
      this.tasks = [
        cronSchedule(`${Number(minute)} ${Number(hour)} * * *`, () => this.runReminders(), { ...options, name: 'visits:reminders' }),
        cronSchedule('* * * * *', () => this.sweepMissed(), { ...options, name: 'visits:missed' }),
      ];
    }
    await this.runReminders({ catchUp: true });
    await this.sweepMissed();
  }

  /** Stops the triggers and waits for a job under way. */
  async stop(): Promise<void> {
    this.running = false;
    for (const task of this.tasks) await task.destroy();
    this.tasks = [];
    await this.chain;
  }

  /** Patterns of the node-cron tasks while started (for /healthz and tests). */
  cronPatterns(): string[] {
    return this.tasks.map((t) => t.getPattern());
  }

  /** Due reminders (tomorrow's after the reminder time; with catchUp also today's remaining). Returns SMS sent. */
  runReminders(opts: { catchUp: boolean } = { catchUp: false }): Promise<number> {
    // Retried while another node is busy with it: that node may die before it finishes the evening's reminders.
    return this.exclusive('reminders', () => this.slotted('visits:reminders', () => this.jobs.remindersDue(opts), { retryBusyMs: 60_000 }));
  }

  /** Marks newly missed occurrences and tells the team leader and grid worker. Returns occurrences alerted. */
  sweepMissed(): Promise<number> {
    // Not retried: the next minute's sweep looks back over the whole alert window.
    return this.exclusive('missed', () => this.slotted('visits:missed', () => this.jobs.sweepMissed()));
  }

  // ---- coordinator API (used by gateway/http/routes/visits.ts) ----

  listOccurrences(q: OccurrenceQuery): Promise<OccurrenceView[]> {
    return this.schedule.list(q);
  }
  getVisit(id: string): Promise<VisitPlanView> {
    return this.schedule.view(id);
  }
  createVisit(input: NewVisitInput): Promise<VisitPlanView> {
    return this.schedule.create(input);
  }
  updateVisit(id: string, patch: VisitPatch): Promise<VisitPlanView> {
    return this.schedule.update(id, patch);
  }
  pauseVisit(id: string): Promise<VisitPlanView> {
    return this.schedule.pause(id);
  }
  resumeVisit(id: string): Promise<VisitPlanView> {
    return this.schedule.resume(id);
  }
  cancelVisit(id: string): Promise<VisitPlanView> {
    return this.schedule.cancel(id);
  }
  cancelOccurrence(visitId: string, start: string, note?: string): Promise<OccurrenceView> {
    return this.schedule.cancelOccurrence(visitId, start, note);
  }
  reassignOccurrence(visitId: string, start: string, volunteerId: string): Promise<OccurrenceView> {
    return this.schedule.reassignOccurrence(visitId, start, volunteerId);
  }
  correctHours(visitId: string, start: string, hours: number, note: string | null, by: string): Promise<OccurrenceView> {
    return this.ledger.correct(visitId, start, hours, note, by);
  }
  volunteerLedger(volunteerId: string): Promise<LedgerView> {
    return this.ledger.ledger(volunteerId);
  }
  redeem(volunteerId: string, points: number, note: string, by: string): Promise<LedgerEntryView> {
    return this.ledger.redeem(volunteerId, points, note, by);
  }
  hoursCsv(month: string): Promise<string> {
    return this.ledger.hoursCsv(month);
  }

  /**
   * Once per minute across nodes; each SMS commits with its run key and the slot's record (atomic), so a node that
   * dies mid-run leaves the rest of the run to the next trigger and never sends one twice.
   */
  private async slotted(job: string, work: () => Promise<number>, options: SlotOptions = {}): Promise<number> {
    const slots = this.deps.slots ?? everyTriggerRuns;
    const outcome = await slots.run(job, minuteSlot(this.deps.clock.now()), work, options);
    return outcome.ran ? outcome.value : 0;
  }

  private exclusive(name: string, job: () => Promise<number>): Promise<number> {
    const run = this.chain.then(job).catch((err: unknown) => {
      this.deps.log.error({ err: errorMessage(err), job: name }, 'visit job failed; it runs again on its next trigger');
      return 0;
    });
    this.chain = run;
    return run;
  }
}

/** node-cron logs through the gateway's logger instead of the console. */
function cronLogger(log: Logger): CronLogger {
  return {
    info: (message) => log.info({ part: 'node-cron' }, message),
    warn: (message) => log.warn({ part: 'node-cron' }, message),
    error: (message, err) => log.error({ part: 'node-cron', err: err ? errorMessage(err) : undefined }, errorMessage(message)),
    debug: (message) => log.debug({ part: 'node-cron' }, errorMessage(message)),
  };
}
