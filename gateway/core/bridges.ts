// Bridges: the zigbee2mqtt, ChirpStack and vendor-cloud gateways that speak for devices which cannot speak our MQTT protocol.

export const BRIDGE_KINDS = ['zigbee2mqtt', 'chirpstack', 'http'] as const;
export type BridgeKind = (typeof BRIDGE_KINDS)[number];

/** How a vendor cloud proves a push is its own: OneNET's token signature, or an HMAC header (generic vendor). */
export const HTTP_BRIDGE_AUTH = ['onenet', 'hmac'] as const;
export type HttpBridgeAuth = (typeof HTTP_BRIDGE_AUTH)[number];

interface BridgeCommon {
  id: string;
  name?: string;
  /** No message from a device of this bridge for this long: the device is offline (overrides the registry-wide value). */
  offlineAfterSeconds?: number;
}

/**
 * An MQTT broker the gateway connects to as a client. The password is kept as written: the gateway must present it,
 * so it cannot be hashed.
 */
export interface ExternalBrokerLogin {
  url: string;
  username?: string;
  password?: string;
}

/**
 * zigbee2mqtt either connects to OUR broker (client id = username = bridge id, password = secret, confined to
 * `<baseTopic>/…`), or publishes to its own broker, which the gateway subscribes to (`url`, `username`, `password`).
 */
export interface Zigbee2mqttBridge extends BridgeCommon, Partial<ExternalBrokerLogin> {
  kind: 'zigbee2mqtt';
  baseTopic: string;
  /** scrypt hash of the secret zigbee2mqtt connects to our broker with; absent for an external broker. */
  secretHash?: string;
}

/** ChirpStack v4: the gateway subscribes to `application/<applicationId>/device/+/event/…` on its broker. */
export interface ChirpstackBridge extends BridgeCommon, ExternalBrokerLogin {
  kind: 'chirpstack';
  applicationId: string;
}

/** A vendor cloud that pushes `POST /ingest/v1/<id>`; `secret` is the OneNET token or the HMAC key, kept as written to verify signatures. */
export interface HttpBridge extends BridgeCommon {
  kind: 'http';
  secret: string;
  auth: HttpBridgeAuth;
}

export type Bridge = Zigbee2mqttBridge | ChirpstackBridge | HttpBridge;

/** True when zigbee2mqtt connects to our own broker (rather than the gateway subscribing to an external one). */
export function onOurBroker(bridge: Bridge): bridge is Zigbee2mqttBridge & { secretHash: string } {
  return bridge.kind === 'zigbee2mqtt' && bridge.url === undefined && typeof bridge.secretHash === 'string';
}

/**
 * The stored secret hash of a device that never connects itself (it reaches the gateway through a bridge): no
 * password verifies against it, so such a device cannot sign in to the broker directly.
 */
export const NO_DEVICE_SECRET = '';

/**
 * IEEE addresses and DevEUIs are hex that tools print in either case (`0x00158D…`, `00158d…`): compared in lower
 * case. Anything else (a zigbee2mqtt friendly name) is compared exactly as written.
 */
export function normaliseExternalId(externalId: string): string {
  return /^(0x)?[0-9a-fA-F]{16}$/.test(externalId) ? externalId.toLowerCase() : externalId;
}
