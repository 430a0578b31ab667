// Care tasks: opened idempotently by detectors, assigned to the resident's grid worker, closed when the condition clears or by hand.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { CareTaskKind, CareTaskSink, NewCareTask } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import { careWorker } from './places.js';
import type { SupervisionEvents } from './events.js';
import type { CareTask, CareTaskFilter } from './types.js';

export interface CareTaskServiceDeps {
  store: Pick<Store, 'registry' | 'supervision'>;
  bus: EventBus<SupervisionEvents>;
  clock: Clock;
  log: Logger;
}

/** Who closes a task by hand, and the community they are limited to (null: any). */
export interface TaskCloser {
  name: string;
  community: string | null;
}

function taskKey(kind: CareTaskKind, residentId: string, deviceId: string | null | undefined): string {
  return `${kind}|${residentId}|${deviceId ?? ''}`;
}

export class CareTaskService implements CareTaskSink {
  /** Keys of open tasks: telemetry arrives every minute per device, and most calls change nothing, so they skip the database. */
  private readonly openKeys = new Set<string>();
  /** Opens and closes run one at a time, so the key set and the table never disagree. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Until start() loaded the open keys, clear() asks the table (a detector may start first). */
  private loaded = false;
  /** Opens and closes queued or under way. */
  private pending = 0;

  constructor(private readonly deps: CareTaskServiceDeps) {}

  async start(): Promise<void> {
    this.openKeys.clear();
    for (const t of await this.deps.store.supervision.listOpenTasks()) this.openKeys.add(taskKey(t.kind, t.residentId, t.deviceId));
    this.loaded = true;
  }

  /** Re-reads the open tasks' keys: with several nodes, others open and close tasks too. */
  resync(): Promise<void> {
    return this.serial(() => this.start());
  }

  /** Waits for opens and closes under way. */
  async idle(): Promise<void> {
    await this.chain;
  }

  open(task: NewCareTask, at: number): Promise<void> {
    return this.serial(async () => {
      const key = taskKey(task.kind, task.residentId, task.deviceId);
      if (this.openKeys.has(key)) return;
      const { store, log } = this.deps;
      const resident = await store.registry.getResident(task.residentId);
      if (!resident) {
        log.warn({ kind: task.kind, residentId: task.residentId, deviceId: task.deviceId }, 'care task for an unknown resident not opened');
        return;
      }
      const worker = careWorker(resident, await store.registry.listWorkers());
      const row: CareTask = {
        id: newId('task', at),
        kind: task.kind,
        state: 'open',
        residentId: task.residentId,
        deviceId: task.deviceId ?? null,
        communityId: resident.community,
        workerId: worker?.id ?? null,
        detail: task.detail ?? null,
        openedAt: at,
        closedAt: null,
        closedBy: null,
        closeReason: null,
        closeNote: null,
        updatedAt: at,
      };
      const inserted = await store.supervision.insertTask(row);
      // Not inserted: the table already holds an open one (the unique index), so the key is right either way.
      this.openKeys.add(key);
      if (!inserted) return;
      if (!worker) log.warn({ taskId: row.id, community: resident.community }, 'care task has no grid worker to go to');
      log.info(
        { taskId: row.id, kind: row.kind, residentId: row.residentId, deviceId: row.deviceId, workerId: row.workerId },
        'care task opened',
      );
      this.deps.bus.emit('taskChanged', row, 'opened');
    });
  }

  clear(kind: CareTaskKind, residentId: string, deviceId: string | undefined, reason: string, at: number): Promise<void> {
    return this.serial(async () => {
      const key = taskKey(kind, residentId, deviceId);
      if (this.loaded && !this.openKeys.has(key)) return;
      const open = await this.deps.store.supervision.findOpenTask(kind, residentId, deviceId ?? null);
      this.openKeys.delete(key);
      if (!open) return;
      const closed = await this.deps.store.supervision.closeTask(open.id, { at, by: 'system', reason, note: null });
      if (!closed) return;
      this.deps.log.info({ taskId: closed.id, kind, reason }, 'care task closed: condition cleared');
      this.deps.bus.emit('taskChanged', closed, 'closed');
    });
  }

  /** Closes a task by hand. Throws GW_ERR_TASK_NOT_FOUND, GW_ERR_FORBIDDEN (another community) or GW_ERR_TASK_NOT_OPEN. */
  closeByHand(id: string, by: TaskCloser, note: string): Promise<CareTask> {
    return this.serial(async () => {
      const { store } = this.deps;
      const task = await store.supervision.getTask(id);
      if (!task) throw new GatewayError('GW_ERR_TASK_NOT_FOUND', `no care task ${id}`);
      if (by.community !== null && task.communityId !== by.community)
        throw new GatewayError('GW_ERR_FORBIDDEN', 'the task belongs to another community');
      if (task.state !== 'open')
        throw new GatewayError('GW_ERR_TASK_NOT_OPEN', `care task ${id} was closed at ${new Date(task.closedAt ?? 0).toISOString()}`);
      const closed = await store.supervision.closeTask(id, { at: this.deps.clock.now(), by: by.name, reason: 'closed by hand', note });
      if (!closed) throw new GatewayError('GW_ERR_TASK_NOT_OPEN');
      this.openKeys.delete(taskKey(closed.kind, closed.residentId, closed.deviceId));
      this.deps.log.info({ taskId: id, kind: closed.kind }, 'care task closed by hand');
      this.deps.bus.emit('taskChanged', closed, 'closed');
      return closed;
    });
  }

  /** Open tasks by kind, from memory: cheap enough for every /healthz and scrape. */
  openCounts(): Record<CareTaskKind, number> {
    const counts: Record<CareTaskKind, number> = {
      device_offline: 0,
      low_battery: 0,
      never_reported: 0,
      wellness_check: 0,
      device_flooding: 0,
      button_untested: 0,
    };
    for (const key of this.openKeys) {
      const kind = key.slice(0, key.indexOf('|')) as CareTaskKind;
      if (kind in counts) counts[kind]++;
    }
    return counts;
  }

  isOpen(kind: CareTaskKind, residentId: string, deviceId: string | undefined): boolean {
    return this.openKeys.has(taskKey(kind, residentId, deviceId));
  }

  list(filter: CareTaskFilter): Promise<CareTask[]> {
    return this.deps.store.supervision.listTasks(filter);
  }

  listOpen(): Promise<CareTask[]> {
    return this.deps.store.supervision.listOpenTasks();
  }

  /**
   * True when a clear() of this key now would change nothing: the open keys are loaded, none is this one, and no open or
   * close is queued that could add it. Lets a caller skip queueing the clear for the everyday reading.
   */
  isSettledClear(kind: CareTaskKind, residentId: string, deviceId: string | undefined): boolean {
    return this.loaded && this.pending === 0 && !this.openKeys.has(taskKey(kind, residentId, deviceId));
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.chain.then(work);
    this.chain = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }
}
