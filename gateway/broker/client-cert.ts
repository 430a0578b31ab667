// Client certificates on MQTTS: what a device presented, and whether it meets the certificate its registry entry asks for.
import { TLSSocket } from 'node:tls';
import type { Device } from '../core/types.js';

/** The client certificate of one connection, as the TLS handshake left it. */
export interface PresentedCert {
  /** True when the certificate chains to MQTT_TLS_CA_FILE (and is within its validity). */
  authorized: boolean;
  /** Why it does not chain, when it does not. */
  authorizationError: string | null;
  fingerprint256: string;
  commonName: string | null;
}

/**
 * The certificate presented on `conn`; null for plain MQTT or a TLS client that sent none. Without a CA of our own
 * (`withCa` false) Node verifies against the public roots, and a public CA vouching for a name proves nothing about a
 * device, so such a certificate never counts as authorized.
 */
export function presentedCert(conn: unknown, withCa: boolean): PresentedCert | null {
  if (!(conn instanceof TLSSocket)) return null;
  const peer = conn.getPeerCertificate();
  // Node returns an empty object, not null, when the client sent no certificate.
  if (!peer || typeof peer.fingerprint256 !== 'string' || peer.fingerprint256 === '') return null;
  const cn: unknown = peer.subject?.CN;
  const commonName = typeof cn === 'string' ? cn : Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : null;
  const error = conn.authorizationError;
  if (!withCa)
    return { authorized: false, authorizationError: 'MQTT_TLS_CA_FILE is not set', fingerprint256: peer.fingerprint256, commonName };
  return { authorized: conn.authorized, authorizationError: error ? String(error) : null, fingerprint256: peer.fingerprint256, commonName };
}

/**
 * Null when `cert` satisfies what `device` requires (nothing, for most devices), else why not. A pinned fingerprint
 * names one exact certificate, whose key the TLS handshake proved the client holds, so it needs no CA; a required
 * certificate without a pin must chain to MQTT_TLS_CA_FILE and name the device as its common name.
 */
export function certificateProblem(device: Device, cert: PresentedCert | null): string | null {
  if (!device.requireClientCert && !device.certFingerprint) return null;
  if (!cert) return 'a client certificate is required (MQTTS with the device certificate)';
  if (device.certFingerprint) {
    return cert.fingerprint256 === device.certFingerprint
      ? null
      : `client certificate ${cert.fingerprint256} is not the one registered for the device`;
  }
  if (!cert.authorized) return `client certificate not trusted (${cert.authorizationError ?? 'not signed by MQTT_TLS_CA_FILE'})`;
  if (cert.commonName !== device.id) return `client certificate names "${(cert.commonName ?? '').slice(0, 100)}", not the device`;
  return null;
}
