// The dashboard's live feed: bus events turned into server-sent events, scoped per caller, never slowing the bus down.
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { AuditEntry, Incident, OutboundSms } from '../core/types.js';
import type { Caller } from '../access/caller.js';
import { seesCommunity } from '../access/scope.js';
import type { IncidentView } from '../incidents/views.js';
import type { DeviceStatusChanged } from '../ingest/events.js';
import type { RegistryRepo } from '../storage/ports.js';
import type { CareTask, Outage } from '../supervision/types.js';
import type { ClusterFeed, FeedNotice } from './cluster.js';

/** Subscribes one SSE client; the returned function unsubscribes it. */
export interface LiveStreamSource {
  subscribe(client: LiveClient): () => void;
  /** Called when the app closes, so open streams end and the server can stop. */
  closeAll(): void;
}

/** One connected dashboard tab, as the live feed sees it. */
export interface LiveClient {
  caller: Caller;
  /** Writes one named event; returns false when the client was dropped (slow or gone). */
  send(event: string, data: unknown): boolean;
  /** A comment line that keeps the connection alive; false when the client was dropped. */
  ping(): boolean;
  close(): void;
}

/** The bus events the feed listens to. Supervision's are optional: without device supervision they never fire. */
export interface LiveEvents {
  incidentChanged: [Incident, AuditEntry];
  smsStatusChanged: [OutboundSms];
  deviceStatusChanged: [DeviceStatusChanged];
  /** A state the device repeated: told to the other nodes only (nothing changed on this node's dashboards). */
  deviceStatusAffirmed: [DeviceStatusChanged];
  taskChanged: [CareTask, 'opened' | 'closed'];
  outageChanged: [Outage, 'opened' | 'updated' | 'closed'];
}

/** What one SSE event carries, and which community it belongs to (null: everyone who sees events). */
export interface LiveMessage {
  data: unknown;
  community: string | null;
}

/** Who may receive a message: by default staff (admin, duty officer, worker) within their community. */
export type Audience = (caller: Caller, message: LiveMessage) => boolean;

export const staffInScope: Audience = (caller, message) => {
  if (caller.role === 'volunteer') return false;
  return seesCommunity(caller, message.community);
};

export interface LiveFeedDeps {
  bus: EventBus<LiveEvents>;
  /** Builds the incident as GET /api/incidents/:id shows it (gateway/incidents/views.ts IncidentViews.liveView). */
  views: { liveView(incident: Incident): Promise<IncidentView> };
  incidents: { get(id: string): Promise<Incident | null> };
  registry: Pick<RegistryRepo, 'getDevice' | 'getResident'>;
  log: Logger;
  /** Comment line sent this often so proxies and browsers keep the stream open (default 15 s). */
  heartbeatMs?: number;
  /**
   * Several nodes: this node's events go to the others as notices, and theirs are shown here, the rows read by id.
   * Only the events of the LiveEvents map cross; further relays (relay()) stay on their node.
   */
  cluster?: {
    feed: ClusterFeed;
    supervision: { getTask(id: string): Promise<CareTask | null>; getOutage(id: string): Promise<Outage | null> };
  };
}

/**
 * One instance per gateway. Listeners only enqueue: an incident's view is built after the event, coalesced per
 * incident (a burst of SMS receipts becomes one update), and written to each client without waiting for it.
 */
export class LiveFeed implements LiveStreamSource {
  private readonly clients = new Set<LiveClient>();
  private heartbeat: NodeJS.Timeout | null = null;
  /** Incidents whose view must be (re)built; the value says whether a build is already running. */
  private readonly dirty = new Map<string, { building: boolean; again: boolean; incident: Incident | null }>();
  private stopped = true;

  constructor(private readonly deps: LiveFeedDeps) {}

  start(): void {
    const { bus } = this.deps;
    this.stopped = false;
    const tell = (notice: FeedNotice): void => this.deps.cluster?.feed.publish(notice);
    bus.on(this, 'incidentChanged', (incident) => {
      tell({ kind: 'incident', id: incident.id });
      this.incidentDirty(incident.id, incident);
    });
    bus.on(this, 'smsStatusChanged', (msg) => {
      // Delivery receipts change the "who was paged" column of the board.
      if (!msg.incidentId || msg.purpose !== 'page') return;
      tell({ kind: 'incident', id: msg.incidentId });
      this.incidentDirty(msg.incidentId, null);
    });
    bus.on(this, 'deviceStatusChanged', async (change) => {
      tell({ kind: 'device', deviceId: change.deviceId, state: change.state, at: change.at });
      await this.showDevice(change);
    });
    bus.on(this, 'deviceStatusAffirmed', (same) => tell({ kind: 'device', deviceId: same.deviceId, state: same.state, at: same.at }));
    bus.on(this, 'taskChanged', (task, change) => {
      tell({ kind: 'task', id: task.id, change });
      this.showTask(task, change);
    });
    bus.on(this, 'outageChanged', (outage, change) => {
      tell({ kind: 'outage', id: outage.id, change });
      this.showOutage(outage, change);
    });
    this.deps.cluster?.feed.onNotices((notices) => {
      for (const n of notices) void this.fromOtherNode(n);
    });
    this.deps.cluster?.feed.onGap(() => this.resync('cluster'));
    const every = this.deps.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => this.beat(), every);
    this.heartbeat.unref();
  }

  stop(): void {
    this.stopped = true;
    this.deps.bus.removeAll(this);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.closeAll();
  }

  /** Forwards a further bus event (visits, later features) as the SSE event `name`; `project` returns null to skip one. */
  relay<K extends keyof LiveEvents>(
    event: K,
    name: string,
    project: (...args: LiveEvents[K]) => LiveMessage | null,
    audience: Audience = staffInScope,
  ): void {
    this.deps.bus.on(this, event, (...args: LiveEvents[K]) => {
      const message = project(...args);
      if (message) this.publish(name, message, audience);
    });
  }

  subscribe(client: LiveClient): () => void {
    if (this.stopped) {
      client.close();
      return () => undefined;
    }
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  closeAll(): void {
    for (const client of this.clients) client.close();
    this.clients.clear();
  }

  clientCount(): number {
    return this.clients.size;
  }

  /**
   * Tells every open dashboard that events may have been missed (other nodes' while this node's channel was down), so
   * it reads its whole state again through the API, scoped to its caller as every read is. The event itself carries
   * nothing but the reason, so every client may have it.
   */
  resync(reason: 'cluster'): void {
    if (this.stopped) return;
    this.publish('resync', { data: { reason }, community: null }, () => true);
  }

  /** Sends to every client allowed to see it; a client that cannot keep up is dropped by its own send(). */
  publish(name: string, message: LiveMessage, audience: Audience = staffInScope): void {
    for (const client of this.clients) {
      if (!audience(client.caller, message)) continue;
      if (!client.send(name, message.data)) this.clients.delete(client);
    }
  }

  /** Another node's event: shown to this node's clients as if it had happened here, from the stored row. */
  private async fromOtherNode(n: FeedNotice): Promise<void> {
    if (this.stopped || this.clients.size === 0) return;
    const supervision = this.deps.cluster?.supervision;
    try {
      switch (n.kind) {
        case 'incident':
          this.incidentDirty(n.id, null);
          return;
        case 'device':
          await this.showDevice({ deviceId: n.deviceId, state: n.state, at: n.at });
          return;
        case 'task': {
          const task = await supervision?.getTask(n.id);
          if (task) this.showTask(task, n.change);
          return;
        }
        case 'outage': {
          const outage = await supervision?.getOutage(n.id);
          if (outage) this.showOutage(outage, n.change);
          return;
        }
      }
    } catch (err) {
      this.deps.log.warn({ err, notice: n }, 'live update from another node not shown');
    }
  }

  private async showDevice(change: DeviceStatusChanged): Promise<void> {
    // Nobody watching: no community to look up (a failover's reconnect storm changes thousands of statuses at once, and a
    // client that connects later loads the devices through the API).
    if (this.stopped || this.clients.size === 0) return;
    this.publish('device', { data: change, community: await this.communityOfDevice(change.deviceId) });
  }

  private showTask(task: CareTask, change: 'opened' | 'closed'): void {
    this.publish('task', { data: { ...task, change }, community: task.communityId });
  }

  private showOutage(outage: Outage, change: 'opened' | 'updated' | 'closed'): void {
    this.publish('outage', { data: { ...outage, change }, community: outage.place.communityId });
  }

  private beat(): void {
    for (const client of this.clients) {
      if (!client.ping()) this.clients.delete(client);
    }
  }

  private incidentDirty(id: string, incident: Incident | null): void {
    // Nobody watching: no view to build (a client that connects later loads the board through the API).
    if (this.stopped || this.clients.size === 0) return;
    const entry = this.dirty.get(id);
    if (entry) {
      entry.again = true;
      if (incident) entry.incident = incident;
      return;
    }
    this.dirty.set(id, { building: true, again: false, incident });
    // After the current tick: the other listeners of this event (and the rest of a burst) go first.
    setImmediate(() => void this.build(id));
  }

  private async build(id: string): Promise<void> {
    const entry = this.dirty.get(id);
    if (!entry) return;
    try {
      do {
        entry.again = false;
        // The stored row is the truth (the event's copy may be older than a later commit); the event's copy is the fallback.
        const incident = (await this.deps.incidents.get(id)) ?? entry.incident;
        if (!incident) break;
        const view = await this.deps.views.liveView(incident);
        if (this.stopped) break;
        this.publish('incident', { data: view, community: incident.communityId });
      } while (entry.again);
    } catch (err) {
      this.deps.log.warn({ err, incidentId: id }, 'live incident update not sent');
    } finally {
      this.dirty.delete(id);
    }
  }

  private async communityOfDevice(deviceId: string): Promise<string | null> {
    const device = await this.deps.registry.getDevice(deviceId);
    const resident = device ? await this.deps.registry.getResident(device.resident) : null;
    // An unknown device's status is nobody's community: only unscoped staff see it.
    return resident?.community ?? '';
  }
}
