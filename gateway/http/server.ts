// Binds a built app to a TCP port and closes it again; the only place that listens, so tests can drive buildApp() with inject().
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface ListenOptions {
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  host: string;
  /** Sockets beyond this are closed as they are accepted, so HTTP cannot take the descriptors MQTT needs. */
  maxConnections?: number;
  /** Called for each socket refused at the cap. */
  onRefused?: () => void;
}

/** Starts listening and resolves with the port actually bound. */
export async function listen(app: FastifyInstance, options: ListenOptions): Promise<number> {
  if (options.maxConnections !== undefined) {
    app.server.maxConnections = options.maxConnections;
    const { maxConnections, onRefused } = options;
    let refused = 0;
    app.server.on('drop', () => {
      refused++;
      onRefused?.();
      // The first refusal and then one in a thousand: a flood must not flood the log too.
      if (refused % 1000 === 1) app.log.warn({ maxConnections, refused }, 'HTTP connection refused: at the connection cap');
    });
  }
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    throw new Error(`HTTP server bound to an unexpected address: ${String(address)}`);
  }
  return (address satisfies AddressInfo).port;
}

/**
 * Stops accepting and closes the app. Idle keep-alive sockets close at once; requests under way get `graceMs` to
 * finish, then every socket still open is closed: a client that sent half a body and went quiet cannot hold the
 * shutdown (and with it the broker, the database and the restart) for its request timeout.
 * Resolves with the number of sockets closed at the end of the grace period.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<number> {
  let forced = 0;
  const timer = setTimeout(() => {
    app.server.getConnections((err, count) => {
      forced = err ? 0 : count;
      app.server.closeAllConnections();
    });
  }, graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
  return forced;
}
