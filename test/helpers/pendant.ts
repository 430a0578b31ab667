// A fixture that listens on its command topic and keeps every command it received, for tests of what a device is shown.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitFor } from './wait.js';

export interface ReceivedCommand {
  type: string;
  incident: string;
  resync?: boolean;
  [key: string]: unknown;
}

export interface Pendant {
  id: string;
  client: MqttClient;
  /** Every command received on this connection, oldest first. */
  commands: ReceivedCommand[];
  /** Waits until `count` commands arrived on this connection; returns them all. */
  received(count: number, what?: string): Promise<ReceivedCommand[]>;
  press(type?: string): Promise<void>;
  end(): Promise<void>;
}

let seq = 1000;

/**
 * Connects as device `id` and, unless `subscribe` is false (a persistent session the broker restores), subscribes to its
 * command topic. Messages are collected from the moment of CONNACK, so a queued command is not missed.
 */
export async function connectPendant(
  mqttUrl: string,
  id: string,
  secret: string,
  opts: { clean?: boolean; subscribe?: boolean; extra?: IClientOptions } = {},
): Promise<Pendant> {
  const commands: ReceivedCommand[] = [];
  const will = { topic: `care/v1/${id}/status`, payload: Buffer.from('offline'), qos: 1 as const, retain: true };
  const client = mqtt.connect(mqttUrl, {
    clientId: id,
    username: id,
    password: secret,
    reconnectPeriod: 0,
    protocolVersion: 4,
    clean: opts.clean ?? true,
    will,
    ...opts.extra,
  });
  // Listening from the first packet: a restored session's queued command may come in the same read as the CONNACK.
  client.on('message', (topic, payload) => {
    if (topic === `care/v1/${id}/command`) commands.push(JSON.parse(payload.toString()) as ReceivedCommand);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => undefined);
  await client.publishAsync(`care/v1/${id}/status`, 'online', { qos: 1, retain: true });
  if (opts.subscribe ?? true) {
    const [granted] = await client.subscribeAsync(`care/v1/${id}/command`, { qos: 1 });
    if (granted?.qos !== 1) throw new Error(`${id}: command subscription refused`);
  }
  return {
    id,
    client,
    commands,
    received: (count, what = `${count} command(s) on ${id}`) =>
      waitFor(what, () => (commands.length >= count ? [...commands] : null), { timeoutMs: 10_000 }),
    press: async (type = 'sos') => {
      await client.publishAsync(`care/v1/${id}/event`, JSON.stringify({ type, seq: ++seq }), { qos: 1 });
    },
    end: () => client.endAsync(),
  };
}
