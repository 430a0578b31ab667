// A device-fleet process: holds thousands of mqtt.js devices that reconnect by themselves (reconnectPeriod), and counts their losses and reconnects.
import { createConnection, type Socket } from 'node:net';
import { MqttClient } from 'mqtt';
import { isNumberedMessage } from './child-rpc.js';
import type { FleetConnect, FleetReply, FleetRequest, FleetStatus } from './fleet-protocol.js';

/** Machine-wide monotonic ms: the same scale in every process (lib/monotonic.ts). */
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

interface Member {
  client: MqttClient;
  connected: boolean;
  lostSinceMark: boolean;
  /** The error of the attempt in progress, counted when it closes. */
  lastError: string | null;
  /** Attempts of the first connect so far; null once it was held. */
  firstAttempts: number | null;
}

class Fleet {
  private readonly members = new Map<string, Member>();
  private status: Omit<FleetStatus, 'devices' | 'connected' | 'reconnected'> = fresh();
  private reconnected = new Set<string>();

  async connect(req: FleetConnect): Promise<{ count: number; ms: number }> {
    const started = now();
    const queue = req.devices.entries();
    const worker = async (): Promise<void> => {
      for (const [i, d] of queue) {
        const url = new URL(req.urls[i % req.urls.length] ?? '');
        const localAddress = req.localAddresses[i % req.localAddresses.length] ?? '127.0.0.1';
        await this.add(d.id, d.secret, url, localAddress, req);
      }
    };
    await Promise.all(Array.from({ length: Math.min(req.concurrency, req.devices.length) }, worker));
    return { count: this.members.size, ms: Math.round(now() - started) };
  }

  private add(id: string, secret: string, url: URL, localAddress: string, req: FleetConnect): Promise<void> {
    const statusTopic = `care/v1/${id}/status`;
    const client = new MqttClient(
      () => {
        const socket: Socket = createConnection({ host: url.hostname, port: Number(url.port), localAddress });
        // As the gateway does on its side: a backlog resent after a reconnect must not wait for delayed ACKs.
        socket.setNoDelay(true);
        return socket;
      },
      {
        clientId: id,
        username: id,
        password: secret,
        protocolVersion: 4,
        clean: true,
        keepalive: req.keepaliveS,
        reconnectPeriod: req.reconnectPeriodMs,
        connectTimeout: 60_000,
        ...(req.presence ? { will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1 as const, retain: true } } : {}),
      },
    );
    const member: Member = { client, connected: false, lostSinceMark: false, lastError: null, firstAttempts: 1 };
    this.members.set(id, member);
    // A refused or reset connection is counted below; it must not become an unhandled 'error' event.
    client.on('error', (err: Error) => {
      member.lastError = err.message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>').slice(0, 80);
    });
    client.on('close', () => {
      if (member.connected) {
        member.connected = false;
        member.lostSinceMark = true;
        this.status.lost++;
        if (this.status.firstLossAt === 0) this.status.firstLossAt = now();
        this.reconnected.delete(id);
      } else {
        this.status.failedAttempts++;
        const why = member.lastError ?? 'closed';
        this.status.failures[why] = (this.status.failures[why] ?? 0) + 1;
      }
      member.lastError = null;
    });
    return new Promise<void>((resolve) => {
      // A device that never reconnects by itself (period 0) is done when its last attempt closes: counted above, its worker
      // moves on. Waiting for its CONNACK instead held the worker for good, and 64 refusals stalled the whole fleet.
      // With a retry it tries again after a delay, as firmware does, and gives up after its last try.
      if (req.reconnectPeriodMs === 0) {
        client.on('close', () => {
          const tried = member.firstAttempts;
          if (tried === null || member.connected) return;
          const retry = req.retry;
          if (!retry || tried > retry.tries) {
            member.firstAttempts = null;
            this.status.gaveUp++;
            resolve();
            return;
          }
          member.firstAttempts = tried + 1;
          // Doubling, with a tenth of jitter so refused devices do not all come back in the same instant.
          const delay = retry.delayMs * 2 ** (tried - 1) * (0.9 + Math.random() * 0.2);
          setTimeout(() => {
            if (this.members.get(id) === member) client.reconnect();
          }, delay).unref();
        });
      }
      client.on('connect', () => {
        member.connected = true;
        if (member.firstAttempts !== null) {
          if (member.firstAttempts === 1) this.status.heldFirstAttempt++;
          else this.status.heldAfterRetry++;
          member.firstAttempts = null;
        }
        if (member.lostSinceMark) {
          this.reconnected.add(id);
          this.status.lastReconnectAt = now();
          this.status.reconnectAts.push(this.status.lastReconnectAt);
        }
        if (req.presence) {
          client.publish(statusTopic, 'online', { qos: 1, retain: true }, (err) => {
            if (!err && member.lostSinceMark) this.status.onlineAcked++;
          });
        }
        resolve();
      });
    });
  }

  /** Starts counting afresh: the benchmark marks just before it kills a node. */
  mark(): void {
    this.status = fresh();
    this.reconnected = new Set();
    for (const m of this.members.values()) m.lostSinceMark = false;
  }

  snapshot(times: boolean): FleetStatus {
    let connected = 0;
    for (const m of this.members.values()) if (m.connected) connected++;
    const reconnectAts = times ? this.status.reconnectAts : [];
    return { ...this.status, reconnectAts, devices: this.members.size, connected, reconnected: this.reconnected.size };
  }

  publish(device: string, topic: string, payload: string): Promise<{ sentAt: number; ackAt: number }> {
    const m = this.members.get(device);
    if (!m) return Promise.reject(new Error(`no device ${device} in this fleet`));
    const sentAt = now();
    return m.client.publishAsync(topic, payload, { qos: 1 }).then(() => ({ sentAt, ackAt: now() }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.client.endAsync(true).catch(() => undefined)));
    this.members.clear();
  }
}

function fresh(): Omit<FleetStatus, 'devices' | 'connected' | 'reconnected'> {
  return {
    lost: 0,
    failedAttempts: 0,
    lastReconnectAt: 0,
    firstLossAt: 0,
    onlineAcked: 0,
    reconnectAts: [],
    failures: {},
    heldFirstAttempt: 0,
    heldAfterRetry: 0,
    gaveUp: 0,
  };
}

const fleet = new Fleet();

async function handle(req: FleetRequest): Promise<FleetReply> {
  switch (req.type) {
    case 'connect':
      return { id: req.id, type: 'connected', ...(await fleet.connect(req)) };
    case 'status':
      return { id: req.id, type: 'status', ...fleet.snapshot(req.times) };
    case 'mark':
      fleet.mark();
      return { id: req.id, type: 'ok' };
    case 'publish':
      return { id: req.id, type: 'published', ...(await fleet.publish(req.device, req.topic, req.payload)) };
    case 'close':
      await fleet.close();
      return { id: req.id, type: 'ok' };
  }
}

process.on('message', (msg: unknown) => {
  if (!isNumberedMessage<FleetRequest>(msg)) return;
  const req = msg;
  handle(req).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});
// The benchmark closed the channel (done, or it died): nothing is left to hold.
process.on('disconnect', () => process.exit(0));
