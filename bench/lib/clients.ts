// MQTT device clients for the benchmarks: the same mqtt.js setup everywhere, connected many at a time with bounded concurrency.
import mqtt, { type MqttClient } from 'mqtt';

export interface DeviceCredentials {
  id: string;
  secret: string;
}

/** Client id = username = device id, password = secret, MQTT 3.1.1, no automatic reconnect, as the device protocol fixes it. */
export async function connectDevice(url: string, device: DeviceCredentials): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    clientId: device.id,
    username: device.id,
    password: device.secret,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: 60,
    connectTimeout: 60_000,
  });
  // A socket reset while the servers shut down must not become an unhandled 'error' event.
  client.on('error', () => undefined);
  return client;
}

/** Connects every device, at most `concurrency` handshakes in flight; results keep the input order. */
export async function connectMany(url: string, devices: readonly DeviceCredentials[], concurrency: number): Promise<MqttClient[]> {
  const clients = new Array<MqttClient>(devices.length);
  const queue = devices.entries();
  const worker = async (): Promise<void> => {
    for (const [i, d] of queue) clients[i] = await connectDevice(url, d);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, worker));
  } catch (err) {
    await closeAll(clients.filter(Boolean));
    throw err;
  }
  return clients;
}

export async function closeAll(clients: readonly MqttClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
