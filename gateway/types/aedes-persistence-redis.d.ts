// The part of aedes-persistence-redis (which ships no types) that the cluster broker uses.
declare module 'aedes-persistence-redis' {
  import type { EventEmitter } from 'node:events';
  import type { Redis } from 'ioredis';

  /** A will as stored: the packet aedes publishes for a lost client, with the client and the broker it was connected to. */
  export interface StoredWill {
    clientId: string;
    brokerId: string;
    topic: string;
    payload: Buffer | Uint8Array | string;
    qos: number;
    retain: boolean;
  }

  export interface RedisPersistence extends EventEmitter {
    setup(broker: unknown): Promise<void>;
    /** Stores a client's will under this broker's id. */
    putWill(client: { id: string }, packet: Omit<StoredWill, 'clientId' | 'brokerId'>): Promise<void>;
    /** Removes a stored will and answers it (null when another node took it first). */
    delWill(client: { id: string; brokerId: string }): Promise<StoredWill | null>;
    /** aedes replays what this yields for the brokers it no longer hears from; replaceable. */
    streamWill: (brokers: Record<string, number>) => AsyncIterable<StoredWill>;
  }

  export interface RedisPersistenceOptions {
    /** An ioredis connection of the caller's, so its errors and state are the caller's to watch. */
    conn?: Redis;
    maxSessionDelivery?: number;
  }

  export default function persistence(opts?: RedisPersistenceOptions): RedisPersistence;
}
