// A TCP proxy that a test cuts as a network cut does (nothing forwarded, nothing closed) and mends again; and the relay plumbing mqtt-relay.ts shares with it.
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy (to PostgreSQL, Redis…) that can stop forwarding without closing anything, as a cut network does: both ends keep
 * their connections open, bytes sent meanwhile wait in the kernels' buffers, and flow again when the cut is mended.
 */
export class CuttableProxy {
  private cut = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    let proxy: CuttableProxy | null = null;
    const { server, port } = await relayServer(targetPort, (inbound, outbound) => proxy?.pair(inbound, outbound));
    proxy = new CuttableProxy(server, port);
    return proxy;
  }

  /** The same connection string (postgres://…, redis://…), through this proxy. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.port = String(this.port);
    return u.toString();
  }

  /** Stops reading from either side: nothing is forwarded, nothing is closed. */
  cutOff(): void {
    this.cut = true;
    for (const s of this.sockets) s.pause();
  }

  mend(): void {
    this.cut = false;
    for (const s of this.sockets) s.resume();
  }

  stop(): Promise<void> {
    return stopRelay(this.server, this.sockets);
  }

  private pair(a: Socket, b: Socket): void {
    tieEnds(a, b, this.sockets);
    a.on('data', (chunk: Buffer) => b.write(chunk));
    b.on('data', (chunk: Buffer) => a.write(chunk));
    if (this.cut) {
      a.pause();
      b.pause();
    }
  }
}

/** A loopback listener on a free port: each connection to it is handed to `pair` with a new one to `targetPort`. */
export async function relayServer(
  targetPort: number,
  pair: (inbound: Socket, outbound: Socket) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer((inbound) => pair(inbound, connect(targetPort, '127.0.0.1')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return { server, port: address.port };
}

/** Each of the two sockets ends, or is destroyed, when the other does; `open` holds them while they are open. */
export function tieEnds(a: Socket, b: Socket, open: Set<Socket>): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    open.add(from);
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => {
      open.delete(from);
      to.destroy();
    });
  }
}

/** Destroys the relay's open sockets and closes its listener. */
export async function stopRelay(server: Server, open: Set<Socket>): Promise<void> {
  for (const s of open) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
