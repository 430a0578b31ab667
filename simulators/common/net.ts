// A TCP port free on 127.0.0.1 right now: the gateway must know its PUBLIC_URL before it listens.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Linux hands out the local ports of outgoing connections from this range. A port the kernel picked for `listen(0)`
 * comes from the same range, so between our probe and the gateway's own listen an outgoing connection (a test's
 * HTTP client, an MQTT client) could take it: EADDRINUSE. Ports are therefore drawn from below the range.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo > 12_000) return [lo, hi];
  } catch {
    // Not Linux: fall back to the IANA dynamic range's start.
  }
  return [49_152, 65_535];
}

const [EPHEMERAL_LOW] = ephemeralRange();
const LOW = 10_000;

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOW + Math.floor(Math.random() * (EPHEMERAL_LOW - LOW));
    if (await probe(port)) return port;
  }
  throw new Error(`no free TCP port found on 127.0.0.1 between ${LOW} and ${EPHEMERAL_LOW}`);
}
