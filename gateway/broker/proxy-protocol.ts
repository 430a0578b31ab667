// PROXY protocol (v1/v2) at the MQTT listener: a trusted load balancer's header names the device's real address; a header from anyone else, or none where one is owed, refuses the connection.
import { BlockList, isIP, type Socket } from 'node:net';
import { protocolDecoder } from 'aedes-protocol-decoder';

/** The 12-byte signature of PROXY protocol v2 (haproxy's send-proxy-v2) and the start of a v1 text header. */
const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
/** v1 headers are at most 107 bytes (the spec's worst case, CRLF included). */
const V1_MAX_BYTES = 107;
/** v2 headers carry the addresses and optional TLVs; haproxy sends well under this. Longer is treated as garbled. */
const V2_MAX_BYTES = 16 + 2048;
/** A trusted balancer sends its header at once; a connection that owes one and stays silent this long is closed. */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;

/** What the first bytes of a connection said about where it comes from. */
export type Preamble =
  /** No PROXY header, from a peer that owes none: the socket's own address is the client's. */
  | { kind: 'direct'; address: string | null }
  /** A trusted balancer's header: `address` is the client behind it. LOCAL headers (the balancer's own checks) name the balancer. */
  | { kind: 'proxied'; address: string; balancer: string }
  | { kind: 'refused'; reason: ProxyRefusal; peer: string | null; detail: string }
  /** Closed, or silent until the timeout, without a byte from a peer that owed no header: a scan or a dead link, nothing to record. */
  | { kind: 'closed' };

export type ProxyRefusal = 'proxy_header_untrusted' | 'proxy_header_missing' | 'proxy_header_malformed';

/** Named ranges as proxy-addr (fastify's trustProxy) knows them, so TRUST_PROXY and MQTT_PROXY_FROM read alike. */
const NAMED_RANGES: Record<string, [string, number, 'ipv4' | 'ipv6'][]> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
  uniquelocal: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

/** The load balancers that may speak PROXY protocol to us: addresses, CIDRs, or loopback / linklocal / uniquelocal. */
export class ProxyTrust {
  private readonly list = new BlockList();

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const named = NAMED_RANGES[entry];
      if (named) {
        for (const [net, bits, family] of named) this.list.addSubnet(net, bits, family);
        continue;
      }
      const [ip = '', bits] = entry.split('/');
      const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(ip, family);
      else this.list.addSubnet(ip, Number(bits), family);
    }
  }

  trusts(address: string | null): boolean {
    if (address === null) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; keep the familiar form. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * Reads a connection's first bytes and decides whose it is. Bytes after a header (or all of them, without one) are
 * put back on the socket, so the MQTT parser that takes it next sees the stream from its first MQTT byte.
 * A trusted peer must send a header; anyone else must not. Never rejects: a silent socket resolves 'refused' after
 * `timeoutMs`, and a socket that closes first resolves 'refused' too (the caller just drops it).
 */
export function readPreamble(socket: Socket, trust: ProxyTrust, timeoutMs = PROXY_HEADER_TIMEOUT_MS): Promise<Preamble> {
  // No peer address: the connection was reset before this node took it (the balancer gave up on it under load).
  // Its bytes, a balancer's header among them, say nothing about who sent them: it is dropped, not reported.
  if (!socket.remoteAddress) return Promise.resolve({ kind: 'closed' });
  const peer = socket.remoteAddress ? plainAddress(socket.remoteAddress) : null;
  const trusted = trust.trusts(peer);
  return new Promise<Preamble>((resolve) => {
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (preamble: Preamble, rest: Buffer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(preamble);
    };
    const refuse = (reason: ProxyRefusal, detail: string): void => finish({ kind: 'refused', reason, peer, detail }, null);
    const silent = (what: string): void => {
      if (buffered.length === 0 && !trusted) finish({ kind: 'closed' }, null);
      else if (buffered.length === 0) refuse('proxy_header_missing', `load balancer ${peer ?? '?'} sent nothing: ${what}`);
      else refuse('proxy_header_malformed', `incomplete PROXY header from ${peer ?? '?'}: ${what}`);
    };
    const onClose = (): void => silent('connection closed');
    const timer = setTimeout(() => silent(`nothing more within ${timeoutMs} ms`), timeoutMs);
    const onReadable = (): void => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        buffered = Buffer.concat([buffered, chunk]);
      }
      const step = decide(buffered, trusted, peer, socket);
      if (step === 'more') return;
      if (step.kind === 'refused') refuse(step.reason, step.detail);
      else finish(step.preamble, buffered.subarray(step.headerBytes));
    };
    socket.on('readable', onReadable);
    socket.once('close', onClose);
  });
}

type Step = 'more' | { kind: 'refused'; reason: ProxyRefusal; detail: string } | { kind: 'ok'; preamble: Preamble; headerBytes: number };

function decide(buf: Buffer, trusted: boolean, peer: string | null, socket: Socket): Step {
  if (buf.length === 0) return 'more';
  const v2 = startsLike(buf, V2_SIGNATURE);
  const v1 = startsLike(buf, V1_SIGNATURE);
  if (v2 === 'no' && v1 === 'no') {
    if (!trusted) return { kind: 'ok', preamble: { kind: 'direct', address: peer }, headerBytes: 0 };
    return {
      kind: 'refused',
      reason: 'proxy_header_missing',
      detail: `load balancer ${peer ?? '?'} sent no PROXY header (first byte 0x${hex(buf[0])})`,
    };
  }
  if (v2 === 'partial' || v1 === 'partial') return 'more';
  // A header from a peer that is not a named balancer is an attempt to choose the address that lockouts count against.
  if (!trusted) {
    return {
      kind: 'refused',
      reason: 'proxy_header_untrusted',
      detail: `PROXY ${v2 === 'yes' ? 'v2' : 'v1'} header from ${peer ?? 'an unknown address'}, which is not in MQTT_PROXY_FROM`,
    };
  }
  const length = v2 === 'yes' ? v2Length(buf) : v1Length(buf);
  if (length === 'more') return 'more';
  if (length === 'bad') return { kind: 'refused', reason: 'proxy_header_malformed', detail: `garbled PROXY header from ${peer ?? '?'}` };
  const header = buf.subarray(0, length);
  const address = decodedAddress(header, socket);
  if (address === null)
    return { kind: 'refused', reason: 'proxy_header_malformed', detail: `PROXY header from ${peer ?? '?'} names no usable address` };
  return { kind: 'ok', preamble: { kind: 'proxied', address, balancer: peer ?? '?' }, headerBytes: length };
}

/** The full v2 header's length once its fixed part is in, or 'bad' for a version or command that is not v2 PROXY/LOCAL. */
function v2Length(buf: Buffer): number | 'more' | 'bad' {
  if (buf.length < 16) return 'more';
  const versionCommand = buf.readUInt8(12);
  if (versionCommand >> 4 !== 2 || (versionCommand & 0x0f) > 1) return 'bad';
  const total = 16 + buf.readUInt16BE(14);
  if (total > V2_MAX_BYTES) return 'bad';
  return buf.length < total ? 'more' : total;
}

function v1Length(buf: Buffer): number | 'more' | 'bad' {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1) return buf.length >= V1_MAX_BYTES ? 'bad' : 'more';
  return end + 2 > V1_MAX_BYTES ? 'bad' : end + 2;
}

/** The client address in a complete header, by aedes-protocol-decoder; null when it cannot be read as an IP address. */
function decodedAddress(header: Buffer, socket: Socket): string | null {
  try {
    const details = protocolDecoder(socket, header);
    if (details.isProxy === 0 || typeof details.ipAddress !== 'string') return null;
    const address = plainAddress(details.ipAddress);
    return isIP(address) === 0 ? null : address;
  } catch {
    return null;
  }
}

/** Whether `buf` starts with `sig` ('yes'), could still (shorter, 'partial'), or does not. */
function startsLike(buf: Buffer, sig: Buffer): 'yes' | 'partial' | 'no' {
  const n = Math.min(buf.length, sig.length);
  if (!buf.subarray(0, n).equals(sig.subarray(0, n))) return 'no';
  return buf.length >= sig.length ? 'yes' : 'partial';
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
