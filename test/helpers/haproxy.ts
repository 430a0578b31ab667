// Debian's haproxy in front of test gateway nodes, run from the config the deployment ships (deploy/haproxy/haproxy.cfg) with loopback ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect, createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MqttClient, type IClientOptions } from 'mqtt';
import { freePort } from '../../simulators/common/net.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export const HAPROXY_BINARY = '/usr/sbin/haproxy';
export const SHIPPED_HAPROXY_CFG = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url));

/** One gateway node as the balancer reaches it. */
export interface BalancedNode {
  mqttPort: number;
  httpPort: number;
}

/** haproxy's own words: UP, DOWN, MAINT, "UP 1/2" while a check is changing its mind… */
export type ServerStatus = string;

export class HaproxyServer {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly dir = tempDir('care-haproxy-');
  private readonly socketPath = join(this.dir.path, 'admin.sock');
  mqttPort = 0;
  httpPort = 0;

  /**
   * The shipped config names exactly three nodes; tests give three (a node may be a port nothing serves).
   * `maxConnections` is HAProxy's maxconn (default 2,000, a test's handful with room; a benchmark gives its device count).
   */
  constructor(
    private readonly nodes: readonly [BalancedNode, BalancedNode, BalancedNode],
    private readonly maxConnections = 2000,
  ) {}

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The environment that turns the shipped config's compose defaults into this rig's loopback ports. */
  environment(): Record<string, string> {
    const env: Record<string, string> = {
      HAPROXY_MQTT_BIND: `127.0.0.1:${this.mqttPort}`,
      HAPROXY_HTTP_BIND: `127.0.0.1:${this.httpPort}`,
      HAPROXY_ADMIN_SOCKET: this.socketPath,
      HAPROXY_CHECK_INTERVAL: '100ms',
      HAPROXY_CHECK_FASTINTER: '100ms',
      // The shipped 200,000 needs 400,000 descriptors; a test needs a handful.
      HAPROXY_MAXCONN: String(this.maxConnections),
    };
    this.nodes.forEach((node, i) => {
      env[`GATEWAY_${i + 1}_MQTT`] = `127.0.0.1:${node.mqttPort}`;
      env[`GATEWAY_${i + 1}_HTTP`] = `127.0.0.1:${node.httpPort}`;
      env[`GATEWAY_${i + 1}_HTTP_PORT`] = String(node.httpPort);
    });
    return env;
  }

  async start(): Promise<void> {
    this.mqttPort = await freePort();
    this.httpPort = await freePort();
    const env = { ...process.env, ...this.environment() };
    const check = spawnSync(HAPROXY_BINARY, ['-c', '-f', SHIPPED_HAPROXY_CFG], { env, encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy refuses the shipped config: ${check.stderr}`);
    const child = spawn(HAPROXY_BINARY, ['-f', SHIPPED_HAPROXY_CFG, '-db'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    await waitFor(
      () => `haproxy listening on ${this.mqttPort} and ${this.httpPort}; output: ${this.output}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${this.output}`);
        return (await accepts(this.mqttPort)) && (await accepts(this.httpPort));
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  /** Stops haproxy (the process this rig started) and removes its temp dir. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    this.dir.remove();
  }

  /** What haproxy logged so far (connections, health-check transitions). */
  log(): string {
    return this.output;
  }

  /** A node's state in a backend (`gateway_mqtt` or `gateway_http`), from the runtime API: UP, DOWN, MAINT… */
  async status(backend: 'gateway_mqtt' | 'gateway_http', node: 1 | 2 | 3): Promise<ServerStatus> {
    const csv = await this.command('show stat');
    const header = csv.split('\n')[0]?.replace(/^# /, '').split(',') ?? [];
    const at = header.indexOf('status');
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] === backend && cols[1] === `node${node}`) return cols[at] ?? '?';
    }
    throw new Error(`no ${backend}/node${node} in haproxy's stats`);
  }

  /** Takes a node out of both backends by hand (maintenance), or puts it back. */
  async setMaintenance(node: 1 | 2 | 3, on: boolean): Promise<void> {
    for (const backend of ['gateway_mqtt', 'gateway_http'])
      await this.command(`set server ${backend}/node${node} state ${on ? 'maint' : 'ready'}`);
  }

  /** One command on haproxy's admin socket; resolves with its answer. */
  command(line: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      socket.end(`${line}\n`);
    });
  }
}

/** True when something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts haproxy in front of three nodes; call stop() in afterAll. */
export async function startHaproxy(
  nodes: readonly [BalancedNode, BalancedNode, BalancedNode],
  opts: { maxConnections?: number } = {},
): Promise<HaproxyServer> {
  const server = new HaproxyServer(nodes, opts.maxConnections);
  await server.start();
  return server;
}

/**
 * An MQTT 3.1.1 client whose TCP connection leaves from `localAddress` (127.0.0.2, 127.0.0.3…), so one host can play
 * several devices' addresses; `preface` is written before MQTT (a forged PROXY header, say). Resolves on CONNACK,
 * rejects on a refusal or a closed connection.
 */
export function connectFrom(url: string, localAddress: string, opts: IClientOptions & { preface?: Buffer } = {}): Promise<MqttClient> {
  const { hostname, port } = new URL(url);
  const { preface, ...options } = opts;
  const client = new MqttClient(
    () => {
      const socket: Socket = createConnection({ host: hostname, port: Number(port), localAddress });
      if (preface) socket.write(preface);
      return socket;
    },
    { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...options },
  );
  return new Promise<MqttClient>((resolve, reject) => {
    const fail = (err: Error): void => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => resolve(client));
    client.once('error', fail);
    client.once('close', () => fail(new Error(`connection from ${localAddress} closed before CONNACK`)));
  });
}

/** A PROXY protocol v2 header (TCP over IPv4) that claims `source` as the client: what haproxy's send-proxy-v2 writes. */
export function proxyV2Header(source: string, sourcePort: number, destination = '127.0.0.1', destinationPort = 1883): Buffer {
  const signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const body = Buffer.alloc(12);
  Buffer.from(source.split('.').map(Number)).copy(body, 0);
  Buffer.from(destination.split('.').map(Number)).copy(body, 4);
  body.writeUInt16BE(sourcePort, 8);
  body.writeUInt16BE(destinationPort, 10);
  const fixed = Buffer.from([0x21, 0x11, 0, 12]);
  return Buffer.concat([signature, fixed, body]);
}

/** POST /auth/login (user `admin`) to `url` from `localAddress`, optionally with an X-Forwarded-For of the client's own; resolves with the status. */
export function signInFrom(url: string, localAddress: string, password: string, forwardedFor?: string): Promise<number> {
  const body = JSON.stringify({ username: 'admin', password });
  return new Promise<number>((resolve, reject) => {
    const req = request(
      `${url}/auth/login`,
      {
        method: 'POST',
        localAddress,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
