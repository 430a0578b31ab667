// Stalled and surplus sockets at the edges: request timeout, shutdown grace, and separate HTTP and MQTT connection caps, on a whole gateway over real sockets.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { connect, type Socket } from 'node:net';
import type { Env } from '../../gateway/config/load.js';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

interface Stall {
  socket: Socket;
  /** Everything the server wrote back. */
  received(): string;
  /** Resolves when the server closed the socket. */
  closed: Promise<void>;
}

function open(port: number): Promise<Stall> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => void (data += chunk));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** A client that sends its headers and part of the body it announced, then nothing more. */
async function stalledUpload(port: number): Promise<Stall> {
  const stall = await open(port);
  stall.socket.write(
    'POST /webhooks/twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nFrom=%2B861',
  );
  return stall;
}

/** An MQTT 3.1.1 CONNECT (clean session, user name and password), as a device sends it. */
function connectPacket(id: string, secret: string): Buffer {
  const str = (v: string) => {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(id), str(id), str(secret)]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('HTTP and MQTT edges under stalled and surplus sockets', () => {
  let t: TestGateway | null = null;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await t?.stop();
    t = null;
  });

  async function start(env: Env): Promise<TestGateway> {
    t = await startTestGateway({ env });
    return t;
  }
  async function track(stall: Promise<Stall>): Promise<Stall> {
    const s = await stall;
    sockets.push(s.socket);
    return s;
  }

  it('answers a request whose body stalls with 408 and closes its socket once the request timeout has passed', async () => {
    const g = await start({ HTTP_REQUEST_TIMEOUT_SECONDS: '1' });
    const stall = await track(stalledUpload(portOf(g.httpUrl)));
    // Meanwhile everything else is answered.
    expect((await fetch(`${g.httpUrl}/healthz`)).status).toBe(200);
    await stall.closed;
    expect(stall.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('stops with a stalled upload open: the socket is closed after the grace period instead of holding the stop', async () => {
    const g = await start({ HTTP_REQUEST_TIMEOUT_SECONDS: '600', SHUTDOWN_GRACE_SECONDS: '1' });
    // Under way: its headers were read and routed before the stop (a request arriving later is answered 503 at once).
    const routed = new Promise<void>((r) => g.gateway.httpApp?.server.once('request', () => r()));
    const stall = await track(stalledUpload(portOf(g.httpUrl)));
    await routed;
    await g.stop();
    t = null;
    await stall.closed;
    expect(stall.received()).toBe('');
  });

  it('refuses HTTP sockets beyond HTTP_MAX_CONNECTIONS at accept and counts them, while devices still connect and alarms are recorded', async () => {
    const g = await start({ HTTP_MAX_CONNECTIONS: '4', MQTT_MAX_CONNECTIONS: '50' });
    const port = portOf(g.httpUrl);
    const stalls = [];
    for (let i = 0; i < 4; i++) stalls.push(await track(stalledUpload(port)));
    await waitFor('four held sockets', () => new Promise<boolean>((r) => g.gateway.httpApp?.server.getConnections((_e, n) => r(n === 4))));

    const surplus = await track(open(port));
    surplus.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await surplus.closed;
    expect(surplus.received()).toBe('');
    expect((await g.gateway.metrics.connectionsRefused.get()).values).toEqual([
      expect.objectContaining({ labels: { listener: 'http' }, value: 1 }),
    ]);

    const button = await connectDevice(g.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await button.endAsync();
    await waitFor('the incident', async () => (await g.gateway.store.incidents.list({})).length === 1);

    for (const s of stalls) s.socket.destroy();
    await waitFor('/healthz once sockets are free', async () => (await fetch(`${g.httpUrl}/healthz`).catch(() => null))?.status === 200);
  });

  it('refuses MQTT sockets beyond MQTT_MAX_CONNECTIONS at accept and counts them, while /healthz and webhooks still answer', async () => {
    const g = await start({ MQTT_MAX_CONNECTIONS: '3', HTTP_MAX_CONNECTIONS: '50' });
    const mqttPort = portOf(g.mqttUrl);
    // Sockets that never send CONNECT: what a flood of half-open devices looks like.
    for (let i = 0; i < 3; i++) await track(open(mqttPort));
    await waitFor('three held MQTT sockets', () => g.gateway.broker.socketCount() === 3);

    // A device's CONNECT on a fourth socket is never read: the socket is closed as it is accepted.
    const surplus = await track(open(mqttPort));
    surplus.socket.write(connectPacket('btn-001', 's3cret-btn-001'));
    await surplus.closed;
    expect(surplus.received()).toBe('');
    expect((await g.gateway.metrics.connectionsRefused.get()).values).toEqual([expect.objectContaining({ labels: { listener: 'mqtt' } })]);

    expect((await fetch(`${g.httpUrl}/healthz`)).status).toBe(200);
    const webhook = await g.sms.reply('+8613900000001', '1', { webhookUrl: `${g.publicUrl}/webhooks/twilio/sms` });
    expect(webhook.status).toBe(200);
  });
});
