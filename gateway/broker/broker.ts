// The device-facing MQTT broker (aedes over TCP, and TLS when configured): authenticates fixtures, enforces the per-device topic ACL, and hands messages to the ingest before any PUBACK.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, Socket, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Clock } from '../core/clock.js';
import type { ComponentHealth } from '../core/health.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';
import type { Device, SecurityEvent, SecurityEventKind } from '../core/types.js';
import type { Store } from '../storage/ports.js';
import type { Ingest } from '../ingest/ingest.js';
import type { DeviceFlooding, IngestEvents } from '../ingest/events.js';
import { channelUnder, commandTopic, COMMAND_CHANNEL } from '../../devices/topics.js';
import { encodeCommand, type DeviceCommand } from '../../devices/commands.js';
import { DeviceAuthenticator, refusalReasonOf, type AuthLimits, type ConnectRefusalReason } from './auth.js';
import type { SharedVerifier } from './shared-verifier.js';
import { ConnectionWatch, describeDrop, type ConnectionDropRule } from './connection-watch.js';
import { certificateProblem, presentedCert, type PresentedCert } from './client-cert.js';
import { DEFAULT_MAX_FRAME_BYTES, limitFrames } from './frame-limit.js';
import type { BridgeClients, BridgeClientSession } from './bridge-clients.js';
import type { BrokerCluster } from './cluster.js';
import { ClusterSessions, type HeldSession } from './cluster-sessions.js';
import { watchCommandSessions } from './command-sessions.js';
import { plainAddress, readPreamble, type ProxyTrust } from './proxy-protocol.js';
import type { SharedCounter } from '../lockouts/shared.js';

export interface DeviceBrokerDeps {
  store: Pick<Store, 'registry' | 'security'>;
  ingest: Ingest;
  log: Logger;
  clock: Clock;
  bus: EventBus<IngestEvents>;
  authLimits?: AuthLimits;
  /** When a fall in connected devices is reported (see connection-watch.ts). */
  connectionDrop?: ConnectionDropRule;
  /** Largest MQTT packet accepted at all; see frame-limit.ts. */
  maxFrameBytes?: number;
  /** Concurrent sockets (devices and strangers alike); beyond it new ones are closed as they are accepted. */
  maxConnections?: number;
  /** Called for each socket refused at that cap. */
  onConnectionRefused?: () => void;
  /** Called for each CONNECT answered with a refusal (CONNACK 3, 4 or 5), with why. */
  onConnectRefused?: (reason: ConnectRefusalReason) => void;
  /** Bridges that sign in to this broker (zigbee2mqtt); without it only devices may. */
  bridges?: BridgeClients;
  /** REDIS_URL: sessions, wills and device presence shared with the other nodes (see cluster.ts); absent: one node. */
  cluster?: BrokerCluster | null;
  /** MQTT_PROXY_FROM: load balancers whose PROXY header names the device's address (plain listener only); absent: off. */
  proxyTrust?: ProxyTrust | null;
  /** REDIS_URL: secrets verified on any node, so a device moving between nodes skips the scrypt (shared-verifier.ts). */
  sharedVerifier?: SharedVerifier | null;
}

/** The connection of one device, as last seen by this process. */
export interface ConnectionInfo {
  deviceId: string;
  connected: boolean;
  remoteAddress: string | null;
  connectedAt: number | null;
  disconnectedAt: number | null;
}

interface Session {
  device: Device;
  remoteAddress: string | null;
  /** This connection's own id, unique across restarts: a seq sent again on it is a resend (see EventDelivery). */
  id: string;
  /** When it signed in. */
  since: number;
  /** The client certificate the session was let in with, so a registry change can ask for one it lacks. */
  cert: PresentedCert | null;
}

/** MQTT over TLS beside the plain listener, on the same host. */
export interface MqttsListenOptions {
  port: number;
  cert: Buffer;
  key: Buffer;
  /** CA bundle that client certificates are verified against; without it a certificate can only be pinned by fingerprint. */
  ca: Buffer | null;
}

export interface BrokerListenOptions {
  port: number;
  host: string;
  tls?: MqttsListenOptions | null;
}

type RefusalCode = 3 | 4 | 5;

interface Refusal {
  code: RefusalCode;
  reason: ConnectRefusalReason;
}

const SWEEP_INTERVAL_MS = 60_000;

export class DeviceBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private tlsServer: Server | null = null;
  /** Whether MQTT_TLS_CA_FILE is set: only our own CA can vouch for a device certificate. */
  private clientCa = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new WeakMap<Client, Session>();
  /** The device's own address of a connection that came through a trusted load balancer (from its PROXY header). */
  private readonly proxiedAddress = new WeakMap<Socket, string>();
  private readonly bridgeSessions = new WeakMap<Client, BridgeClientSession>();
  /** The newest client per bridge: the loss of a replaced connection is not the bridge's. */
  private readonly currentBridge = new Map<string, Client>();
  /** The newest authenticated client per device: the will of a session it replaced is stale. */
  private readonly current = new Map<string, Client>();
  private readonly connections = new Map<string, ConnectionInfo>();
  private readonly auth: DeviceAuthenticator;
  private readonly connectionWatch: ConnectionWatch;
  private readonly clusterSessions: ClusterSessions | null;

  constructor(private readonly deps: DeviceBrokerDeps) {
    const { cluster, store, ingest, log } = deps;
    this.clusterSessions = cluster ? new ClusterSessions({ cluster, registry: store.registry, ingest, log }) : null;
    this.auth = new DeviceAuthenticator({
      registry: deps.store.registry,
      clock: deps.clock,
      limits: deps.authLimits,
      shared: deps.sharedVerifier ?? null,
    });
    this.connectionWatch = new ConnectionWatch({ clock: deps.clock, rule: deps.connectionDrop });
  }

  /** The aedes instance, for metrics; null while stopped. */
  get aedes(): Aedes | null {
    return this.broker;
  }

  /** Listens on `port` (and on `tls.port` for MQTTS when given); resolves with the ports bound (mqttsPort null without TLS). */
  async start(opts: BrokerListenOptions): Promise<{ port: number; mqttsPort: number | null }> {
    if (this.server) throw new Error('device broker already started');
    this.stopping = false;
    const cluster = this.deps.cluster ?? null;
    const shared = cluster
      ? await cluster.open({
          onWill: async (will) => {
            if (!this.stopping) await this.clusterSessions?.replayed(will);
          },
          onReconnect: () => void this.clusterSessions?.reclaim(this.heldSessions()),
        })
      : {};
    const broker = await Aedes.createBroker({
      ...shared,
      // The hooks are aedes' callback API; each is wrapped once here and the work below is async/await.
      preConnect: (client, packet, done) => {
        // [MQTT-3.1.2-2] Level 3 is MQTT 3.1, whose name is "MQIsdp"; "MQTT" at level 3 (or "MQIsdp" at 4) is neither
        // protocol. aedes answers any level outside 3-4 with CONNACK 1 (unacceptable protocol version), so the
        // packet is marked as such and aedes sends that refusal itself.
        if (packet.protocolVersion !== undefined && packet.protocolVersion !== protocolLevelOf(packet.protocolId)) {
          this.deps.log.warn(
            { protocolId: packet.protocolId, level: packet.protocolVersion, remoteAddress: this.remoteAddressOf(client) },
            'MQTT CONNECT refused: protocol name and level disagree',
          );
          packet.protocolVersion = 5;
        }
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const refused = (code: RefusalCode, reason: ConnectRefusalReason): void => {
          this.deps.onConnectRefused?.(reason);
          done(Object.assign(new Error(refusalText(code)), { returnCode: code }), false);
        };
        this.authenticate(client, username, password).then(
          (refusal) => (refusal === null ? done(null, true) : refused(refusal.code, refusal.reason)),
          (err: unknown) => {
            this.deps.log.error({ err, clientId: client.id }, 'authentication failed unexpectedly');
            refused(3, 'internal_error');
          },
        );
      },
      // [MQTT-3.3.5-2] an error here closes the connection; success is reported only once the ingest
      // has recorded the message, and aedes writes the PUBACK after this callback.
      // Telemetry and status (most of the traffic) are answered at once, without a promise each.
      authorizePublish: (client, packet, done) => {
        const arrivedHr = performance.now();
        let recorded: Promise<void> | undefined;
        try {
          recorded = this.authorizePublish(client, packet, arrivedHr);
        } catch (err) {
          done(err instanceof Error ? err : new Error(errorMessage(err)));
          return;
        }
        if (!recorded) {
          done(null);
          return;
        }
        recorded.then(
          () => done(null),
          (err: unknown) => done(err instanceof Error ? err : new Error(errorMessage(err))),
        );
      },
      // A refused subscription is negated (SUBACK 0x80) rather than an error, which would close the connection.
      authorizeSubscribe: (client, sub, done) => {
        this.authorizeSubscribe(client, sub).then(
          (granted) => done(null, granted),
          (err: unknown) => done(err instanceof Error ? err : new Error(errorMessage(err))),
        );
      },
    });
    this.watch(broker);
    this.deps.bus.on(this, 'deviceFlooding', (flood) => this.onFlooding(flood));
    if (cluster) {
      cluster.attach(() => broker.brokers);
      // Wills this node stored before it last stopped or crashed: nobody else replays them, as its id is alive again.
      await cluster.replayOwnWills();
    }

    const onSocket = (socket: Socket): void => {
      // Each PUBACK goes out at once: with Nagle's algorithm a device resending its backlog got one answer per round trip.
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.handOver(broker, socket);
    };
    const onPlainSocket = (socket: Socket): void => {
      const trust = this.deps.proxyTrust;
      if (!trust) return onSocket(socket);
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // The device's address is known only after the header: until then the socket is no aedes client.
      void readPreamble(socket, trust).then((preamble) => {
        if (socket.destroyed || preamble.kind === 'closed' || this.broker !== broker) {
          socket.destroy();
          return;
        }
        if (preamble.kind === 'refused') {
          socket.destroy();
          void this.securityEvent(preamble.reason, null, null, preamble.peer, preamble.detail);
          return;
        }
        if (preamble.kind === 'proxied') this.proxiedAddress.set(socket, preamble.address);
        this.handOver(broker, socket);
      });
    };
    const server = createServer(onPlainSocket);
    // Every client is asked for a certificate but none is refused at the handshake: most devices have none, and a
    // device's registry entry decides whether it needs one (checked with the secret in authenticate).
    const tlsServer = opts.tls
      ? createTlsServer(
          {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
            requestCert: true,
            rejectUnauthorized: false,
          },
          onSocket,
        )
      : null;
    try {
      await listenOn(server, opts.port, opts.host);
      if (tlsServer && opts.tls) await listenOn(tlsServer, opts.tls.port, opts.host);
    } catch (err) {
      if (server.listening) server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await cluster?.close();
      throw err;
    }
    server.on('error', (err) => this.deps.log.error({ err }, 'MQTT server error'));
    if (this.deps.maxConnections !== undefined) {
      // Each socket is a descriptor: a cap of its own keeps an MQTT flood from taking those HTTP needs, and back.
      // Each listener (plain and TLS) is capped; a deployment that serves both sizes MQTT_MAX_CONNECTIONS for it.
      let refused = 0;
      for (const listener of tlsServer ? [server, tlsServer] : [server]) {
        listener.maxConnections = this.deps.maxConnections;
        listener.on('drop', () => {
          refused++;
          this.deps.onConnectionRefused?.();
          // The first refusal and then one in a thousand: a flood must not flood the log too.
          if (refused % 1000 === 1)
            this.deps.log.warn({ maxConnections: this.deps.maxConnections, refused }, 'MQTT connection refused: at the connection cap');
        });
      }
    }
    // A connection still in its TLS handshake is no aedes client yet; track it so stop() can end it.
    tlsServer?.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
    });
    // A failed handshake (a scanner, an expired device certificate) ends that connection only.
    tlsServer?.on('tlsClientError', (err, socket) =>
      this.deps.log.info({ err: err.message, remoteAddress: socket.remoteAddress }, 'MQTTS handshake failed'),
    );
    tlsServer?.on('error', (err) => this.deps.log.error({ err }, 'MQTTS server error'));
    this.broker = broker;
    this.server = server;
    this.tlsServer = tlsServer;
    this.clientCa = Boolean(opts.tls?.ca);
    this.sweepTimer = setInterval(() => this.auth.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    const port = boundPort(server, opts.port);
    const mqttsPort = tlsServer && opts.tls ? boundPort(tlsServer, opts.tls.port) : null;
    this.deps.log.info({ host: opts.host, port, mqttsPort }, 'MQTT broker listening');
    return { port, mqttsPort };
  }

  /** The device's address: from its balancer's PROXY header when it came through one, else the socket's peer. */
  private remoteAddressOf(client: Client): string | null {
    const conn = client.conn;
    if (!(conn instanceof Socket)) return null;
    const proxied = this.proxiedAddress.get(conn);
    if (proxied !== undefined) return proxied;
    return conn.remoteAddress ? plainAddress(conn.remoteAddress) : null;
  }

  /** Gives a socket to aedes, with the packet-size cap on what aedes reads from it. */
  private handOver(broker: Aedes, socket: Socket): void {
    const client = broker.handle(socket);
    const maxFrame = this.deps.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    limitFrames(socket, maxFrame, (announced, topic) => {
      const session = this.sessions.get(client);
      this.deps.log.warn(
        { deviceId: session?.device.id, remoteAddress: socket.remoteAddress, announced, maxFrame },
        'MQTT packet too large or malformed; connection closed',
      );
      // Too big to acknowledge (that would mean buffering it), but never silent: the device's health shows why.
      if (session) this.deps.ingest.rejectOversized(session.device.id, topic, announced, maxFrame, session.remoteAddress);
    });
  }

  /** Stops accepting, ends every client connection and closes aedes. Wills published now are not acted on. */
  async stop(): Promise<void> {
    const { broker, server, tlsServer } = this;
    if (!broker || !server) return;
    this.stopping = true;
    this.deps.bus.removeAll(this);
    this.broker = null;
    this.server = null;
    this.tlsServer = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.auth.stop();
    const listeners = tlsServer ? [server, tlsServer] : [server];
    const serverClosed = Promise.all(listeners.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    // Sockets that never completed CONNECT are not aedes clients, so aedes.close() does not end them.
    for (const socket of this.sockets) socket.destroy();
    await serverClosed;
    this.current.clear();
    await this.deps.cluster?.close();
  }

  /** Sends a command to the device (QoS 1). Resolves once handed to its session; an offline device misses it. */
  async publishCommand(deviceId: string, command: DeviceCommand): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('device broker is not running');
    const packet: PublishPacket = {
      cmd: 'publish',
      topic: commandTopic(deviceId),
      payload: encodeCommand(command),
      qos: 1,
      retain: false,
      dup: false,
    };
    await new Promise<void>((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  /** Open sockets, including those that never completed CONNECT; they count against maxConnections. */
  socketCount(): number {
    return this.sockets.size;
  }

  connectedCount(): number {
    return this.broker?.connectedClients ?? 0;
  }

  /** Devices signed in to this node (bridges and strangers not counted). */
  deviceCount(): number {
    return this.current.size;
  }

  /** Cluster mode: this node's id, its Redis state and the devices it holds; null on a single node. */
  clusterHealth(): ComponentHealth | null {
    const cluster = this.deps.cluster;
    return cluster ? { ...cluster.health(), devices: this.deviceCount() } : null;
  }

  connectionOf(deviceId: string): ConnectionInfo | null {
    const info = this.connections.get(deviceId);
    return info ? { ...info } : null;
  }

  /** Milliseconds before the next secret check for this device id from this address may start, after its failures. */
  authDelayOf(remoteAddress: string, deviceId: string): number {
    return this.auth.delayOf(remoteAddress, deviceId);
  }

  /** True while an address's secret checks take turns after many failures from it. */
  isAuthSlowed(remoteAddress: string): boolean {
    return this.auth.isSlowed(remoteAddress);
  }

  /** The sign-in failure counter, for sharing with the other gateway nodes (gateway/lockouts). */
  get authFailures(): SharedCounter {
    return this.auth.sharedCounter;
  }

  /** CONNECTs waiting their turn after failures. */
  authWaiting(): number {
    return this.auth.waiting();
  }

  /** The broker's part of /healthz: degraded (still taking alarms) while a sudden fall in connected devices is reported. */
  health(): { status: 'up' | 'degraded'; clients: number; detail?: string; droppedFrom?: number } {
    const clients = this.connectedCount();
    const drop = this.connectionWatch.current();
    if (!drop) return { status: 'up', clients };
    return { status: 'degraded', clients, droppedFrom: drop.from, detail: describeDrop(drop, this.connectionWatch.rule) };
  }

  private watch(broker: Aedes): void {
    broker.on('clientReady', (client) => {
      this.connectionWatch.observe(broker.connectedClients);
      const session = this.sessions.get(client);
      if (!session) return;
      this.connections.set(session.device.id, {
        deviceId: session.device.id,
        connected: true,
        remoteAddress: session.remoteAddress,
        connectedAt: this.deps.clock.now(),
        disconnectedAt: null,
      });
    });
    // Offline is decided by status/will messages and supervision, not by a socket closing; only note when.
    broker.on('clientDisconnect', (client) => {
      if (!this.stopping) this.connectionWatch.observe(broker.connectedClients);
      const bridge = this.bridgeSessions.get(client);
      if (bridge && this.currentBridge.get(bridge.bridgeId) === client) {
        this.currentBridge.delete(bridge.bridgeId);
        if (!this.stopping) this.deps.bridges?.disconnected(bridge);
      }
      const session = this.sessions.get(client);
      if (!session) return;
      const id = session.device.id;
      if (this.current.get(id) === client) this.current.delete(id);
      this.clusterSessions?.release(id, session.id);
      const info = this.connections.get(id);
      if (info && this.current.get(id) === undefined) {
        this.connections.set(id, { ...info, connected: false, disconnectedAt: this.deps.clock.now() });
      }
      this.deps.log.debug({ deviceId: id }, 'device disconnected');
    });
    // Session starts, so the device's incident state can be re-sent from the store.
    watchCommandSessions(broker, { bus: this.deps.bus, clock: this.deps.clock, deviceOf: (client) => this.currentDevice(client) });
    broker.on('clientError', (client, err) => this.deps.log.debug({ clientId: client.id, err: err.message }, 'MQTT client error'));
    broker.on('connectionError', (_client, err) => this.deps.log.debug({ err: err.message }, 'MQTT connection error'));
    broker.on('keepaliveTimeout', (client) => this.deps.log.info({ clientId: client.id }, 'MQTT keepalive timeout'));
    // An unhandled 'error' event would end the process; aedes emits one for persistence failures.
    const emitter: EventEmitter = broker;
    emitter.on('error', (err: unknown) => this.deps.log.error({ err }, 'aedes error'));
  }

  /**
   * Brings connected sessions up to date after a registry import: a moved device reports for its new resident at once,
   * and a device removed from the registry, given a new secret, or now required to present a client certificate its
   * session lacks, is disconnected so it must authenticate again.
   * Returns the ids of the devices disconnected.
   */
  refreshDevices(devices: readonly Device[]): string[] {
    const byId = new Map(devices.map((d) => [d.id, d]));
    const dropped: string[] = [];
    for (const [deviceId, client] of this.current) {
      const session = this.sessions.get(client);
      if (!session || client.closed) continue;
      const next = byId.get(deviceId);
      if (!next || next.secretHash !== session.device.secretHash || certificateProblem(next, session.cert) !== null) {
        dropped.push(deviceId);
        // Not a will: the device did nothing wrong, so it is not recorded offline for being signed out.
        this.current.delete(deviceId);
        client.close();
        continue;
      }
      session.device = next;
    }
    if (dropped.length > 0) this.deps.log.info({ devices: dropped.length }, 'devices disconnected after a registry change');
    return dropped;
  }

  /**
   * After a registry import: a bridge removed, moved off our broker or given a new secret is signed out, so it must sign
   * in again with what the registry now says. Returns the ids of the bridges disconnected.
   */
  refreshBridges(secretHashes: ReadonlyMap<string, string>): string[] {
    const dropped: string[] = [];
    for (const [bridgeId, client] of this.currentBridge) {
      const session = this.bridgeSessions.get(client);
      if (!session || client.closed || secretHashes.get(bridgeId) === session.secretHash) continue;
      dropped.push(bridgeId);
      client.close();
    }
    return dropped;
  }

  /**
   * A device over its limits: recorded as a security event and, for a flood that went on, disconnected. It may connect
   * again at once (an alarm from it is never limited), and is throttled from where it left off.
   */
  private async onFlooding(flood: DeviceFlooding): Promise<void> {
    const client = this.current.get(flood.deviceId);
    const session = client ? this.sessions.get(client) : undefined;
    if (client && flood.disconnect) {
      // Not acted on as a will: the device is not offline, it talks too much.
      this.current.delete(flood.deviceId);
      client.close();
    }
    const action = flood.disconnect ? 'disconnected' : 'throttled';
    await this.securityEvent(
      'flooding',
      client?.id ?? flood.deviceId,
      flood.deviceId,
      session?.remoteAddress ?? null,
      `${action}: ${flood.detail}`,
    );
  }

  /** Null when the client may connect, else the CONNACK return code to refuse it with. */
  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Refusal | null> {
    const remoteAddress = this.remoteAddressOf(client);
    const bridge = await this.deps.bridges?.authenticate(client.id, username, password);
    if (bridge) {
      if (!bridge.ok) {
        await this.securityEvent(bridge.security.kind, client.id, null, remoteAddress, bridge.security.detail);
        return { code: bridge.returnCode, reason: refusalReasonOf(bridge.returnCode) };
      }
      this.bridgeSessions.set(client, { bridgeId: bridge.bridgeId, id: randomUUID(), remoteAddress, secretHash: bridge.secretHash });
      this.currentBridge.set(bridge.bridgeId, client);
      return null;
    }
    const cert = presentedCert(client.conn, this.clientCa);
    const outcome = await this.auth.check({ clientId: client.id, username, password, remoteAddress, clientCert: cert });
    if (outcome.ok) {
      const session: Session = { device: outcome.device, remoteAddress, id: randomUUID(), since: this.deps.clock.now(), cert };
      // Current before the claim's await: a will of the session this one replaces, published meanwhile, is stale.
      this.sessions.set(client, session);
      this.current.set(outcome.device.id, client);
      // Cluster mode: presence is shared before the CONNACK, or there is no CONNACK (the device retries, perhaps elsewhere).
      if (this.clusterSessions && !(await this.clusterSessions.claim(outcome.device.id, session.id))) {
        this.sessions.delete(client);
        if (this.current.get(outcome.device.id) === client) this.current.delete(outcome.device.id);
        return { code: 3, reason: 'presence_unclaimed' };
      }
      return null;
    }
    if (outcome.security) {
      await this.securityEvent(outcome.security.kind, client.id, outcome.security.deviceId, remoteAddress, outcome.security.detail);
    }
    return { code: outcome.returnCode, reason: outcome.reason };
  }

  /**
   * Checks a device's PUBLISH and hands it to the ingest. Returns what to wait for before the acknowledgement (an event's
   * record, a bridge's message, a refusal's security event), or undefined when there is nothing; throws a refusal that
   * has nothing to record.
   */
  private authorizePublish(client: Client | null, packet: PublishPacket, arrivedHr: number): Promise<void> | undefined {
    const bridge = client ? this.bridgeSessions.get(client) : undefined;
    if (client && bridge && this.deps.bridges) return this.bridgePublish(client, bridge, this.deps.bridges, packet, arrivedHr);
    const session = client ? this.sessions.get(client) : undefined;
    // aedes publishes a will only after the client closed (or, from persistence, with no client at all).
    const will = client === null || client.closed;
    if (!client) {
      // A stored will aedes replays itself (cluster replays are ours, see cluster.ts). A throw here would become an
      // unhandled rejection inside aedes, so it is let through unacted on, and not kept as a retained status.
      this.deps.log.info({ topic: packet.topic.slice(0, 200) }, 'will without a client not acted on');
      packet.retain = false;
      return;
    }
    if (!session) throw new Error('publish without an authenticated session');
    const deviceId = session.device.id;
    // [MQTT-1.5.3-1] [MQTT-1.5.3-2] invalid UTF-8 (decoded as U+FFFD) or U+0000 in a topic: close, do not acknowledge.
    if (packet.topic.includes('\u0000') || packet.topic.includes('\uFFFD')) {
      return this.refusePublish(
        { kind: 'malformed_topic', client, deviceId, remoteAddress: session.remoteAddress },
        `topic ${JSON.stringify(packet.topic.slice(0, 200))}`,
        `device ${deviceId} published to a malformed topic`,
      );
    }
    const channel = channelUnder(deviceId, packet.topic);
    if (channel === null || channel === COMMAND_CHANNEL) {
      return this.refusePublish(
        { kind: 'publish_denied', client, deviceId, remoteAddress: session.remoteAddress },
        `publish to "${packet.topic.slice(0, 200)}"`,
        `device ${deviceId} may not publish to ${packet.topic}`,
      );
    }
    if (will) {
      // Checked before any await: aedes forgets the replaced session right after this hook is entered.
      if (this.stopping) throw new Error('gateway stopping: will not acted on');
      if (this.current.get(deviceId) !== client) throw new Error('will of a replaced session not acted on');
    }
    // Nothing a device sends is kept as retained, its status included (which its firmware sends retained): no client may
    // subscribe to a device's uplinks (authorizeSubscribe), so a retained copy would be delivered to nobody, ever, and
    // would cost a write at every CONNECT (in a cluster an HSET in Redis) and a stored packet per device.
    packet.retain = false;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    const take = (): Promise<void> | undefined =>
      this.deps.ingest.take(deviceId, session.device, channel, payload, {
        remoteAddress: session.remoteAddress,
        arrivedHr,
        will,
        session: session.id,
        dup: packet.dup,
      });
    // Cluster mode: the device may have moved to another node, which closed this session; its will is then not acted on.
    if (will && this.clusterSessions) return this.clusterSessions.assertNotTakenOver(deviceId, session.id).then(take);
    return take();
  }

  /** The device of a client that is its device's current session; null for bridges, strangers and replaced sessions. */
  private currentDevice(client: Client): Device | null {
    const session = this.sessions.get(client);
    return session && this.current.get(session.device.id) === client ? session.device : null;
  }

  /** The device sessions this node holds, for claiming them again. */
  private heldSessions(): HeldSession[] {
    const held: HeldSession[] = [];
    for (const [deviceId, client] of this.current) {
      const session = this.sessions.get(client);
      if (session && !client.closed) held.push({ deviceId, session: session.id, since: session.since });
    }
    return held;
  }

  /** A refused PUBLISH: its security event is recorded, then the refusal closes the connection. */
  private async refusePublish(
    who: { kind: SecurityEventKind; client: Client; deviceId: string; remoteAddress: string | null },
    detail: string,
    refusal: string,
  ): Promise<never> {
    await this.securityEvent(who.kind, who.client.id, who.deviceId, who.remoteAddress, detail);
    throw new Error(refusal);
  }

  /** A bridge's PUBLISH: its own tree only, else refused and the connection closed, as for a device. */
  private async bridgePublish(
    client: Client,
    bridge: BridgeClientSession,
    bridges: BridgeClients,
    packet: PublishPacket,
    arrivedHr: number,
  ): Promise<void> {
    const will = client.closed;
    if (will) {
      if (this.stopping) throw new Error('gateway stopping: will not acted on');
      if (this.currentBridge.get(bridge.bridgeId) !== client && this.currentBridge.has(bridge.bridgeId))
        throw new Error('will of a replaced bridge session not acted on');
    }
    const outcome = await bridges.publish(bridge, packet, will, arrivedHr);
    if (outcome) {
      await this.securityEvent('publish_denied', client.id, null, bridge.remoteAddress, `bridge ${bridge.bridgeId}: ${outcome.refusal}`);
      throw new Error(`bridge ${bridge.bridgeId} may not publish to ${packet.topic}`);
    }
  }

  private async authorizeSubscribe(client: Client, sub: Subscription): Promise<Subscription | null> {
    const bridge = this.bridgeSessions.get(client);
    if (bridge && (await this.deps.bridges?.maySubscribe(bridge, sub.topic))) return sub;
    const session = this.sessions.get(client);
    if (session && sub.topic === commandTopic(session.device.id)) return sub;
    await this.securityEvent(
      'subscribe_denied',
      client.id,
      session?.device.id ?? null,
      session?.remoteAddress ?? bridge?.remoteAddress ?? this.remoteAddressOf(client),
      `${bridge ? `bridge ${bridge.bridgeId}: ` : ''}subscribe to "${sub.topic.slice(0, 200)}"`,
    );
    return null;
  }

  private async securityEvent(
    kind: SecurityEventKind,
    clientId: string | null,
    deviceId: string | null,
    remoteAddress: string | null,
    detail: string,
  ): Promise<void> {
    const event: SecurityEvent = { kind, at: this.deps.clock.now(), deviceId, clientId, remoteAddress, detail };
    this.deps.log.warn({ security: event }, 'MQTT security event');
    this.deps.bus.emit('securityEvent', event);
    try {
      await this.deps.store.security.record(event);
    } catch (err) {
      this.deps.log.error({ err, kind }, 'could not record a security event');
    }
  }
}

/** The protocol level each protocol name stands for: MQTT 3.1 ("MQIsdp") is level 3, MQTT 3.1.1 ("MQTT") level 4. */
function protocolLevelOf(protocolId: string | undefined): number | null {
  if (protocolId === 'MQIsdp') return 3;
  if (protocolId === 'MQTT') return 4;
  return null;
}

/**
 * Connections the kernel holds for the broker before it accepts them (capped by `net.core.somaxconn`, 4096 on current
 * kernels). Node's default of 511 is overrun when a node takes over a dead node's devices, which all reconnect within
 * a second: the excess SYNs are dropped, and each device (or the balancer) waits out a connect time-out and tries again.
 */
export const MQTT_LISTEN_BACKLOG = 4096;

function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: MQTT_LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function boundPort(server: Server, requested: number): number {
  const address = server.address();
  return address !== null && typeof address === 'object' ? address.port : requested;
}

function refusalText(code: RefusalCode): string {
  return code === 3 ? 'server unavailable' : code === 4 ? 'bad user name or password' : 'not authorized';
}
