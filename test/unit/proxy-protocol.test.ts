// PROXY protocol at the MQTT listener over real loopback sockets: headers in pieces, v1 and v2, garbled ones, untrusted senders, and the variables that turn it on.
import { createConnection, createServer, Socket, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { ProxyTrust, readPreamble, type Preamble } from '../../gateway/broker/proxy-protocol.js';
import { proxyV2Header } from '../helpers/haproxy.js';

const CONNECT = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]);

let server: Server | null = null;
const open = new Set<Socket>();
afterEach(async () => {
  for (const socket of open) socket.destroy();
  open.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

/**
 * Sends `pieces` from `localAddress` to a listener that reads the preamble with `trust`; resolves with what it decided
 * and the bytes left on the socket for the MQTT parser.
 */
async function exchange(
  trust: ProxyTrust,
  localAddress: string,
  pieces: Buffer[],
  timeoutMs = 2000,
): Promise<{ preamble: Preamble; rest: Buffer }> {
  let accepted: (value: { preamble: Preamble; rest: Buffer }) => void = () => undefined;
  const result = new Promise<{ preamble: Preamble; rest: Buffer }>((resolve) => (accepted = resolve));
  server = createServer((socket: Socket) => {
    open.add(socket);
    void readPreamble(socket, trust, timeoutMs).then(async (preamble) => {
      if (preamble.kind !== 'direct' && preamble.kind !== 'proxied') {
        socket.destroy();
        accepted({ preamble, rest: Buffer.alloc(0) });
        return;
      }
      // Whatever the MQTT parser would read next: the bytes put back, plus any still coming.
      const rest = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          if (Buffer.concat(chunks).length >= CONNECT.length) resolve(Buffer.concat(chunks));
        });
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.resume();
      });
      socket.destroy();
      accepted({ preamble, rest });
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const client = createConnection({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  for (const piece of pieces) {
    client.write(piece);
    // Each piece its own TCP segment, as a slow link would deliver them.
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  const outcome = await result;
  client.destroy();
  return outcome;
}

const balancer = new ProxyTrust(['127.0.0.1']);

describe('PROXY protocol preamble', () => {
  it('takes the address from a trusted balancer’s v2 header, even when it arrives a few bytes at a time, and leaves MQTT intact', async () => {
    const header = proxyV2Header('192.168.7.21', 51000);
    const whole = Buffer.concat([header, CONNECT]);
    const pieces = [whole.subarray(0, 5), whole.subarray(5, 14), whole.subarray(14, 20), whole.subarray(20)];
    const { preamble, rest } = await exchange(balancer, '127.0.0.1', pieces);
    expect(preamble).toEqual({ kind: 'proxied', address: '192.168.7.21', balancer: '127.0.0.1' });
    expect(rest).toEqual(CONNECT);
  });

  it('reads a v1 text header from a trusted balancer', async () => {
    const header = Buffer.from('PROXY TCP4 10.20.30.40 127.0.0.1 5555 1883\r\n', 'latin1');
    const { preamble, rest } = await exchange(balancer, '127.0.0.1', [Buffer.concat([header, CONNECT])]);
    expect(preamble).toEqual({ kind: 'proxied', address: '10.20.30.40', balancer: '127.0.0.1' });
    expect(rest).toEqual(CONNECT);
  });

  it('lets a peer that is no balancer connect directly without a header, untouched', async () => {
    const { preamble, rest } = await exchange(balancer, '127.0.0.8', [CONNECT]);
    expect(preamble).toEqual({ kind: 'direct', address: '127.0.0.8' });
    expect(rest).toEqual(CONNECT);
  });

  it('refuses a header from a peer that is no balancer, naming the peer, not the address it claimed', async () => {
    const { preamble } = await exchange(balancer, '127.0.0.8', [Buffer.concat([proxyV2Header('10.1.1.1', 1), CONNECT])]);
    expect(preamble).toMatchObject({ kind: 'refused', reason: 'proxy_header_untrusted', peer: '127.0.0.8' });
  });

  it('refuses a balancer connection without a header, and one with a garbled header', async () => {
    expect((await exchange(balancer, '127.0.0.1', [CONNECT])).preamble).toMatchObject({ kind: 'refused', reason: 'proxy_header_missing' });
    const badVersion = proxyV2Header('10.1.1.1', 1);
    badVersion[12] = 0x31;
    expect((await exchange(balancer, '127.0.0.1', [badVersion])).preamble).toMatchObject({
      kind: 'refused',
      reason: 'proxy_header_malformed',
    });
    // An address block shorter than its family says.
    const short = proxyV2Header('10.1.1.1', 1).subarray(0, 16 + 3);
    short.writeUInt16BE(3, 14);
    expect((await exchange(balancer, '127.0.0.1', [short])).preamble).toMatchObject({ kind: 'refused', reason: 'proxy_header_malformed' });
    const endless = Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`, 'latin1');
    expect((await exchange(balancer, '127.0.0.1', [endless])).preamble).toMatchObject({
      kind: 'refused',
      reason: 'proxy_header_malformed',
    });
  });

  it('drops a connection reset before it was taken (no peer address left) without calling its header untrusted', async () => {
    // A socket whose peer is gone reports no remoteAddress; what the balancer wrote before giving up is still buffered.
    const gone = new Socket();
    gone.push(proxyV2Header('203.0.113.7', 40_000));
    expect(gone.remoteAddress).toBeUndefined();
    expect(await readPreamble(gone, balancer, 200)).toEqual({ kind: 'closed' });
    gone.destroy();
  });

  it('refuses a balancer connection whose header stops half-way, after the timeout', async () => {
    const half = proxyV2Header('10.1.1.1', 1).subarray(0, 20);
    const { preamble } = await exchange(balancer, '127.0.0.1', [half], 200);
    expect(preamble).toMatchObject({ kind: 'refused', reason: 'proxy_header_malformed' });
  });

  it('trusts addresses, CIDRs and named ranges, and IPv4 peers seen through dual-stack sockets', () => {
    const trust = new ProxyTrust(['10.0.0.0/8', '192.168.1.5', 'loopback']);
    expect(trust.trusts('10.200.3.4')).toBe(true);
    expect(trust.trusts('::ffff:10.200.3.4')).toBe(true);
    expect(trust.trusts('192.168.1.5')).toBe(true);
    expect(trust.trusts('192.168.1.6')).toBe(false);
    expect(trust.trusts('127.0.0.9')).toBe(true);
    expect(trust.trusts('::1')).toBe(true);
    expect(trust.trusts('11.0.0.1')).toBe(false);
    expect(trust.trusts(null)).toBe(false);
  });
});

describe('MQTT_PROXY_PROTOCOL and MQTT_PROXY_FROM', () => {
  it('are off by default, and on with the balancers named', () => {
    expect(loadConfig({}).mqtt.proxyFrom).toBeNull();
    expect(loadConfig({ MQTT_PROXY_PROTOCOL: 'on', MQTT_PROXY_FROM: '10.0.0.2, 10.0.1.0/24' }).mqtt.proxyFrom).toEqual([
      '10.0.0.2',
      '10.0.1.0/24',
    ]);
  });

  it('refuse half a setup or a bad value with one line naming the variable', () => {
    expect(() => loadConfig({ MQTT_PROXY_PROTOCOL: 'on' })).toThrow(/^MQTT_PROXY_FROM: required when MQTT_PROXY_PROTOCOL is on/);
    expect(() => loadConfig({ MQTT_PROXY_FROM: '10.0.0.2' })).toThrow(/^MQTT_PROXY_PROTOCOL: must be on when MQTT_PROXY_FROM is set/);
    expect(() => loadConfig({ MQTT_PROXY_PROTOCOL: 'yes', MQTT_PROXY_FROM: '10.0.0.2' })).toThrow(
      /^MQTT_PROXY_PROTOCOL: expected on or off/,
    );
    expect(() => loadConfig({ MQTT_PROXY_PROTOCOL: 'on', MQTT_PROXY_FROM: '10.0.0.300' })).toThrow(
      /^MQTT_PROXY_FROM: expected proxy addresses/,
    );
  });
});
