// A TCP proxy that a test cuts as a network cut does (nothing forwarded, nothing closed) and mends again.
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
    const server = createServer((inbound) => proxy?.pair(inbound, connect(targetPort, '127.0.0.1')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy = new CuttableProxy(server, address.port);
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

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pair(a: Socket, b: Socket): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      this.sockets.add(from);
      from.on('data', (chunk: Buffer) => to.write(chunk));
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      if (this.cut) from.pause();
    }
  }
}
