// Test mode: opens a bounded test window for a device or a building, closes it when it runs out or by hand, and then closes its tests.
import type { Clock, TimerHandle } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Device, Resident } from '../core/types.js';
import {
  TEST_WINDOW_DEFAULT_MINUTES,
  TEST_WINDOW_MAX_MINUTES,
  TEST_WINDOW_MIN_MINUTES,
  type TestPressRepo,
  type TestScope,
  type TestWindow,
} from './types.js';

/** The registry as test mode reads it. */
export interface TestModeRegistry {
  getDevice(id: string): Promise<Device | null>;
  getResident(id: string): Promise<Resident | null>;
  listResidents(): Promise<Resident[]>;
}

export interface TestModeDeps {
  repo: TestPressRepo;
  registry: TestModeRegistry;
  clock: Clock;
  log: Logger;
  /** Closes the window's test incidents still active (the incident service's endTests). */
  endTests: (windowId: string, reason: string) => Promise<string[]>;
}

/** Who sets or ends a window, and the community they are limited to (null: any). */
export interface TestActor {
  name: string;
  community: string | null;
}

export type TestTarget = { kind: 'device'; deviceId: string } | { kind: 'building'; communityId: string; building: string };

export interface StartTestRequest {
  target: TestTarget;
  minutes?: number;
  note?: string;
}

export class TestModeService {
  private readonly timers = new Map<string, TimerHandle>();
  private running = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: TestModeDeps) {}

  /** Re-arms the end of every window still running; one that ran out while the gateway was down closes now. */
  async start(): Promise<void> {
    this.running = true;
    for (const w of await this.deps.repo.listRunning()) this.arm(w);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    await this.chain;
  }

  /** Waits for window closes under way (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain;
      if (chain === this.chain) return;
    }
  }

  /** Opens a test window; presses of its device(s) until it ends are tests. Throws GW_ERR_BAD_REQUEST, GW_ERR_UNKNOWN_DEVICE, GW_ERR_NOT_FOUND, GW_ERR_FORBIDDEN. */
  async startWindow(request: StartTestRequest, by: TestActor): Promise<TestWindow> {
    const minutes = request.minutes ?? TEST_WINDOW_DEFAULT_MINUTES;
    if (!Number.isInteger(minutes) || minutes < TEST_WINDOW_MIN_MINUTES || minutes > TEST_WINDOW_MAX_MINUTES) {
      throw new GatewayError(
        'GW_ERR_BAD_REQUEST',
        `minutes must be a whole number from ${TEST_WINDOW_MIN_MINUTES} to ${TEST_WINDOW_MAX_MINUTES}`,
      );
    }
    const { scope, communityId } = await this.resolve(request.target);
    if (by.community !== null && by.community !== communityId)
      throw new GatewayError('GW_ERR_FORBIDDEN', `you may test devices of community ${by.community} only`);
    const now = this.deps.clock.now();
    const window: TestWindow = {
      id: newId('test', now),
      scope,
      communityId,
      startedAt: now,
      endsAt: now + minutes * 60_000,
      startedBy: by.name,
      endedAt: null,
      endedBy: null,
      endReason: null,
      note: request.note?.trim() || null,
    };
    await this.deps.repo.insertWindow(window);
    this.deps.log.info({ window: window.id, scope, minutes, by: by.name }, 'test window opened: alarm presses in it are tests');
    this.arm(window);
    return window;
  }

  /** Ends a running window now and closes its tests. Throws GW_ERR_NOT_FOUND, GW_ERR_FORBIDDEN, GW_ERR_CONFLICT. */
  async endWindow(id: string, by: TestActor): Promise<TestWindow> {
    const found = await this.deps.repo.getWindow(id);
    if (!found) throw new GatewayError('GW_ERR_NOT_FOUND', `test window ${id} not found`);
    if (by.community !== null && by.community !== found.communityId)
      throw new GatewayError('GW_ERR_FORBIDDEN', `you may end test windows of community ${by.community} only`);
    const ended = await this.close(id, this.deps.clock.now(), by.name, 'ended_by_hand');
    if (!ended) throw new GatewayError('GW_ERR_CONFLICT', `test window ${id} has already ended`);
    return ended;
  }

  listWindows(filter: { communityId?: string; limit?: number }): Promise<TestWindow[]> {
    return this.deps.repo.listWindows({ ...(filter.communityId ? { communityId: filter.communityId } : {}), limit: filter.limit ?? 100 });
  }

  private async resolve(target: TestTarget): Promise<{ scope: TestScope; communityId: string }> {
    const { registry } = this.deps;
    if (target.kind === 'device') {
      const device = await registry.getDevice(target.deviceId);
      if (!device) throw new GatewayError('GW_ERR_UNKNOWN_DEVICE', `device ${target.deviceId} is not in the registry`);
      const resident = await registry.getResident(device.resident);
      if (!resident)
        throw new GatewayError('GW_ERR_UNKNOWN_RESIDENT', `resident ${device.resident} of device ${device.id} is not in the registry`);
      return { scope: { kind: 'device', deviceId: device.id }, communityId: resident.community };
    }
    const residents = await registry.listResidents();
    if (!residents.some((r) => r.community === target.communityId && r.building === target.building)) {
      throw new GatewayError('GW_ERR_NOT_FOUND', `no resident lives in building "${target.building}" of community ${target.communityId}`);
    }
    return { scope: { kind: 'building', communityId: target.communityId, building: target.building }, communityId: target.communityId };
  }

  private arm(window: TestWindow): void {
    if (!this.running) return;
    this.timers.get(window.id)?.cancel();
    const wait = window.endsAt - this.deps.clock.now();
    this.timers.set(
      window.id,
      this.deps.clock.setTimer(wait, () => {
        this.timers.delete(window.id);
        this.close(window.id, window.endsAt, 'system', 'expired').catch(() => undefined);
      }),
    );
  }

  /**
   * Closes the window (once: the repository's update is the guard), then its tests. A failure to close the tests is
   * logged and retried a minute later; the window itself is closed, so no further press is taken as a test.
   */
  private close(id: string, at: number, by: string, reason: 'expired' | 'ended_by_hand'): Promise<TestWindow | null> {
    const run = this.chain.then(async () => {
      this.timers.get(id)?.cancel();
      this.timers.delete(id);
      const ended = await this.deps.repo.endWindow(id, at, by, reason);
      if (!ended) return null;
      await this.closeTests(id, reason === 'expired' ? 'the test window ran out' : `ended by ${by}`);
      return ended;
    });
    this.chain = run.catch((err: unknown) => this.deps.log.error({ err, window: id }, 'test window could not be closed'));
    return run;
  }

  private async closeTests(id: string, reason: string): Promise<void> {
    try {
      const closed = await this.deps.endTests(id, reason);
      this.deps.log.info({ window: id, tests: closed.length, reason }, 'test window closed');
    } catch (err) {
      this.deps.log.error({ err, window: id }, 'tests of a closed window could not be closed; retrying in a minute');
      if (this.running) this.deps.clock.setTimer(60_000, () => void this.chain.then(() => this.closeTests(id, reason)));
    }
  }
}
