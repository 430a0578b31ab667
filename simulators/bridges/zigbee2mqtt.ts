// A zigbee2mqtt-shaped publisher: signs in to the gateway's broker as a bridge (or to its own broker) and publishes what zigbee2mqtt publishes: bridge state, availability, presses, occupancy, battery.
import mqtt, { type MqttClient } from 'mqtt';

export interface Zigbee2mqttPublisherOptions {
  url: string;
  /** On the gateway's broker: the bridge id (client id = username) and its secret. */
  bridgeId: string;
  password?: string;
  username?: string;
  baseTopic: string;
}

export interface SimZigbeeDevice {
  /** Friendly name or IEEE address, as registered (`externalId`). */
  name: string;
  model: string | undefined;
  kind: string;
}

/** What each supported kind publishes when it "fires", as zigbee2mqtt renders it for the common models. */
function alarmPayload(device: SimZigbeeDevice, linkquality: number): Record<string, unknown> {
  if (device.model === 'HS1EB/HS1EB-E') return { action: 'single', linkquality };
  if (device.model === 'SEB01ZB') return { sos: true, tamper: false, battery_low: false, linkquality };
  if (device.model === 'MIR-HE200-TY' || device.kind === 'fall_sensor') return { fall_down_status: 'fall', linkquality };
  return { action: 'emergency', linkquality };
}

export class Zigbee2mqttPublisher {
  private client: MqttClient | null = null;
  /** Messages acknowledged by the broker, and those that failed. */
  readonly counts = { sent: 0, acked: 0, errors: 0 };

  constructor(private readonly opts: Zigbee2mqttPublisherOptions) {}

  async connect(): Promise<void> {
    const { url, bridgeId, password, username, baseTopic } = this.opts;
    this.client = await mqtt.connectAsync(url, {
      clientId: bridgeId,
      username: username ?? bridgeId,
      ...(password !== undefined ? { password } : {}),
      reconnectPeriod: 0,
      protocolVersion: 4,
      will: { topic: `${baseTopic}/bridge/state`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    });
    await this.publish('bridge/state', { state: 'online' }, true);
  }

  async availability(device: SimZigbeeDevice, state: 'online' | 'offline'): Promise<void> {
    await this.publish(`${device.name}/availability`, { state }, true);
  }

  /** An SOS press, or a fall for a radar. */
  async alarm(device: SimZigbeeDevice): Promise<void> {
    await this.publish(device.name, alarmPayload(device, 100 + Math.floor(Math.random() * 100)));
    // Levels go back down, so the next alarm is an edge again.
    if (device.model === 'SEB01ZB') await this.publish(device.name, { sos: false, linkquality: 120 });
    if (device.model === 'MIR-HE200-TY' || device.kind === 'fall_sensor')
      await this.publish(device.name, { fall_down_status: 'none', linkquality: 120 });
  }

  /** Someone moved past a motion sensor, and zigbee2mqtt's occupancy timeout later clears it. */
  async motion(device: SimZigbeeDevice): Promise<void> {
    await this.publish(device.name, { occupancy: true, linkquality: 120 });
    await this.publish(device.name, { occupancy: false, linkquality: 120 });
  }

  async battery(device: SimZigbeeDevice, percent: number): Promise<void> {
    await this.publish(device.name, { battery: Math.round(percent), linkquality: 120 });
  }

  /** The coordinator unplugged: zigbee2mqtt says so before it goes. */
  async coordinatorDown(): Promise<void> {
    await this.publish('bridge/state', { state: 'offline' }, true);
  }

  async close(): Promise<void> {
    await this.client?.endAsync();
    this.client = null;
  }

  private async publish(topic: string, payload: Record<string, unknown>, retain = false): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('zigbee2mqtt publisher is not connected');
    this.counts.sent++;
    try {
      await client.publishAsync(`${this.opts.baseTopic}/${topic}`, JSON.stringify(payload), { qos: 1, retain });
      this.counts.acked++;
    } catch (err) {
      this.counts.errors++;
      throw err;
    }
  }
}
