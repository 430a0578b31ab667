// The broker-host process: runs a bare aedes or the gateway and nothing else, and reports its connected clients and its memory after a full GC.
import { readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { Gateway } from '../../gateway/app.js';
import { loadConfig } from '../../gateway/config/load.js';
import { pino } from 'pino';
import { createLogger, silentLogger, type Logger } from '../../gateway/core/logger.js';
import { HOST_LOG_FILE, type HostReply, type HostRequest, type MemorySample } from './host-protocol.js';
import { isNumberedMessage } from './child-rpc.js';
import { DEVICE_LIMITS_OFF } from './limits.js';

interface Running {
  connected: () => number;
  /** MQTT connections the gateway refused at its connection cap (its connections_refused_total); 0 for a bare aedes. */
  refused: () => Promise<number>;
  stop: () => Promise<void>;
}

let running: Running | null = null;

async function startAedes(): Promise<{ port: number; run: Running }> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    run: {
      connected: () => broker.connectedClients,
      refused: () => Promise.resolve(0),
      stop: async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      },
    },
  };
}

/** A benchmark wants its nodes quiet, except to tell why a device was refused (warn and up), which is rare and worth the file. */
function hostLogger(env: Record<string, string>): Logger {
  const file = env[HOST_LOG_FILE];
  if (!file) return silentLogger();
  return createLogger({
    level: env.LOG_LEVEL && env.LOG_LEVEL !== 'silent' ? env.LOG_LEVEL : 'warn',
    destination: pino.destination({ dest: file, sync: false }),
  });
}

async function startGateway(env: Record<string, string>): Promise<{ port: number; httpPort: number; imported: boolean; run: Running }> {
  const { [HOST_LOG_FILE]: _file, ...config } = env;
  const gateway = Gateway.create({ config: loadConfig({ ...DEVICE_LIMITS_OFF, ...config }), log: hostLogger(env) });
  const started = await gateway.start();
  return {
    port: started.mqttPort,
    httpPort: started.httpPort,
    imported: started.registry.imported,
    run: {
      connected: () => gateway.broker.connectedCount(),
      refused: async () =>
        (await gateway.metrics.connectionsRefused.get()).values
          .filter((v) => v.labels.listener === 'mqtt')
          .reduce((n, v) => n + v.value, 0),
      stop: () => gateway.stop(),
    },
  };
}

/** Descriptors this process holds now (Linux), so a count that stops short can be held against the limit. */
function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Memory after three full collections a little apart, so what is left is what the process holds. */
async function memory(): Promise<MemorySample> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the broker host needs --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function handle(req: HostRequest): Promise<HostReply> {
  switch (req.type) {
    case 'start': {
      if (running) throw new Error('already started');
      if (req.mode === 'aedes') {
        const { port, run } = await startAedes();
        running = run;
        return { id: req.id, type: 'started', mqttPort: port, httpPort: null, registryImported: null };
      }
      const { port, httpPort, imported, run } = await startGateway(req.env);
      running = run;
      return { id: req.id, type: 'started', mqttPort: port, httpPort, registryImported: imported };
    }
    case 'clients':
      return {
        id: req.id,
        type: 'clients',
        connected: running?.connected() ?? 0,
        refused: (await running?.refused()) ?? 0,
        openFds: openFds(),
      };
    case 'memory':
      return { id: req.id, type: 'memory', memory: await memory() };
    case 'stop':
      await running?.stop();
      running = null;
      return { id: req.id, type: 'ok' };
  }
}

process.on('message', (msg: unknown) => {
  if (!isNumberedMessage<HostRequest>(msg)) return;
  const req = msg;
  handle(req).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});
// The benchmark closed the channel (done, or it died): nothing is left to serve.
process.on('disconnect', () => process.exit(0));
