import { afterEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/registry/secrets.js';
import { closed, device, refusedCode, startEdge, waitFor, type Edge } from './broker-fixture.js';

describe('device broker: authentication', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it('lets a device in with client id = username = device id and its secret', async () => {
    edge = await startEdge();
    const client = await edge.connect('btn-001');
    expect(client.connected).toBe(true);
    await waitFor(() => edge?.broker.connectedCount() === 1, 2000, 'one connected client');
    expect(edge.broker.connectionOf('btn-001')).toMatchObject({ connected: true, remoteAddress: '127.0.0.1', disconnectedAt: null });
    expect(await edge.store.security.list(10)).toEqual([]);

    client.end();
    await closed(client);
    await waitFor(() => edge?.broker.connectionOf('btn-001')?.connected === false, 2000, 'disconnect noted');
    expect(edge.broker.connectionOf('btn-001')?.disconnectedAt).toBe(edge.clock.now());
    // Closing a socket is not going offline: only status/will messages and supervision decide that.
    expect(edge.ingest.healthOf('btn-001')?.state ?? 'unknown').not.toBe('offline');
  });

  it('refuses a wrong secret with code 4 and records auth_failed with the remote address', async () => {
    edge = await startEdge();
    const code = await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: 'wrong' });
    expect(code).toBe(4);
    const events = await edge.store.security.list(10);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'auth_failed', deviceId: 'btn-001', clientId: 'btn-001', remoteAddress: '127.0.0.1' });
    expect(edge.seen.security.map((e) => e.kind)).toEqual(['auth_failed']);
    expect(edge.broker.connectedCount()).toBe(0);
  });

  it('refuses an unknown device with code 4 and a missing password with code 4', async () => {
    edge = await startEdge();
    expect(await refusedCode(edge.port, { clientId: 'ghost-9', username: 'ghost-9', password: 'whatever' })).toBe(4);
    expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001' })).toBe(4);
    const events = await edge.store.security.list(10);
    expect(events.map((e) => e.kind).sort()).toEqual(['auth_failed', 'unknown_device']);
    expect(events.find((e) => e.kind === 'unknown_device')).toMatchObject({ deviceId: 'ghost-9', remoteAddress: '127.0.0.1' });
  });

  it('refuses a client id that is not the username with code 5 (not authorized)', async () => {
    edge = await startEdge();
    const code = await refusedCode(edge.port, { clientId: 'btn-002', username: 'btn-001', password: device('btn-001').secret });
    expect(code).toBe(5);
    const [event] = await edge.store.security.list(10);
    expect(event).toMatchObject({ kind: 'client_id_mismatch', clientId: 'btn-002', deviceId: 'btn-001', remoteAddress: '127.0.0.1' });
  });

  it('stops running scrypt for an address after repeated failures, but still admits credentials it verified before', async () => {
    edge = await startEdge({ authLimits: { maxFailures: 3, windowMs: 60_000, lockoutMs: 120_000 } });
    // btn-002 connects once, so its secret is known to this process.
    const early = await edge.connect('btn-002');
    early.end();
    await closed(early);

    for (let i = 0; i < 3; i++) {
      expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: `guess-${i}` })).toBe(4);
    }
    expect(edge.broker.isLockedOut('127.0.0.1')).toBe(true);
    const recorded = (await edge.store.security.list(50)).length;
    expect((await edge.store.security.list(1))[0]?.detail).toContain('refused for 120 s');

    // Locked out: even the right secret of a device not verified before is refused, and nothing more is logged.
    expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: device('btn-001').secret })).toBe(4);
    expect(await refusedCode(edge.port, { clientId: 'x', username: 'y', password: 'z' })).toBe(5);
    expect(await edge.store.security.list(50)).toHaveLength(recorded);
    // The device verified earlier is let in on its cached credentials.
    const again = await edge.connect('btn-002');
    expect(again.connected).toBe(true);

    edge.clock.advance(121_000);
    expect(edge.broker.isLockedOut('127.0.0.1')).toBe(false);
    const ok = await edge.connect('btn-001');
    expect(ok.connected).toBe(true);
  });

  it('forgets a cached secret when the device secret is changed in the registry', async () => {
    edge = await startEdge();
    const first = await edge.connect('btn-001');
    first.end();
    await closed(first);
    await edge.store.registry.upsert({
      communities: [],
      residents: [],
      workers: [],
      volunteers: [],
      visits: [],
      devices: [{ id: 'btn-001', kind: 'sos_button', resident: 'r-btn-001', secretHash: await hashSecret('rotated-secret') }],
    });
    expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: device('btn-001').secret })).toBe(4);
    const rotated = await edge.connect('btn-001', { password: 'rotated-secret' });
    expect(rotated.connected).toBe(true);
  });
});
