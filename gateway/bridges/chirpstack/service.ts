// Every ChirpStack bridge of the registry: one broker client each, rebuilt when the registry changes, their links for /healthz, and downlinks for their devices.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Device } from '../../core/types.js';
import type { Bridge, ChirpstackBridge } from '../../core/bridges.js';
import type { DeviceCommand } from '../../../devices/commands.js';
import type { Backoff, ExternalBrokerState } from '../external-broker.js';
import type { BridgeRepo } from '../repo.js';
import { ChirpstackBridgeClient, type ChirpstackSink } from './bridge.js';

/** What a lost link does to the devices behind it: one outage for the bridge, and the devices offline until it is back. */
export interface LinkSupervision {
  bridgeLost(bridgeId: string, deviceIds: readonly string[], at: number): Promise<unknown>;
  /** Marks the devices offline (after the outage is open, so that none gets a task of its own); returns those it changed. */
  devicesLost(devices: readonly Device[], at: number): Device[];
  /** The link is back: the devices were unheard, not lost; each is online again (its own timeout still applies). */
  devicesBack(devices: readonly Device[], at: number): void;
}

export interface ChirpstackBridgesDeps {
  registry: Pick<BridgeRepo, 'listBridges' | 'listBridgedDevices'>;
  sink: ChirpstackSink;
  supervision?: LinkSupervision;
  /** A bridge that has never reached its broker this long after start counts as lost too (default 60 s). */
  firstConnectGraceMs?: number;
  clock: Clock;
  log: Logger;
  nodeId?: string;
  backoff?: Partial<Backoff>;
  /** A bridge's link to ChirpStack's broker came up or went down. */
  onLinkChange?: (state: ExternalBrokerState) => void;
}

/** The `chirpstack` component of /healthz. */
export interface ChirpstackHealth {
  status: 'up' | 'degraded' | 'disabled';
  detail?: string;
  bridges: (ExternalBrokerState & { applicationId: string })[];
  [key: string]: unknown;
}

const DEFAULT_FIRST_CONNECT_GRACE_MS = 60_000;

export class ChirpstackBridges {
  private readonly clients = new Map<
    string,
    { config: ChirpstackBridge; client: ChirpstackBridgeClient; lost: boolean; grace: NodeJS.Timeout | null; unheard: Device[] }
  >();
  private running = false;
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ChirpstackBridgesDeps) {}

  /** Starts a client per ChirpStack bridge; none waits for its broker (an unreachable one is retried and reported). */
  async start(): Promise<void> {
    this.running = true;
    await this.reload();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.reloading;
    const all = [...this.clients.values()];
    this.clients.clear();
    for (const c of all) if (c.grace) clearTimeout(c.grace);
    await Promise.all(all.map((c) => c.client.stop()));
  }

  /** After a registry change: new bridges start, removed ones stop, changed ones reconnect with their new settings. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      if (!this.running) return;
      const wanted = new Map((await this.deps.registry.listBridges()).filter(isChirpstack).map((b) => [b.id, b]));
      for (const [id, current] of this.clients) {
        const next = wanted.get(id);
        if (next && sameLink(current.config, next)) {
          current.config = next;
          continue;
        }
        this.clients.delete(id);
        if (current.grace) clearTimeout(current.grace);
        await current.client.stop();
      }
      for (const [id, config] of wanted) {
        if (this.clients.has(id)) continue;
        const client = new ChirpstackBridgeClient({
          bridge: config,
          sink: this.deps.sink,
          clock: this.deps.clock,
          log: this.deps.log.child({ bridge: id }),
          ...(this.deps.nodeId ? { nodeId: this.deps.nodeId } : {}),
          ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
          onLinkChange: (state) => {
            this.deps.onLinkChange?.(state);
            void this.linkChanged(id, state.connected);
          },
        });
        // Never reached at all: lost too, after a grace for a broker that starts alongside the gateway.
        const grace = setTimeout(() => {
          const entry = this.clients.get(id);
          if (entry) entry.grace = null;
          if (entry && !entry.client.link().connected) void this.linkChanged(id, false);
        }, this.deps.firstConnectGraceMs ?? DEFAULT_FIRST_CONNECT_GRACE_MS);
        grace.unref();
        this.clients.set(id, { config, client, lost: false, grace, unheard: [] });
        client.start();
      }
    });
    return this.reloading;
  }

  /** One outage per lost link (not a task per device), closed when the link is back. */
  private async linkChanged(id: string, connected: boolean): Promise<void> {
    const entry = this.clients.get(id);
    const supervision = this.deps.supervision;
    if (!entry || !supervision) return;
    if (connected) {
      if (entry.grace) clearTimeout(entry.grace);
      entry.grace = null;
    }
    if (connected === !entry.lost) return;
    entry.lost = !connected;
    const at = this.deps.clock.now();
    try {
      if (connected) {
        this.deps.log.info({ bridgeId: id, devices: entry.unheard.length }, 'ChirpStack link back: its devices can raise alarms again');
        // Only those the loss took offline: a device that was already silent stays offline.
        supervision.devicesBack(entry.unheard, at);
        entry.unheard = [];
        return;
      }
      const devices = await this.deps.registry.listBridgedDevices(id);
      this.deps.log.warn({ bridgeId: id, devices: devices.length }, 'ChirpStack link lost: its LoRaWAN devices cannot raise alarms');
      await supervision.bridgeLost(
        id,
        devices.map((d) => d.id),
        at,
      );
      entry.unheard = supervision.devicesLost(devices, at);
    } catch (err) {
      this.deps.log.error({ err, bridgeId: id }, 'could not record the ChirpStack link change in supervision');
    }
  }

  /** The bridge's client, or null when it is not a running ChirpStack bridge. */
  bridge(id: string): ChirpstackBridgeClient | null {
    return this.clients.get(id)?.client ?? null;
  }

  /** Queues the command as a downlink through the device's bridge. */
  async sendCommand(device: Device, command: DeviceCommand): Promise<void> {
    const client = device.bridge ? this.bridge(device.bridge) : null;
    if (!client) throw new Error(`device ${device.id}: bridge "${device.bridge ?? ''}" is not a running ChirpStack bridge`);
    await client.sendCommand(device, command);
  }

  /** Degraded while a bridge cannot reach its broker: the devices behind it cannot raise alarms. */
  health(): ChirpstackHealth {
    const bridges = [...this.clients.values()].map((c) => ({ ...c.client.link(), applicationId: c.config.applicationId }));
    if (bridges.length === 0) return { status: 'disabled', bridges };
    const down = bridges.filter((b) => !b.connected);
    if (down.length === 0) return { status: 'up', bridges };
    const names = down.map((b) => `${b.bridgeId} (${b.url}${b.lastError ? `: ${b.lastError}` : ''})`).join(', ');
    return {
      status: 'degraded',
      detail: `ChirpStack broker unreachable for ${names}: LoRaWAN devices behind it cannot raise alarms`,
      bridges,
    };
  }
}

function isChirpstack(b: Bridge): b is ChirpstackBridge {
  return b.kind === 'chirpstack';
}

function sameLink(a: ChirpstackBridge, b: ChirpstackBridge): boolean {
  return a.url === b.url && a.username === b.username && a.password === b.password && a.applicationId === b.applicationId;
}
