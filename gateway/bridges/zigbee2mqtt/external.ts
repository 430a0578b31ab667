// zigbee2mqtt on its own broker: one persistent client per such bridge, subscribed to its base topic, reloaded when the registry changes.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Zigbee2mqttBridge } from '../../core/bridges.js';
import { ExternalBrokerClient, type Backoff, type ExternalBrokerState } from '../external-broker.js';
import type { BridgeRepo } from '../repo.js';
import type { Zigbee2mqttAdapter } from './adapter.js';

export interface ExternalZigbee2mqttDeps {
  registry: Pick<BridgeRepo, 'listBridges'>;
  adapter: Pick<Zigbee2mqttAdapter, 'handle' | 'connectionLost'>;
  clock: Clock;
  log: Logger;
  /** Part of each client id, so that two gateway nodes never take over each other's broker session. */
  nodeId?: string;
  backoff?: Partial<Backoff>;
}

type ExternalBridge = Zigbee2mqttBridge & { url: string };

export class ExternalZigbee2mqtt {
  private readonly clients = new Map<string, { config: ExternalBridge; client: ExternalBrokerClient; closing: boolean }>();
  private running = false;

  constructor(private readonly deps: ExternalZigbee2mqttDeps) {}

  async start(): Promise<void> {
    this.running = true;
    await this.reload();
  }

  async stop(): Promise<void> {
    this.running = false;
    const all = [...this.clients.values()];
    this.clients.clear();
    for (const c of all) c.closing = true;
    await Promise.all(all.map((c) => c.client.stop()));
  }

  /** Starts clients for new bridges, restarts those whose settings changed, stops those removed. */
  async reload(): Promise<void> {
    if (!this.running) return;
    const wanted = new Map<string, ExternalBridge>();
    for (const b of await this.deps.registry.listBridges())
      if (b.kind === 'zigbee2mqtt' && b.url !== undefined) wanted.set(b.id, { ...b, url: b.url });
    for (const [id, c] of this.clients) {
      const next = wanted.get(id);
      if (next && JSON.stringify(next) === JSON.stringify(c.config)) continue;
      this.clients.delete(id);
      c.closing = true;
      await c.client.stop();
    }
    for (const [id, config] of wanted) if (!this.clients.has(id)) this.open(config);
  }

  states(): ExternalBrokerState[] {
    return [...this.clients.values()].map((c) => c.client.state());
  }

  private open(config: ExternalBridge): void {
    let wasConnected = false;
    // Set before the client exists: its callbacks read it, and a stop by us is no lost link.
    const entry = { config, closing: false };
    const client: ExternalBrokerClient = new ExternalBrokerClient({
      bridgeId: config.id,
      url: config.url,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      clientId: `care-gateway-${this.deps.nodeId ?? 'node'}-${config.id}`,
      topics: [`${config.baseTopic}/#`],
      // One at a time, as on our broker: the bridge's state, a device's availability and its readings decide one
      // another (an outage, a level's edge), so none may overtake another.
      orderKey: () => config.id,
      // A retained message the broker hands over on subscription is an old state: `replay` keeps it from raising anything.
      onMessage: (topic, payload, meta) =>
        this.deps.adapter.handle({
          bridge: config,
          topic,
          payload,
          replay: meta.retain,
          delivery: { kind: 'mqtt', session: `ext:${config.id}:${client.state().connections}`, packetId: meta.messageId, dup: meta.dup },
          remoteAddress: null,
          arrivedHr: meta.arrivedHr,
        }),
      // The link to zigbee2mqtt's broker lost: the gateway hears none of its devices, like a coordinator gone.
      onStateChange: (state) => {
        if (state.connected) wasConnected = true;
        else if (wasConnected && !entry.closing)
          void this.deps.adapter
            .connectionLost(config)
            .catch((err: unknown) => this.deps.log.error({ err, bridgeId: config.id }, 'could not handle a lost zigbee2mqtt link'));
      },
      clock: this.deps.clock,
      log: this.deps.log.child({ bridgeId: config.id }),
      ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
    });
    this.clients.set(config.id, Object.assign(entry, { client }));
    client.start();
  }
}
