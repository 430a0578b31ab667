// The care-task digest: at the registry's times (node-cron, local zone) each grid worker gets one short SMS listing their open tasks.
import { schedule as cronSchedule, type ScheduledTask } from 'node-cron';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { everyTriggerRuns, type JobRunner } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { CareTaskKind, Device, DeviceKind } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import type { Store } from '../storage/ports.js';
import { addDays, formatDate, localDate, zonedTime, type CivilDate } from '../core/time.js';
import { digestText, type DigestItem } from './messages.js';
import { CARE_DIGEST_SETTING, DEFAULT_DIGEST_TIMES, type CareTask } from './types.js';

export interface CareDigestDeps {
  store: Pick<Store, 'registry' | 'supervision' | 'transaction'>;
  clock: Clock;
  log: Logger;
  /** Local zone of the digest times (config TZ). */
  timeZone: string;
  sms: SmsQueue;
  /** 'cron' (default): node-cron fires at each time; 'manual': tests call runDue() on a ManualClock. */
  triggers?: 'cron' | 'manual';
  /** A slot is still worth sending this long after its time (default 3 h); see runDue. */
  catchUpMs?: number;
  /** Nodes sharing one database send each slot from one node (default: this node alone sends it). */
  slots?: JobRunner;
}

export interface DigestSlot {
  day: CivilDate;
  /** Local "HH:MM". */
  time: string;
  at: number;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DEFAULT_CATCH_UP_MS = 3 * 60 * 60 * 1000;
/** Most useful first: a person to see, then a silent fixture, then one never installed right, then a battery. */
const KIND_ORDER: Record<CareTaskKind, number> = {
  wellness_check: 0,
  device_offline: 1,
  never_reported: 2,
  device_flooding: 3,
  low_battery: 4,
  button_untested: 5,
};

/** The digest's job name in the job slots (the slot is the digest time). */
export const DIGEST_JOB = 'care-digest';

export function slotKey(slot: Pick<DigestSlot, 'day' | 'time'>): string {
  return `digest:${formatDate(slot.day)}:${slot.time}`;
}

export class CareDigest {
  private tasks: ScheduledTask[] = [];
  private times: string[] = [...DEFAULT_DIGEST_TIMES];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CareDigestDeps) {}

  /** Reads the times, starts the cron triggers, then sends the latest slot if it was missed and is still useful. */
  async start(): Promise<void> {
    this.times = await this.loadTimes();
    this.schedule();
    await this.runDue();
  }

  /**
   * Re-reads the times after a registry import and re-schedules the cron triggers when they changed. Nothing is sent
   * now: a time added earlier today is not caught up (the workers already had today's list), and a slot that ran keeps
   * its run record, so a time kept across the change never sends twice.
   */
  async reload(): Promise<void> {
    const times = await this.loadTimes();
    if (times.join(',') === this.times.join(',')) return;
    for (const task of this.tasks) await task.destroy();
    this.tasks = [];
    this.times = times;
    this.schedule();
    this.deps.log.info({ times }, 'care digest re-scheduled');
  }

  private schedule(): void {
    if ((this.deps.triggers ?? 'cron') !== 'cron') return;
    const options = { timezone: this.deps.timeZone, noOverlap: true, unref: true };
    this.tasks = this.times.map((t) => {
      const [h, m] = t.split(':').map(Number);
      return cronSchedule(`${m} ${h} * * *`, () => this.runDue().then(() => undefined), { ...options, name: `care-digest:${t}` });
    });
  }

  async stop(): Promise<void> {
    for (const task of this.tasks) await task.destroy();
    this.tasks = [];
    await this.chain;
  }

  digestTimes(): string[] {
    return [...this.times];
  }

  cronPatterns(): string[] {
    return this.tasks.map((t) => t.getPattern());
  }

  /**
   * Sends the latest slot at or before now, unless it already ran or is more than catchUpMs old. node-cron calls this
   * at each slot's time; at start it catches up a slot missed while the gateway was down, but only within 3 hours:
   * a morning list at 11:00 still plans the afternoon, while the 08:30 list at 17:00 would only duplicate the 17:30 one,
   * and a late-evening catch-up would be the 3 a.m. SMS that tasks exist to avoid. Nor when a digest already went out
   * at or after the slot's time: after the times moved (08:30 -> 08:00) the 08:00 slot never ran, but that morning's
   * list did. Returns the SMS sent.
   */
  runDue(): Promise<number> {
    const run = this.chain.then(async () => {
      const slot = this.latestSlot(this.deps.clock.now());
      if (!slot || this.deps.clock.now() - slot.at > (this.deps.catchUpMs ?? DEFAULT_CATCH_UP_MS)) return 0;
      // Runs of this slot itself do not count: a slot cut short by a crash still goes to the workers it missed.
      const last = await this.deps.store.supervision.lastDigestRunAt(slotKey(slot));
      if (last !== null && last >= slot.at) return 0;
      // The SMS and the slot's record commit together: a node dying mid-slot leaves neither, and another node's retry
      // (while its catch-up window lasts) sends it. The per-worker run keys below still hold on one node.
      const slots = this.deps.slots ?? everyTriggerRuns;
      const outcome = await slots.run(DIGEST_JOB, slot.at, () => this.runSlot(slot), { retryBusyMs: 60_000 });
      return outcome.ran ? outcome.value : 0;
    });
    this.chain = run.catch((err: unknown) =>
      this.deps.log.error({ err: errorMessage(err) }, 'care digest failed; it runs again at the next slot'),
    );
    return run;
  }

  /** The latest configured slot at or before `now` (today's or yesterday's). */
  latestSlot(now: number): DigestSlot | null {
    const { timeZone } = this.deps;
    const today = localDate(now, timeZone);
    let best: DigestSlot | null = null;
    for (const day of [addDays(today, -1), today]) {
      for (const time of this.times) {
        const [h, m] = time.split(':').map(Number);
        const at = zonedTime(day, h ?? 0, m ?? 0, timeZone);
        if (at <= now && (!best || at > best.at)) best = { day, time, at };
      }
    }
    return best;
  }

  /** One SMS per worker with open tasks; each (slot, worker) at most once, ever, and the SMS committed with its run record. */
  async runSlot(slot: DigestSlot): Promise<number> {
    const { store, clock, log } = this.deps;
    const key = slotKey(slot);
    if (await store.supervision.hasDigestRun(key)) return 0;
    const open = await store.supervision.listOpenTasks();
    const byWorker = new Map<string, CareTask[]>();
    for (const t of open) {
      if (!t.workerId) continue;
      const list = byWorker.get(t.workerId);
      if (list) list.push(t);
      else byWorker.set(t.workerId, [t]);
    }
    const [workers, residents, devices] = await Promise.all([
      store.registry.listWorkers(),
      store.registry.listResidents(),
      store.registry.listDevices(),
    ]);
    const workerById = new Map(workers.map((w) => [w.id, w]));
    const residentName = new Map(residents.map((r) => [r.id, r.name]));
    const deviceKind = new Map<string, DeviceKind>(devices.map((d: Device) => [d.id, d.kind]));
    let sent = 0;
    for (const [workerId, tasks] of byWorker) {
      const worker = workerById.get(workerId);
      if (!worker) continue;
      tasks.sort(
        (a, b) =>
          KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
          a.openedAt - b.openedAt ||
          (a.residentId < b.residentId ? -1 : a.residentId > b.residentId ? 1 : 0),
      );
      const items = tasks.map((t): DigestItem => ({
        kind: t.kind,
        residentName: residentName.get(t.residentId) ?? t.residentId,
        deviceKind: t.deviceId ? (deviceKind.get(t.deviceId) ?? null) : null,
        battery: typeof t.detail?.battery === 'number' ? t.detail.battery : null,
      }));
      const intent = digestText(worker.name, tasks.length, items);
      const done = await store.transaction(async () => {
        if (!(await store.supervision.claimDigestRun(`${key}:${workerId}`, clock.now()))) return false;
        // No reply context: the worker's next "1" must still answer the alarm page it was meant for.
        await this.deps.sms.enqueue({
          to: worker.phone,
          intent,
          priority: 'routine',
          purpose: 'digest',
          incidentId: null,
          step: null,
          role: 'worker',
          personId: workerId,
          context: null,
        });
        return true;
      });
      if (done) sent++;
    }
    await store.supervision.claimDigestRun(key, clock.now());
    log.info({ slot: key, workers: sent, openTasks: open.length }, 'care digest sent');
    return sent;
  }

  private async loadTimes(): Promise<string[]> {
    const raw = await this.deps.store.registry.getSetting(CARE_DIGEST_SETTING);
    if (!raw) return [...DEFAULT_DIGEST_TIMES];
    try {
      const parsed = JSON.parse(raw) as { times?: unknown };
      const times = Array.isArray(parsed.times) ? parsed.times.filter((t): t is string => typeof t === 'string' && HHMM.test(t)) : [];
      if (times.length > 0) return [...new Set(times)].sort();
    } catch {
      // Fall through: a broken setting must not stop the digest.
    }
    this.deps.log.warn({ setting: CARE_DIGEST_SETTING }, 'care digest times unreadable; using 08:30 and 17:30');
    return [...DEFAULT_DIGEST_TIMES];
  }
}
