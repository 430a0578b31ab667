// A registry change reaches devices already connected: a moved device reports for its new resident, a removed or re-keyed one must log in again.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { hashSecret } from '../../gateway/registry/secrets.js';
import { deviceTopic } from '../../devices/topics.js';
import { startEdge, type Edge } from '../helpers/edge.js';

describe('DeviceBroker.refreshDevices', () => {
  let edge: Edge | null = null;
  afterEach(async () => {
    await edge?.close();
    edge = null;
  });

  it('moves a connected device to its new resident without reconnecting it', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    const current = await edge.store.registry.getDevice('btn-001');
    if (!current) throw new Error('fixture device missing');
    const dropped = edge.broker.refreshDevices([{ ...current, resident: 'r-moved' }]);
    expect(dropped).toEqual([]);
    await client.publishAsync(deviceTopic('btn-001', 'event'), JSON.stringify({ type: 'heartbeat', seq: 1 }), { qos: 1 });
    expect(edge.seen.signals.at(-1)?.residentId).toBe('r-moved');
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it('disconnects a device whose secret changed or that left the registry, and refuses its old secret afterwards', async () => {
    edge = await startEdge();
    const rekeyed = await edge.connect('btn-001');
    const removed = await edge.connect('btn-002');
    const kept = await edge.connect('fall-001');
    const devices = await edge.store.registry.listDevices();
    const newHash = await hashSecret('a-brand-new-secret');
    const next = devices.filter((d) => d.id !== 'btn-002').map((d) => (d.id === 'btn-001' ? { ...d, secretHash: newHash } : d));
    const closed = Promise.all([rekeyed, removed].map((c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()))));
    rekeyed.options.reconnectPeriod = 0;
    removed.options.reconnectPeriod = 0;
    const dropped = edge.broker.refreshDevices(next);
    expect(dropped.sort()).toEqual(['btn-001', 'btn-002']);
    await closed;
    await waitFor('one device connected', () => edge?.broker.connectedCount() === 1);
    expect(kept.connected).toBe(true);
    await edge.store.registry.upsert({ communities: [], residents: [], workers: [], volunteers: [], visits: [], devices: next });
    await expect(edge.connect('btn-001', { reconnectPeriod: 0 })).rejects.toThrow();
    for (const c of [rekeyed, removed, kept]) await c.endAsync(true);
  });
});
