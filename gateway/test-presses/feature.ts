// Test presses assembled: test mode (windows) and the weekly check, with the calls the HTTP API makes.
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { JobRunner } from '../core/jobs.js';
import type { Logger } from '../core/logger.js';
import type { AuditEntry, CareTaskSink, Device, Incident } from '../core/types.js';
import { TestModeService, type StartTestRequest, type TestActor, type TestModeRegistry } from './service.js';
import type { TestPressRepo, TestWindow } from './types.js';
import { WeeklyTestCheck, type WeeklyTestReport } from './weekly.js';

export interface TestPressesDeps {
  repo: TestPressRepo;
  registry: TestModeRegistry & { listDevices(): Promise<Device[]> };
  tasks: CareTaskSink;
  bus: EventBus<{ incidentChanged: [Incident, AuditEntry] }>;
  clock: Clock;
  log: Logger;
  timeZone: string;
  endTests: (windowId: string, reason: string) => Promise<string[]>;
  /** 'manual': no cron; tests run the weekly check themselves. */
  triggers?: 'cron' | 'manual';
  /** Nodes sharing one database: the weekly run happens on one of them. */
  slots?: JobRunner;
}

export class TestPresses {
  readonly mode: TestModeService;
  readonly weekly: WeeklyTestCheck;

  constructor(deps: TestPressesDeps) {
    this.mode = new TestModeService({
      repo: deps.repo,
      registry: deps.registry,
      clock: deps.clock,
      log: deps.log,
      endTests: deps.endTests,
    });
    this.weekly = new WeeklyTestCheck({
      repo: deps.repo,
      registry: deps.registry,
      tasks: deps.tasks,
      bus: deps.bus,
      clock: deps.clock,
      log: deps.log,
      timeZone: deps.timeZone,
      ...(deps.triggers ? { triggers: deps.triggers } : {}),
      ...(deps.slots ? { slots: deps.slots } : {}),
    });
  }

  async start(): Promise<void> {
    await this.mode.start();
    this.weekly.start();
  }

  async stop(): Promise<void> {
    await this.weekly.stop();
    await this.mode.stop();
  }

  startWindow(request: StartTestRequest, by: TestActor): Promise<TestWindow> {
    return this.mode.startWindow(request, by);
  }

  endWindow(id: string, by: TestActor): Promise<TestWindow> {
    return this.mode.endWindow(id, by);
  }

  listWindows(filter: { communityId?: string; limit?: number }): Promise<TestWindow[]> {
    return this.mode.listWindows(filter);
  }

  untested(communityId?: string): Promise<WeeklyTestReport> {
    return this.weekly.report(communityId);
  }
}
