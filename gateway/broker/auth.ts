// Device authentication for CONNECT: client id = username = device id, password checked against the scrypt hash, with a cheap path for reconnects and a brake on repeated failures that never refuses a correct secret.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { addressBlock } from '../core/address.js';
import type { Clock } from '../core/clock.js';
import type { Device, SecurityEventKind } from '../core/types.js';
import type { RegistryRepo } from '../storage/ports.js';
import { hashSecret, verifySecret } from '../registry/secrets.js';
import { AuthThrottle, DEFAULT_AUTH_LIMITS, type AuthLimits } from './auth-throttle.js';
import { certificateProblem, type PresentedCert } from './client-cert.js';
import type { SharedCounter } from '../lockouts/shared.js';
import type { SharedVerifier } from './shared-verifier.js';

export { DEFAULT_AUTH_LIMITS, type AuthLimits } from './auth-throttle.js';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 that a refusal uses. */
export const CONNACK_SERVER_UNAVAILABLE = 3;
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

/**
 * Why a CONNECT got no CONNACK 0, as an operator tells them apart (the metric mqtt_connects_refused_total{reason}):
 * the device's own fault (bad_credentials: CONNACK 4; not_authorized: 5) or the gateway's (CONNACK 3: stopping, the
 * cluster presence claim not taken by Redis in time, an unexpected error such as a registry read past its bound).
 */
export type ConnectRefusalReason = 'bad_credentials' | 'not_authorized' | 'stopping' | 'presence_unclaimed' | 'internal_error';

/** The reason a device-side refusal code stands for (CONNACK 3 is the gateway's own and has reasons of its own). */
export function refusalReasonOf(returnCode: typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED): ConnectRefusalReason {
  return returnCode === CONNACK_BAD_USERNAME_OR_PASSWORD ? 'bad_credentials' : 'not_authorized';
}

export interface AuthAttempt {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  remoteAddress: string | null;
  /** The client certificate of an MQTTS connection; checked in addition to the secret for devices that require one. */
  clientCert?: PresentedCert | null;
}

export interface AuthRefusal {
  ok: false;
  returnCode: typeof CONNACK_SERVER_UNAVAILABLE | typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED;
  reason: ConnectRefusalReason;
  /** What to record as a security event; null while that address or (address, id) is already slowed, so a flood cannot flood the log too. */
  security: { kind: SecurityEventKind; deviceId: string | null; detail: string } | null;
}

export type AuthOutcome = { ok: true; device: Device } | AuthRefusal;

interface Verified {
  secretHash: string;
  mac: Buffer;
}

export interface DeviceAuthenticatorDeps {
  registry: Pick<RegistryRepo, 'getDevice'>;
  clock: Clock;
  limits?: AuthLimits;
  /** The secret check; verifySecret (scrypt) unless a test wraps it to count calls. */
  verify?: (secret: string, secretHash: string) => Promise<boolean>;
  /** Cluster mode: secrets that passed scrypt on any node (see shared-verifier.ts); absent: this process's cache only. */
  shared?: SharedVerifier | null;
}

export class DeviceAuthenticator {
  // Per-process key: the cache holds HMACs of secrets that verified, never the secrets, and dies with the process.
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, Verified>();
  private readonly throttle: AuthThrottle;
  /** Checked against for an unknown device id, so a miss costs the same scrypt as a wrong secret and ids cannot be told apart by timing. */
  private decoyHash: Promise<string> | null = null;

  constructor(private readonly deps: DeviceAuthenticatorDeps) {
    this.throttle = new AuthThrottle({ clock: deps.clock, limits: deps.limits ?? DEFAULT_AUTH_LIMITS });
  }

  async check(attempt: AuthAttempt): Promise<AuthOutcome> {
    const { clientId, username, password } = attempt;
    const address = addressBlock(attempt.remoteAddress);
    if (username === undefined || username === '' || password === undefined) {
      return this.refuse(address, username ?? '', CONNACK_BAD_USERNAME_OR_PASSWORD, 'auth_failed', null, 'username or password missing');
    }
    if (clientId !== username) {
      return this.refuse(
        address,
        username,
        CONNACK_NOT_AUTHORIZED,
        'client_id_mismatch',
        username,
        `client id "${clientId}" is not the username "${username}"`,
      );
    }
    // A reconnect with the secret that verified before costs one HMAC instead of one scrypt, and never waits for a
    // throttle: that is the common case after a network blip, and it proves the secret already.
    const mac = this.mac(password);
    const cached = await this.deps.registry.getDevice(username);
    const known = cached ? this.verified.get(cached.id) : undefined;
    if (cached && known && known.secretHash === cached.secretHash && timingSafeEqual(known.mac, mac))
      return this.admit(address, cached, attempt.clientCert ?? null);
    // A device that moved from another node proved its secret to the cluster already. Asked for unknown ids too, so
    // they cost the same read; a wrong secret or a changed hash misses and goes on to scrypt below.
    const shared = this.deps.shared;
    if (shared && (await shared.admits(username, cached?.secretHash ?? null, password)) && cached) {
      this.verified.set(cached.id, { secretHash: cached.secretHash, mac });
      return this.admit(address, cached, attempt.clientCert ?? null);
    }

    // Every other attempt is checked with scrypt, whoever else failed from the same address: a wrong secret for one
    // device id slows only that id from that address, and a flood of failures only makes one address's checks take turns.
    const release = await this.throttle.admit(address, username);
    if (!release) return { ok: false, returnCode: CONNACK_SERVER_UNAVAILABLE, reason: 'stopping', security: null };
    try {
      // Read again: the registry may have changed while this attempt waited its turn.
      const device = await this.deps.registry.getDevice(username);
      const hash = device?.secretHash ?? (await this.decoy());
      const matches = await (this.deps.verify ?? verifySecret)(password.toString('utf8'), hash);
      if (device && matches) {
        this.verified.set(device.id, { secretHash: device.secretHash, mac });
        shared?.remember(device.id, device.secretHash, password);
        this.throttle.succeeded(address, username);
        return this.admit(address, device, attempt.clientCert ?? null);
      }
      if (!device) {
        this.verified.delete(username);
        return this.refuse(
          address,
          username,
          CONNACK_BAD_USERNAME_OR_PASSWORD,
          'unknown_device',
          username,
          'no such device in the registry',
        );
      }
      return this.refuse(address, username, CONNACK_BAD_USERNAME_OR_PASSWORD, 'auth_failed', device.id, 'wrong secret');
    } finally {
      release();
    }
  }

  /** The failure counter per (address, device id), for sharing with other gateway nodes. */
  get sharedCounter(): SharedCounter {
    return this.throttle.sharedCounter;
  }

  /** Drops failure records that can no longer matter, and keeps the shared entries of verified devices; call now and then. */
  sweep(): void {
    this.throttle.sweep();
    this.deps.shared?.keepAlive(this.verified.keys());
  }

  /** Ends every wait, so a stopping broker is not held by an attempt waiting its turn. */
  stop(): void {
    this.throttle.stop();
  }

  /** Milliseconds before the next check for this device id from this address may start. */
  delayOf(remoteAddress: string | null, deviceId: string): number {
    return this.throttle.delayOf(addressBlock(remoteAddress), deviceId);
  }

  /** True while that address's secret checks take turns after many failures. */
  isSlowed(remoteAddress: string | null): boolean {
    return this.throttle.isSlowed(addressBlock(remoteAddress));
  }

  /** CONNECTs waiting their turn right now. */
  waiting(): number {
    return this.throttle.waiting();
  }

  /** The secret was right; a device registered with a client certificate must also have presented it. */
  private admit(address: string, device: Device, cert: PresentedCert | null): AuthOutcome {
    const problem = certificateProblem(device, cert);
    if (problem === null) return { ok: true, device };
    return this.refuse(address, device.id, CONNACK_NOT_AUTHORIZED, 'client_cert_refused', device.id, problem);
  }

  private refuse(
    address: string,
    identity: string,
    returnCode: typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED,
    kind: SecurityEventKind,
    deviceId: string | null,
    detail: string,
  ): AuthRefusal {
    const note = this.throttle.failed(address, identity);
    const reason = refusalReasonOf(returnCode);
    if (note.quiet) return { ok: false, returnCode, reason, security: null };
    return { ok: false, returnCode, reason, security: { kind, deviceId, detail: note.slowDown ? `${detail}; ${note.slowDown}` : detail } };
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= hashSecret(randomBytes(24).toString('base64'));
    return this.decoyHash;
  }

  private mac(password: Buffer): Buffer {
    return createHmac('sha256', this.cacheKey).update(password).digest();
  }
}
