// The generated demo's stand-in for ChirpStack's Mosquitto: a separate in-process aedes on the demo ChirpStack bridge's loopback port, so the demo's bridge is real and connected; never started for a registry file.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { Bridge, ChirpstackBridge } from '../../core/bridges.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export interface DemoStandInDeps {
  /** Where the registry came from: only the generated demo ('demo') gets a stand-in. */
  source: 'file' | 'demo' | 'database';
  bridges: readonly Bridge[];
  log: Logger;
}

/** One loopback port the stand-in serves, and the ChirpStack bridges (accounts) on it. */
interface Listener {
  host: string;
  port: number;
  bridges: ChirpstackBridge[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Plays ChirpStack's broker for the demo: the bridge's own account (which `npm run sim:chirpstack` also publishes
 * with) may use its application's topics and nothing else; anonymous clients are refused, as ChirpStack's installer
 * sets Mosquitto up. It speaks MQTT 3.1.1 (aedes), which the bridge's client falls back to.
 */
export class DemoChirpstackBroker {
  private constructor(
    private readonly broker: Aedes,
    private readonly servers: Server[],
    private readonly sockets: Set<Socket>,
    readonly urls: string[],
  ) {}

  /**
   * Starts the stand-in when the registry is the generated demo and a ChirpStack bridge points at a loopback mqtt://
   * port; null otherwise. A port already served by something else (e.g. `npm run sim:chirpstack -- --start-mosquitto`)
   * is left to it; any other failure is logged and the bridge reports its broker unreachable, as it would for real.
   */
  static async startFor(deps: DemoStandInDeps): Promise<DemoChirpstackBroker | null> {
    if (deps.source !== 'demo') return null;
    const listeners = standInListeners(deps.bridges);
    if (listeners.length === 0) return null;
    const accounts = new Map<string, ChirpstackBridge>();
    for (const l of listeners) for (const b of l.bridges) if (b.username !== undefined) accounts.set(b.username, b);
    // Which bridge's account each connection signed in with, for its topic rights.
    const loginOf = new WeakMap<Client, ChirpstackBridge>();
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        const bridge = username === undefined ? undefined : accounts.get(username);
        if (bridge?.password !== undefined && password !== undefined && sameSecret(password, bridge.password)) {
          loginOf.set(client, bridge);
          done(null, true);
          return;
        }
        deps.log.warn({ clientId: client.id, username }, 'demo ChirpStack stand-in refused a login');
        done(Object.assign(new Error('bad user name or password'), { returnCode: 4 as const }), false);
      },
      authorizePublish: (client, packet, done) => {
        done(client && inApplication(loginOf.get(client), packet.topic) ? null : new Error(`not allowed to publish on ${packet.topic}`));
      },
      // A refused subscription is negated (SUBACK 0x80), which the bridge reports, rather than closing the connection.
      authorizeSubscribe: (client, sub, done) => {
        done(null, inApplication(loginOf.get(client), sub.topic) ? sub : null);
      },
    });
    const sockets = new Set<Socket>();
    const servers: Server[] = [];
    const urls: string[] = [];
    for (const l of listeners) {
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        broker.handle(socket);
      });
      try {
        await listen(server, l.port, l.host === 'localhost' ? '127.0.0.1' : l.host.replace(/^\[|\]$/g, ''));
        servers.push(server);
        urls.push(`mqtt://${l.host}:${l.port}`);
      } catch (err) {
        const inUse = err instanceof Error && 'code' in err && err.code === 'EADDRINUSE';
        const line = inUse
          ? 'demo ChirpStack stand-in not started: the port is already in use (e.g. mosquitto from npm run sim:chirpstack); the demo bridge uses whatever serves it'
          : 'demo ChirpStack stand-in could not listen; the demo bridge will report its broker unreachable';
        deps.log.warn({ host: l.host, port: l.port, bridges: l.bridges.map((b) => b.id), err: errorMessage(err) }, line);
      }
    }
    if (servers.length === 0) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      return null;
    }
    deps.log.warn(
      { urls, bridges: listeners.flatMap((l) => l.bridges.map((b) => b.id)) },
      "DEMO: serving an in-process stand-in for ChirpStack's MQTT broker (the demo registry has no real ChirpStack); a registry file never gets one",
    );
    return new DemoChirpstackBroker(broker, servers, sockets, urls);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
  }
}

/** The demo's ChirpStack bridges on loopback mqtt:// URLs, grouped by port. */
export function standInListeners(bridges: readonly Bridge[]): Listener[] {
  const byPort = new Map<string, Listener>();
  for (const b of bridges) {
    if (b.kind !== 'chirpstack') continue;
    let url: URL;
    try {
      url = new URL(b.url);
    } catch {
      continue;
    }
    if (url.protocol !== 'mqtt:' || !LOOPBACK.has(url.hostname)) continue;
    const port = url.port === '' ? 1883 : Number(url.port);
    const key = `${url.hostname}:${port}`;
    const l = byPort.get(key) ?? { host: url.hostname, port, bridges: [] };
    l.bridges.push(b);
    byPort.set(key, l);
  }
  return [...byPort.values()];
}

/** ChirpStack's topics for the account's application: `application/<applicationId>/…`. */
function inApplication(bridge: ChirpstackBridge | undefined, topic: string): boolean {
  return bridge !== undefined && topic.startsWith(`application/${bridge.applicationId}/`);
}

function sameSecret(given: Buffer, expected: string): boolean {
  const want = Buffer.from(expected, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
