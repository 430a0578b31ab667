import mqtt from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceAuthenticator } from '../../gateway/broker/auth.js';
import { hashSecret, verifySecret } from '../../gateway/registry/secrets.js';
import { closed, device, refusedCode, startEdge, type Edge } from '../helpers/edge.js';

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
    await waitFor('one connected client', () => edge?.broker.connectedCount() === 1, { timeoutMs: 2000 });
    expect(edge.broker.connectionOf('btn-001')).toMatchObject({ connected: true, remoteAddress: '127.0.0.1', disconnectedAt: null });
    expect(await edge.store.security.list(10)).toEqual([]);

    client.end();
    await closed(client);
    await waitFor('disconnect noted', () => edge?.broker.connectionOf('btn-001')?.connected === false, { timeoutMs: 2000 });
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

  it('lets correct secrets in from an address that just sent ten wrong ones, and records each failure', async () => {
    edge = await startEdge();
    // btn-002 connects once, so its secret is known to this process; the others have never connected.
    const early = await edge.connect('btn-002');
    early.end();
    await closed(early);

    const bad = [
      ...[0, 1, 2, 3].map((i) => ({ clientId: 'btn-001', username: 'btn-001', password: `guess-${i}` })),
      ...[0, 1, 2].map((i) => ({ clientId: 'fall-001', username: 'fall-001', password: `guess-${i}` })),
      ...[0, 1, 2].map((i) => ({ clientId: `ghost-${i}`, username: `ghost-${i}`, password: 'whatever' })),
    ];
    for (const attempt of bad) expect(await refusedCode(edge.port, attempt)).toBe(4);
    expect(await edge.store.security.list(50)).toHaveLength(10);

    // A building behind one NAT address: every fixture with its own right secret gets in, at once.
    const clients = await Promise.all(['btn-001', 'btn-002', 'fall-001', 'pir-001'].map((id) => edge!.connect(id)));
    expect(clients.every((c) => c.connected)).toBe(true);
    expect(edge.broker.authWaiting()).toBe(0);
  });

  it('slows only the guessed device id from that address, and lets its right secret in once the delay has passed', async () => {
    edge = await startEdge({
      edge: { authLimits: { freeFailures: 3, windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000, addressFailures: 100 } },
    });
    for (let i = 0; i < 4; i++) {
      expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: `guess-${i}` })).toBe(4);
    }
    expect(edge.broker.authDelayOf('127.0.0.1', 'btn-001')).toBe(1000);
    expect(edge.broker.authDelayOf('127.0.0.1', 'btn-002')).toBe(0);
    const events = await edge.store.security.list(50);
    expect(events).toHaveLength(4);
    expect(events[0]?.detail).toContain('next checks wait 1 s');

    // Another device behind the same address is not held up at all.
    expect((await edge.connect('btn-002')).connected).toBe(true);

    // The guessed device's right secret waits its turn, and is then checked and admitted, not refused.
    let admitted = false;
    const pending = edge.connect('btn-001').then((c) => {
      admitted = c.connected;
      return c;
    });
    await waitFor('the attempt waiting its turn', () => edge?.broker.authWaiting() === 1, { timeoutMs: 3000 });
    expect(admitted).toBe(false);
    edge.clock.advance(1000);
    expect((await pending).connected).toBe(true);
    // Its success clears the pair: the next reconnect does not wait.
    expect(edge.broker.authDelayOf('127.0.0.1', 'btn-001')).toBe(0);

    // Each further failure doubles the wait, and the repeats are not logged one by one.
    for (let i = 0; i < 5; i++) {
      const wait = edge.broker.authDelayOf('127.0.0.1', 'fall-001');
      const refused = refusedCode(edge.port, { clientId: 'fall-001', username: 'fall-001', password: `guess-${i}` });
      if (wait > 0) {
        await waitFor('the guess waiting its turn', () => edge?.broker.authWaiting() === 1, { timeoutMs: 3000 });
        edge.clock.advance(wait);
      }
      expect(await refused).toBe(4);
    }
    expect(edge.broker.authDelayOf('127.0.0.1', 'fall-001')).toBe(2000);
    expect((await edge.store.security.list(50)).filter((e) => e.deviceId === 'fall-001')).toHaveLength(4);
  });

  it('lets a stopping broker go while an attempt waits its turn, and admits nobody it did not check', async () => {
    edge = await startEdge({
      edge: { authLimits: { freeFailures: 1, windowMs: 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000, addressFailures: 100 } },
    });
    for (const guess of ['guess-1', 'guess-2'])
      expect(await refusedCode(edge.port, { clientId: 'btn-001', username: 'btn-001', password: guess })).toBe(4);
    const client = mqtt.connect(`mqtt://127.0.0.1:${edge.port}`, {
      clientId: 'btn-001',
      username: 'btn-001',
      password: device('btn-001').secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    let admitted = false;
    client.on('connect', () => (admitted = true));
    client.on('error', () => undefined);
    const ended = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await waitFor('the attempt waiting its turn', () => edge?.broker.authWaiting() === 1, { timeoutMs: 3000 });
    await edge.broker.stop();
    await ended;
    expect(admitted).toBe(false);
    expect(edge.broker.authWaiting()).toBe(0);
    client.end(true);
  });

  it('makes a flood of failures from one address take turns, still admitting correct secrets, and stops logging each one', async () => {
    edge = await startEdge({
      edge: { authLimits: { freeFailures: 100, windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000, addressFailures: 5 } },
    });
    for (let i = 0; i < 8; i++)
      expect(await refusedCode(edge.port, { clientId: `ghost-${i}`, username: `ghost-${i}`, password: 'whatever' })).toBe(4);
    expect(edge.broker.isAuthSlowed('127.0.0.1')).toBe(true);
    const events = await edge.store.security.list(50);
    expect(events).toHaveLength(5);
    expect(events[0]?.detail).toContain('one at a time');
    const clients = await Promise.all(['btn-001', 'btn-002', 'fall-001'].map((id) => edge!.connect(id)));
    expect(clients.every((c) => c.connected)).toBe(true);
    edge.clock.advance(60_001);
    expect(edge.broker.isAuthSlowed('127.0.0.1')).toBe(false);
  });

  it('checks an unknown device id with one scrypt, exactly as it checks a wrong secret, so ids cannot be told apart by timing', async () => {
    edge = await startEdge();
    const checked: string[] = [];
    const auth = new DeviceAuthenticator({
      registry: edge.store.registry,
      clock: edge.clock,
      verify: async (secret, hash) => {
        checked.push(hash.split('$').slice(0, 4).join('$'));
        return verifySecret(secret, hash);
      },
    });
    const attempt = (id: string, password: string) =>
      auth.check({ clientId: id, username: id, password: Buffer.from(password), remoteAddress: '10.0.0.1' });
    expect((await attempt('btn-001', 'wrong')).ok).toBe(false);
    expect((await attempt('ghost-1', 'wrong')).ok).toBe(false);
    expect((await attempt('ghost-2', 'wrong')).ok).toBe(false);
    // Three checks with the same scrypt parameters: the unknown ids ran a decoy of the same cost.
    expect(checked).toEqual(['scrypt$4096$8$1', 'scrypt$4096$8$1', 'scrypt$4096$8$1']);
    expect((await attempt('btn-001', device('btn-001').secret)).ok).toBe(true);
    // A reconnect with the secret that verified is the cheap path.
    expect((await attempt('btn-001', device('btn-001').secret)).ok).toBe(true);
    expect(checked).toHaveLength(4);
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
