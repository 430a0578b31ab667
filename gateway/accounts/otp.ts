// Phone sign-in for workers and volunteers: a 6-digit code by SMS, valid 5 minutes, single use, at most 5 guesses.
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Volunteer, Worker } from '../core/types.js';
import type { SmsQueue } from '../paging/pager.js';
import { intentOf } from '../notifiers/kinds.js';
import type { RegistryRepo } from '../storage/ports.js';
import type { AccountRepo } from './repo.js';
import { sameToken } from './sessions.js';

export interface OtpSettings {
  ttlMs: number;
  maxAttempts: number;
}

export const DEFAULT_OTP: OtpSettings = { ttlMs: 5 * 60_000, maxAttempts: 5 };

/** The registry person a phone belongs to; a worker wins over a volunteer with the same phone. */
export type PhoneOwner = { kind: 'worker'; worker: Worker } | { kind: 'volunteer'; volunteer: Volunteer };

export interface OtpDeps {
  repo: AccountRepo;
  registry: Pick<RegistryRepo, 'listWorkers' | 'listVolunteers'>;
  sms: SmsQueue;
  clock: Clock;
  log: Logger;
  settings?: Partial<OtpSettings>;
  /**
   * Key of the HMAC that stands for a code. A million codes are tried in a second against a plain salted hash, so
   * the key is kept out of the database. Default: random per process (a restart voids codes not yet used).
   */
  key?: Buffer;
}

export type OtpCheck = 'ok' | 'no_code' | 'expired' | 'used' | 'too_many_attempts' | 'wrong';

/** Spaces, dashes and brackets go; a mainland mobile typed without +86 is also tried with it. */
export function phoneCandidates(input: string): string[] {
  const cleaned = input.replace(/[\s\-()]/g, '');
  return /^1\d{10}$/.test(cleaned) ? [cleaned, `+86${cleaned}`] : [cleaned];
}

export class OtpCodes {
  readonly settings: OtpSettings;
  private readonly key: Buffer;

  constructor(private readonly deps: OtpDeps) {
    this.settings = { ...DEFAULT_OTP, ...deps.settings };
    this.key = deps.key ?? randomBytes(32);
  }

  private codeHash(code: string, salt: string): string {
    return createHmac('sha256', this.key).update(`${salt}:${code}`, 'utf8').digest('hex');
  }

  /** The phone as the registry has it, and whom it belongs to; the cleaned input when nobody has it. */
  async owner(input: string): Promise<{ phone: string; owner: PhoneOwner | null }> {
    const candidates = phoneCandidates(input);
    const workers = await this.deps.registry.listWorkers();
    const volunteers = await this.deps.registry.listVolunteers();
    for (const phone of candidates) {
      const worker = workers.find((w) => w.phone === phone);
      if (worker) return { phone, owner: { kind: 'worker', worker } };
      const volunteer = volunteers.find((v) => v.phone === phone);
      if (volunteer) return { phone, owner: { kind: 'volunteer', volunteer } };
    }
    return { phone: candidates[candidates.length - 1] ?? input, owner: null };
  }

  /** Stores a fresh code (voiding earlier ones) and queues the SMS. */
  async send(phone: string, owner: PhoneOwner): Promise<void> {
    const now = this.deps.clock.now();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    // Only a keyed digest is stored: neither the database nor the SMS table can give the code back.
    const salt = randomBytes(8).toString('hex');
    await this.deps.repo.replaceOtp({
      phone,
      codeHash: this.codeHash(code, salt),
      salt,
      createdAt: now,
      expiresAt: now + this.settings.ttlMs,
      attempts: 0,
      usedAt: null,
    });
    const minutes = Math.round(this.settings.ttlMs / 60_000);
    await this.deps.sms.enqueue({
      // Only the provider sees the code: the stored intent and text carry it masked, so whoever can read the SMS log
      // (or a copy of the database) cannot sign in with it.
      to: phone,
      intent: intentOf('sign_in_code', { code, minutes }),
      priority: 'routine',
      purpose: 'otp',
      incidentId: null,
      step: null,
      role: owner.kind === 'worker' ? 'worker' : null,
      personId: owner.kind === 'worker' ? owner.worker.id : owner.volunteer.id,
      // No reply context: replying to the code must not change how the phone's next reply (1, 到) is routed.
      context: null,
    });
  }

  /** Checks a guess against the phone's newest code; a right guess uses the code up. */
  async check(phone: string, code: string): Promise<OtpCheck> {
    const otp = await this.deps.repo.latestOtp(phone);
    if (!otp) return 'no_code';
    if (otp.usedAt !== null) return 'used';
    if (this.deps.clock.now() >= otp.expiresAt) return 'expired';
    if (otp.attempts >= this.settings.maxAttempts) return 'too_many_attempts';
    if (!sameToken(this.codeHash(code, otp.salt), otp.codeHash)) {
      const counted = await this.deps.repo.countOtpAttempt(otp.id, this.settings.maxAttempts);
      return counted ? 'wrong' : 'too_many_attempts';
    }
    return (await this.deps.repo.consumeOtp(otp.id, this.deps.clock.now())) ? 'ok' : 'used';
  }
}
