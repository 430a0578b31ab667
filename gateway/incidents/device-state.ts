// Restores a device's view of its resident's incident from the store when its MQTT session (re)starts, since a queued downlink can be lost.
import type { DeviceCommand } from '../../devices/commands.js';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { ACTIVE_STATES, type Incident } from '../core/types.js';
import type { DeviceSessionStarted, IngestEvents } from '../ingest/events.js';
import type { IncidentRepo } from '../storage/ports.js';
import type { SessionStartRepo } from './session-starts.js';
import type { DeviceCommands } from './service.js';

/**
 * How long after an incident ended a device that reconnects is still told `resolved`. A pendant that comes back later
 * has long stopped showing it (or rebooted); past that, the message would only be noise.
 */
export const RESOLVED_RESYNC_MS = 12 * 60 * 60_000;

/** Session starts handled at once; a mass reconnect (a node failover) queues behind them instead of filling the pool. */
const CONCURRENCY = 4;

export interface DeviceStateDeps {
  incidents: Pick<IncidentRepo, 'findActiveForResident' | 'list'>;
  sessions: SessionStartRepo;
  commands: DeviceCommands;
  bus: EventBus<IngestEvents>;
  clock: Clock;
  log: Logger;
  resolvedWindowMs?: number;
}

/**
 * What a device should be shown now: the command its resident's active incident's last transition sent, or, for an
 * incident that ended within `windowMs` and after the device's previous session started (so it may have missed the
 * end), `resolved` with its outcome. Marked `resync: true`. Null when there is nothing to tell.
 */
export function currentCommand(
  active: Incident | null,
  latest: Incident | null,
  previousStart: number | null,
  now: number,
  windowMs: number = RESOLVED_RESYNC_MS,
): DeviceCommand | null {
  if (active) {
    switch (active.state) {
      case 'pending': {
        const left = active.nextStepAt === null ? 0 : Math.max(0, Math.ceil((active.nextStepAt - now) / 1000));
        return { type: 'alarm_received', incident: active.id, state: 'pending', cancelWithinSeconds: left, resync: true };
      }
      case 'open':
        return { type: 'alarm_received', incident: active.id, state: 'open', resync: true };
      case 'acknowledged': {
        const by = active.acknowledgedBy;
        return { type: 'responder_assigned', incident: active.id, responder: by?.name ?? null, role: by?.role ?? null, resync: true };
      }
      case 'resolved':
      case 'cancelled':
        return null;
    }
  }
  if (!latest || ACTIVE_STATES.includes(latest.state)) return null;
  const endedAt = latest.resolvedAt ?? latest.cancelledAt;
  if (endedAt === null || now - endedAt > windowMs) return null;
  // A session that started after the end was told then (live or by this resync): telling it on every reconnect would nag.
  if (previousStart !== null && previousStart > endedAt) return null;
  return { type: 'resolved', incident: latest.id, outcome: outcomeOf(latest), resync: true };
}

function outcomeOf(incident: Incident): 'resolved' | 'cancelled' | 'test_ended' {
  if (incident.state === 'cancelled') return 'cancelled';
  return incident.test === true ? 'test_ended' : 'resolved';
}

/**
 * Listens to the broker's session starts (after the SUBACK, or after the CONNACK and queued messages of a restored
 * persistent session) and sends the device the current state of its resident's incident. It runs outside aedes' hooks
 * and reads the store asynchronously; a failure is logged, never thrown into the broker.
 */
export class DeviceStateResync {
  private readonly queue: DeviceSessionStarted[] = [];
  private readonly running = new Set<Promise<void>>();
  private started = false;

  constructor(private readonly deps: DeviceStateDeps) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.deps.bus.on(this, 'deviceSessionStarted', (session) => {
      this.queue.push(session);
      this.pump();
    });
  }

  /** Stops listening, drops the session starts not yet handled, and waits for those under way. */
  async stop(): Promise<void> {
    this.started = false;
    this.deps.bus.removeAll(this);
    this.queue.length = 0;
    await this.idle();
  }

  /** Resolves once every session start taken so far has been handled (tests and stop() wait on it). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    while (this.running.size < CONCURRENCY) {
      const session = this.queue.shift();
      if (!session) return;
      const work = this.resync(session).catch((err: unknown) =>
        this.deps.log.warn({ err, deviceId: session.deviceId }, 'device state not re-sent at session start'),
      );
      this.running.add(work);
      void work.finally(() => {
        this.running.delete(work);
        this.pump();
      });
    }
  }

  private async resync(session: DeviceSessionStarted): Promise<void> {
    const { incidents, sessions, clock, commands, log } = this.deps;
    const previousStart = await sessions.swapStart(session.deviceId, session.at);
    const active = await incidents.findActiveForResident(session.residentId);
    const [latest] = active ? [] : await incidents.list({ residentId: session.residentId, limit: 1 });
    const command = currentCommand(active, latest ?? null, previousStart, clock.now(), this.deps.resolvedWindowMs);
    if (!command || !this.started) return;
    await commands.publishCommand(session.deviceId, command);
    log.info({ deviceId: session.deviceId, command: command.type, incident: command.incident }, 'device state re-sent at session start');
  }
}
