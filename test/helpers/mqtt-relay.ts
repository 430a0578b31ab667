// A TCP relay in front of an MQTT broker that can hold what the broker sends on a new connection after its CONNACK.
import type { Server, Socket } from 'node:net';
import { relayServer, stopRelay, tieEnds } from './cuttable-proxy.js';

/** A 3.1.1 CONNACK: fixed header 0x20, remaining length 2 (flags, return code) [MQTT-3.2]. */
const CONNACK_BYTES = 4;

/**
 * Forwards both ways unchanged, but for the connection opened after holdAfterConnack(): the broker's CONNACK goes
 * through, and whatever the broker sends after it (the copies of unacknowledged messages of a kept session) waits
 * until release(), as on a slow link or from a broker that reads its session store across the network.
 */
export class MqttRelay {
  private holdNext = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(brokerPort: number): Promise<MqttRelay> {
    let relay: MqttRelay | null = null;
    const { server, port } = await relayServer(brokerPort, (inbound, outbound) => relay?.pair(inbound, outbound));
    relay = new MqttRelay(server, `mqtt://127.0.0.1:${port}`);
    return relay;
  }

  /** The next connection gets its CONNACK and then nothing from the broker until release(). */
  holdAfterConnack(): void {
    this.holdNext = true;
  }

  /** Sends on what was held, and forwards everything from then on. */
  release(): void {
    this.holdNext = false;
    for (const go of this.held.splice(0)) go();
  }

  stop(): Promise<void> {
    return stopRelay(this.server, this.sockets);
  }

  private pair(client: Socket, broker: Socket): void {
    tieEnds(client, broker, this.sockets);
    client.on('data', (chunk: Buffer) => broker.write(chunk));
    const hold = this.holdNext;
    this.holdNext = false;
    let passed = 0;
    let waiting: Buffer[] | null = null;
    broker.on('data', (chunk: Buffer) => {
      if (!hold || passed >= CONNACK_BYTES) {
        if (waiting) waiting.push(chunk);
        else client.write(chunk);
        return;
      }
      if (passed === 0 && chunk[0] !== 0x20) throw new Error(`the broker's first packet is not a CONNACK (0x${chunk[0]?.toString(16)})`);
      const head = chunk.subarray(0, CONNACK_BYTES - passed);
      passed += head.length;
      client.write(head);
      if (passed < CONNACK_BYTES) return;
      waiting = [chunk.subarray(head.length)];
      this.held.push(() => {
        for (const part of waiting ?? []) if (part.length > 0) client.write(part);
        waiting = null;
      });
    });
  }
}
