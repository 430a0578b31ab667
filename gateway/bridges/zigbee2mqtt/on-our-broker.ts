// zigbee2mqtt signed in to our broker: client id = username = bridge id, password = secret, confined to its base topic.
import type { PublishPacket } from 'aedes';
import type { Logger } from '../../core/logger.js';
import { onOurBroker, type Zigbee2mqttBridge } from '../../core/bridges.js';
import type { BridgeAuthOutcome, BridgeClients, BridgeClientSession } from '../../broker/bridge-clients.js';
import { verifySecret } from '../../registry/secrets.js';
import type { BridgeRepo } from '../repo.js';
import type { Zigbee2mqttAdapter } from './adapter.js';
import { topicUnder } from './adapter.js';

export interface Zigbee2mqttOnOurBrokerDeps {
  registry: Pick<BridgeRepo, 'getBridge'>;
  adapter: Pick<Zigbee2mqttAdapter, 'handle' | 'connectionLost'>;
  log: Logger;
  verify?: (secret: string, hash: string) => Promise<boolean>;
}

export class Zigbee2mqttOnOurBroker implements BridgeClients {
  constructor(private readonly deps: Zigbee2mqttOnOurBrokerDeps) {}

  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<BridgeAuthOutcome | null> {
    if (username === undefined || username === '') return null;
    const bridge = await this.bridge(username);
    if (!bridge) return null;
    if (clientId !== username)
      return {
        ok: false,
        returnCode: 5,
        security: { kind: 'client_id_mismatch', detail: `bridge ${username}: client id "${clientId}" is not the username` },
      };
    const ok = password !== undefined && (await (this.deps.verify ?? verifySecret)(password.toString('utf8'), bridge.secretHash));
    if (!ok) return { ok: false, returnCode: 4, security: { kind: 'auth_failed', detail: `bridge ${username}: wrong secret` } };
    this.deps.log.info({ bridgeId: bridge.id }, 'zigbee2mqtt signed in');
    return { ok: true, bridgeId: bridge.id, secretHash: bridge.secretHash };
  }

  async publish(
    session: BridgeClientSession,
    packet: PublishPacket,
    _will: boolean,
    arrivedHr: number,
  ): Promise<{ refusal: string } | null> {
    const bridge = await this.bridge(session.bridgeId);
    // Removed from the registry or moved off our broker while connected: nothing it says can be placed.
    if (!bridge) return { refusal: 'no longer a bridge on this broker' };
    const rest = topicUnder(bridge.baseTopic, packet.topic);
    if (rest === null) return { refusal: `publish to "${packet.topic.slice(0, 200)}" outside its base topic "${bridge.baseTopic}/"` };
    // A retained device state would be kept and replayed to the next subscriber; only the states meant to last stay retained.
    if (rest !== 'bridge/state' && !rest.endsWith('/availability')) packet.retain = false;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    await this.deps.adapter.handle({
      bridge,
      topic: packet.topic,
      payload,
      // Every PUBLISH zigbee2mqtt sends to us is live, its retain flag included: only a broker's replay is old news.
      replay: false,
      delivery: { kind: 'mqtt', session: session.id, packetId: packet.qos > 0 ? packet.messageId : undefined, dup: packet.dup },
      remoteAddress: session.remoteAddress,
      arrivedHr,
    });
    return null;
  }

  async maySubscribe(session: BridgeClientSession, topic: string): Promise<boolean> {
    const bridge = await this.bridge(session.bridgeId);
    if (!bridge) return false;
    // Its own tree, wildcards included (zigbee2mqtt subscribes to `<base>/#`): the base topics of bridges never nest.
    return topic === `${bridge.baseTopic}/#` || topicUnder(bridge.baseTopic, topic) !== null;
  }

  disconnected(session: BridgeClientSession): void {
    this.bridge(session.bridgeId)
      .then((bridge) => (bridge ? this.deps.adapter.connectionLost(bridge) : undefined))
      .catch((err: unknown) => this.deps.log.error({ err, bridgeId: session.bridgeId }, 'could not handle a lost zigbee2mqtt connection'));
  }

  private async bridge(id: string): Promise<(Zigbee2mqttBridge & { secretHash: string }) | null> {
    const bridge = await this.deps.registry.getBridge(id);
    return bridge && onOurBroker(bridge) ? bridge : null;
  }
}
