// Device authentication for CONNECT: client id = username = device id, password checked against the scrypt hash, with a cheap path for reconnects and a brake on repeated failures.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Device, SecurityEventKind } from '../core/types.js';
import type { RegistryRepo } from '../storage/ports.js';
import { verifySecret } from '../registry/secrets.js';
import { certificateProblem, type PresentedCert } from './client-cert.js';

export interface AuthLimits {
  /** Failures from one remote address within `windowMs` that start a lockout. */
  maxFailures: number;
  windowMs: number;
  /** During a lockout, unverified credentials from that address are refused without running scrypt. */
  lockoutMs: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = { maxFailures: 10, windowMs: 60_000, lockoutMs: 60_000 };

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 that a refusal uses. */
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

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
  returnCode: typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED;
  /** What to record as a security event; null while the address is locked out, so a flood cannot flood the log too. */
  security: { kind: SecurityEventKind; deviceId: string | null; detail: string } | null;
}

export type AuthOutcome = { ok: true; device: Device } | AuthRefusal;

interface Verified {
  secretHash: string;
  mac: Buffer;
}

interface Failures {
  times: number[];
  lockedUntil: number;
}

export interface DeviceAuthenticatorDeps {
  registry: Pick<RegistryRepo, 'getDevice'>;
  clock: Clock;
  limits?: AuthLimits;
}

export class DeviceAuthenticator {
  // Per-process key: the cache holds HMACs of secrets that verified, never the secrets, and dies with the process.
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, Verified>();
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly deps: DeviceAuthenticatorDeps) {}

  private get limits(): AuthLimits {
    return this.deps.limits ?? DEFAULT_AUTH_LIMITS;
  }

  async check(attempt: AuthAttempt): Promise<AuthOutcome> {
    const { clientId, username, password } = attempt;
    const address = attempt.remoteAddress ?? 'unknown';
    if (username === undefined || username === '' || password === undefined) {
      return this.refuse(address, CONNACK_BAD_USERNAME_OR_PASSWORD, 'auth_failed', null, 'username or password missing');
    }
    if (clientId !== username) {
      return this.refuse(address, CONNACK_NOT_AUTHORIZED, 'client_id_mismatch', username, `client id "${clientId}" is not the username "${username}"`);
    }
    const device = await this.deps.registry.getDevice(username);
    if (!device) {
      this.verified.delete(username);
      return this.refuse(address, CONNACK_BAD_USERNAME_OR_PASSWORD, 'unknown_device', username, 'no such device in the registry');
    }
    // A reconnect with the secret that verified before costs one HMAC instead of one scrypt, and is let
    // in even during a lockout: a neighbour's misconfigured fixture behind the same NAT must not silence an alarm button.
    const mac = this.mac(password);
    const known = this.verified.get(device.id);
    if (known && known.secretHash === device.secretHash && timingSafeEqual(known.mac, mac)) return this.admit(address, device, attempt.clientCert ?? null);
    if (this.lockedOut(address)) {
      return { ok: false, returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD, security: null };
    }
    if (await verifySecret(password.toString('utf8'), device.secretHash)) {
      this.verified.set(device.id, { secretHash: device.secretHash, mac });
      return this.admit(address, device, attempt.clientCert ?? null);
    }
    return this.refuse(address, CONNACK_BAD_USERNAME_OR_PASSWORD, 'auth_failed', device.id, 'wrong secret');
  }

  /** Drops failure records that can no longer matter; call now and then. */
  sweep(): void {
    const now = this.deps.clock.now();
    for (const [address, f] of this.failures) {
      f.times = f.times.filter((t) => t > now - this.limits.windowMs);
      if (f.times.length === 0 && f.lockedUntil <= now) this.failures.delete(address);
    }
  }

  isLockedOut(remoteAddress: string | null): boolean {
    return this.lockedOut(remoteAddress ?? 'unknown');
  }

  private lockedOut(address: string): boolean {
    const f = this.failures.get(address);
    return f !== undefined && f.lockedUntil > this.deps.clock.now();
  }

  /** The secret was right; a device registered with a client certificate must also have presented it. */
  private admit(address: string, device: Device, cert: PresentedCert | null): AuthOutcome {
    const problem = certificateProblem(device, cert);
    if (problem === null) return { ok: true, device };
    return this.refuse(address, CONNACK_NOT_AUTHORIZED, 'client_cert_refused', device.id, problem);
  }

  private refuse(
    address: string,
    returnCode: AuthRefusal['returnCode'],
    kind: SecurityEventKind,
    deviceId: string | null,
    detail: string,
  ): AuthRefusal {
    if (this.lockedOut(address)) return { ok: false, returnCode, security: null };
    const now = this.deps.clock.now();
    const f = this.failures.get(address) ?? { times: [], lockedUntil: 0 };
    f.times = f.times.filter((t) => t > now - this.limits.windowMs);
    f.times.push(now);
    this.failures.set(address, f);
    if (f.times.length >= this.limits.maxFailures) {
      f.lockedUntil = now + this.limits.lockoutMs;
      f.times = [];
      detail += `; ${this.limits.maxFailures} failures within ${this.limits.windowMs / 1000} s, address refused for ${this.limits.lockoutMs / 1000} s`;
    }
    return { ok: false, returnCode, security: { kind, deviceId, detail } };
  }

  private mac(password: Buffer): Buffer {
    return createHmac('sha256', this.cacheKey).update(password).digest();
  }
}
