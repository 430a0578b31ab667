// Every ChirpStack bridge of the registry: one broker client each, rebuilt when the registry changes, their links for /healthz, and downlinks for their devices.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Device } from '../../core/types.js';
import type { Bridge, ChirpstackBridge } from '../../core/bridges.js';
import type { DeviceCommand } from '../../../devices/commands.js';
import type { Backoff, ExternalBrokerState } from '../external-broker.js';
import type { BridgeRepo } from '../repo.js';
import { ChirpstackBridgeClient, type ChirpstackSink } from './bridge.js';

export interface ChirpstackBridgesDeps {
  registry: Pick<BridgeRepo, 'listBridges'>;
  sink: ChirpstackSink;
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

export class ChirpstackBridges {
  private readonly clients = new Map<string, { config: ChirpstackBridge; client: ChirpstackBridgeClient }>();
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
          ...(this.deps.onLinkChange ? { onLinkChange: this.deps.onLinkChange } : {}),
        });
        this.clients.set(id, { config, client });
        client.start();
      }
    });
    return this.reloading;
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
    return { status: 'degraded', detail: `ChirpStack broker unreachable for ${names}: LoRaWAN devices behind it cannot raise alarms`, bridges };
  }
}

function isChirpstack(b: Bridge): b is ChirpstackBridge {
  return b.kind === 'chirpstack';
}

function sameLink(a: ChirpstackBridge, b: ChirpstackBridge): boolean {
  return a.url === b.url && a.username === b.username && a.password === b.password && a.applicationId === b.applicationId;
}
