// Two gateway nodes on one Redis with the local uplink emitter (gateway/broker/local-emitter.ts): uplinks never reach Redis pub/sub, while takeovers and downlinks across nodes still do.
import type { MqttClient } from 'mqtt';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { isDeviceUplink } from '../../gateway/broker/local-emitter.js';
import { inProcessCluster, type ClusterNode } from '../helpers/cluster-nodes.js';
import { connectOnlineDevice } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';

/** Every PUBLISH Redis executes (channel names), read with MONITOR. */
async function watchPublishes(redis: Redis): Promise<{ channels: string[]; stop: () => Promise<void> }> {
  const monitor = await redis.monitor();
  const channels: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'publish' && args[1] !== undefined) channels.push(args[1]);
  });
  return { channels, stop: () => monitor.disconnect() as unknown as Promise<void> };
}

describe('the cluster broker keeps device uplinks on their node', () => {
  const cluster = inProcessCluster({ heartbeatMs: 200, emptyRedisEachTest: true });
  const clients: MqttClient[] = [];
  const redisClients: Redis[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const r of redisClients.splice(0)) r.disconnect();
  });

  const device = async (node: ClusterNode, id = 'btn-001', secret = 's3cret-btn-001') => {
    const client = await connectOnlineDevice(node.mqttUrl, id, secret);
    clients.push(client);
    return client;
  };
  const redis = (): Redis => {
    const r = cluster.redis.client();
    redisClients.push(r);
    return r;
  };

  it('tells uplink topics from the rest', () => {
    for (const t of ['care/v1/btn-001/event', 'care/v1/btn-001/telemetry', 'care/v1/btn-001/status']) expect(isDeviceUplink(t)).toBe(true);
    for (const t of [
      'care/v1/btn-001/command',
      'care/v1/btn-001/other',
      'care/v1/event',
      'care/v1//event',
      'care/v2/btn-001/event',
      '$SYS/node-a/new/clients',
      'zigbee2mqtt/0x00158d0001a2b3c4',
    ])
      expect(isDeviceUplink(t)).toBe(false);
  });

  it('pages an alarm, with no uplink published to Redis nor its retained status stored there, while a command still crosses it', async () => {
    const { a, b } = await cluster.twoNodes();
    const publishes = await watchPublishes(redis());
    try {
      const button = await device(a);
      await button.publishAsync('care/v1/btn-001/telemetry', JSON.stringify({ battery: 90 }), { qos: 1 });
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      await cluster.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      // Its retained status is not kept: no client may subscribe to it, so it would be written at every CONNECT for nobody.
      expect(await redis().hgetBuffer('retained', 'care/v1/btn-001/status')).toBeNull();

      // A command from the other node reaches the device: that one crosses Redis.
      await button.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
      const received = new Promise<string>((resolve) =>
        button.on('message', (_topic, payload) => {
          if (payload.toString().includes('inc-x')) resolve(payload.toString());
        }),
      );
      await b.gateway.broker.publishCommand('btn-001', { type: 'alarm_received', incident: 'inc-x' });
      expect(JSON.parse(await received)).toMatchObject({ type: 'alarm_received', incident: 'inc-x' });
      await waitFor('the command PUBLISH in the monitor', () => publishes.channels.includes('care/v1/btn-001/command'));
      // aedes' own cluster topics still go through Redis too.
      expect(publishes.channels.some((c) => c.startsWith('$SYS/node-a/'))).toBe(true);
      expect(publishes.channels.filter((c) => isDeviceUplink(c))).toEqual([]);
    } finally {
      await publishes.stop();
    }
  });

  it('still closes a device’s older session on the other node when it reconnects there (aedes’ takeover over Redis)', async () => {
    const { a, b } = await cluster.twoNodes();
    const first = await device(a);
    const second = await device(b);
    await waitFor('node A to close the older session', () => first.disconnected || !first.connected);
    await waitFor('node A to hold no device', () => a.gateway.broker.deviceCount() === 0);
    expect(b.gateway.broker.deviceCount()).toBe(1);
    expect(second.connected).toBe(true);
    // The newer session on node B takes a downlink sent from node A.
    await second.subscribeAsync('care/v1/btn-001/command', { qos: 1 });
    const received = new Promise<string>((resolve) => second.on('message', (_topic, payload) => resolve(payload.toString())));
    await a.gateway.broker.publishCommand('btn-001', { type: 'resolved', incident: 'inc-y' });
    expect(JSON.parse(await received)).toMatchObject({ type: 'resolved', incident: 'inc-y' });
  });
});
