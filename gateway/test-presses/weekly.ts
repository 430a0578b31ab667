// The weekly button check: lists every alarm button without a test press in the last seven days, and opens a care task for its worker.
import { schedule as cronSchedule, type ScheduledTask } from 'node-cron';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { everyTriggerRuns, minuteSlot, type JobRunner } from '../core/jobs.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { AuditEntry, CareTaskSink, Device, DeviceKind, Incident, Resident } from '../core/types.js';
import { DEVICE_KIND_DEFINITIONS } from '../../devices/kinds.js';
import { TEST_INTERVAL_DAYS, type TestPressRepo } from './types.js';

/** Kinds a person presses or pulls to raise an alarm: the ones JGJ/T 484-2019 §10.3.1 wants checked every week. */
export const ALARM_BUTTON_KINDS: readonly DeviceKind[] = Object.values(DEVICE_KIND_DEFINITIONS)
  .filter((d) => d.events.includes('sos'))
  .map((d) => d.kind);

const DAY_MS = 24 * 60 * 60 * 1000;

export interface UntestedButton {
  deviceId: string;
  deviceKind: DeviceKind;
  residentId: string;
  residentName: string;
  communityId: string;
  building: string | null;
  /** The latest test press (ISO), or null when the button was never tested. */
  lastTestedAt: string | null;
}

export interface WeeklyTestReport {
  at: string;
  /** Alarm buttons in the registry (in the caller's community when scoped). */
  buttons: number;
  untested: UntestedButton[];
}

export interface WeeklyTestCheckDeps {
  repo: Pick<TestPressRepo, 'lastPressByDevice'>;
  registry: { listDevices(): Promise<Device[]>; listResidents(): Promise<Resident[]> };
  tasks: CareTaskSink;
  bus: EventBus<{ incidentChanged: [Incident, AuditEntry] }>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  /** Five-field cron, local time (default Monday 09:00: the week's list in the worker's morning). */
  cron?: string;
  /** 'cron' (default) or 'manual': tests call run() themselves. */
  triggers?: 'cron' | 'manual';
  /** Nodes sharing one database: each weekly run happens on one of them (default: this node alone). */
  slots?: JobRunner;
}

export const WEEKLY_TEST_CRON = '0 9 * * 1';
/** The weekly run's job name in the job slots. */
export const WEEKLY_TEST_JOB = 'test-presses:weekly';

export class WeeklyTestCheck {
  private task: ScheduledTask | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: WeeklyTestCheckDeps) {}

  start(): void {
    // A test press closes the button's task at once rather than at next week's run.
    this.deps.bus.on(this, 'incidentChanged', (incident, entry) => this.onIncident(incident, entry));
    if ((this.deps.triggers ?? 'cron') !== 'cron') return;
    this.task = cronSchedule(this.deps.cron ?? WEEKLY_TEST_CRON, () => this.run().then(() => undefined), {
      timezone: this.deps.timeZone,
      noOverlap: true,
      name: 'weekly-button-test',
    });
  }

  async stop(): Promise<void> {
    this.deps.bus.removeAll(this);
    await this.task?.destroy();
    this.task = null;
    await this.chain;
  }

  async idle(): Promise<void> {
    await this.chain;
  }

  /** The buttons without a test press in the last seven days (optionally of one community), computed now. */
  async report(communityId?: string): Promise<WeeklyTestReport> {
    return (await this.scan(communityId)).report;
  }

  private async scan(communityId?: string): Promise<{ report: WeeklyTestReport; tested: { deviceId: string; residentId: string }[] }> {
    const now = this.deps.clock.now();
    const [devices, residents, lastPress] = await Promise.all([
      this.deps.registry.listDevices(),
      this.deps.registry.listResidents(),
      this.deps.repo.lastPressByDevice(),
    ]);
    const residentById = new Map(residents.map((r) => [r.id, r]));
    const since = now - TEST_INTERVAL_DAYS * DAY_MS;
    let buttons = 0;
    const untested: UntestedButton[] = [];
    const tested: { deviceId: string; residentId: string }[] = [];
    for (const device of devices) {
      const resident = residentById.get(device.resident);
      if (!resident || !ALARM_BUTTON_KINDS.includes(device.kind)) continue;
      if (communityId !== undefined && resident.community !== communityId) continue;
      buttons++;
      const last = lastPress.get(device.id);
      if (last !== undefined && last >= since) {
        tested.push({ deviceId: device.id, residentId: resident.id });
        continue;
      }
      untested.push({
        deviceId: device.id,
        deviceKind: device.kind,
        residentId: resident.id,
        residentName: resident.name,
        communityId: resident.community,
        building: resident.building ?? null,
        lastTestedAt: last === undefined ? null : new Date(last).toISOString(),
      });
    }
    return { report: { at: new Date(now).toISOString(), buttons, untested }, tested };
  }

  /**
   * The weekly run: a `button_untested` care task for each untested button (idempotent), for its resident's worker.
   * Across nodes one of them runs it (the others answer null); opening and closing tasks is safe to repeat, so a node
   * that dies mid-run leaves the slot to the others' retry.
   */
  run(): Promise<WeeklyTestReport | null> {
    const run = this.chain.then(async () => {
      const slots = this.deps.slots ?? everyTriggerRuns;
      const outcome = await slots.run(WEEKLY_TEST_JOB, minuteSlot(this.deps.clock.now()), () => this.runHere(), {
        mode: 'idempotent',
        retryBusyMs: 60_000,
      });
      return outcome.ran ? outcome.value : null;
    });
    this.chain = run.catch((err: unknown) =>
      this.deps.log.error({ err: errorMessage(err) }, 'weekly button test check failed; it runs again next week'),
    );
    return run;
  }

  private async runHere(): Promise<WeeklyTestReport> {
    const { report, tested } = await this.scan();
    const now = this.deps.clock.now();
    // Tested inside a real alarm's incident (no test incident to close the task at the press): closed here.
    for (const t of tested) await this.deps.tasks.clear('button_untested', t.residentId, t.deviceId, 'tested this week', now);
    for (const b of report.untested) {
      await this.deps.tasks.open(
        {
          kind: 'button_untested',
          residentId: b.residentId,
          deviceId: b.deviceId,
          detail: { deviceKind: b.deviceKind, lastTestedAt: b.lastTestedAt },
        },
        now,
      );
    }
    this.deps.log.info({ buttons: report.buttons, untested: report.untested.length }, 'weekly button test check');
    return report;
  }

  private onIncident(incident: Incident, entry: AuditEntry): void {
    if (incident.test !== true || (entry.action !== 'created' && entry.action !== 'signal_joined')) return;
    const deviceId = entry.detail?.deviceId;
    if (typeof deviceId !== 'string') return;
    void this.deps.tasks.clear('button_untested', incident.residentId, deviceId, 'test press received', entry.at).catch((err: unknown) => {
      this.deps.log.warn({ err: errorMessage(err), deviceId }, 'could not close the untested-button task');
    });
  }
}
