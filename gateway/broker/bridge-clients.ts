// The broker's port for bridges that sign in to it (zigbee2mqtt): who they are, and what their publishes and subscriptions mean.
import type { PublishPacket } from 'aedes';
import type { SecurityEventKind } from '../core/types.js';

/** A bridge signed in to our broker. */
export interface BridgeClientSession {
  bridgeId: string;
  /** This connection's own id (see EventDelivery). */
  id: string;
  remoteAddress: string | null;
  /** The stored secret hash it signed in with, so a registry change can sign it out. */
  secretHash: string;
}

export type BridgeAuthOutcome =
  | { ok: true; bridgeId: string; secretHash: string }
  | { ok: false; returnCode: 4 | 5; security: { kind: SecurityEventKind; detail: string } };

export interface BridgeClients {
  /** Null when `username` names no bridge that signs in to this broker; otherwise the secret check's outcome. */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<BridgeAuthOutcome | null>;
  /**
   * A PUBLISH from a bridge. Resolves when it may be acknowledged; a `refusal` (a topic outside the bridge's tree) closes
   * the connection and is recorded as a security event, as for a device.
   */
  publish(session: BridgeClientSession, packet: PublishPacket, will: boolean, arrivedHr: number): Promise<{ refusal: string } | null>;
  /** Whether the bridge may subscribe to `topic` (its own tree only). */
  maySubscribe(session: BridgeClientSession, topic: string): Promise<boolean>;
  /** The bridge's connection ended without the gateway stopping. */
  disconnected(session: BridgeClientSession): void;
}
