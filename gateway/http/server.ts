// Binds a built app to a TCP port; the only place that listens, so tests can drive buildApp() with inject().
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface ListenOptions {
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  host: string;
}

/** Starts listening and resolves with the port actually bound. */
export async function listen(app: FastifyInstance, options: ListenOptions): Promise<number> {
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    throw new Error(`HTTP server bound to an unexpected address: ${String(address)}`);
  }
  return (address satisfies AddressInfo).port;
}
