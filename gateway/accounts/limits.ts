// Sign-in rate limits: failed sign-ins per (address, account) and per address, code requests per phone and per address.
import { addressBlock } from '../core/address.js';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { SharedFailures } from '../lockouts/shared.js';
import { BackoffLimiter, longestWait, SlidingWindowLimiter, type BackoffRule, type Limiter, type RateLimitRule } from './rate-limit.js';

export interface AccountLimits {
  /**
   * Failed sign-ins per (client address, username or phone): 5 within 15 min are free, then each try from that address
   * for that account waits 15 s, doubling up to 5 min. Never per account alone: a stranger's guesses must not shut the
   * admin out, and the right password from another address is always checked.
   */
  perSubject: RateLimitRule & Partial<Pick<BackoffRule, 'baseDelayMs' | 'maxDelayMs'>>;
  /** Failed sign-ins per client address, any account (default 20 within 15 min, then waits from 5 s up to 1 min: a station's officers may share one address). */
  perIp: RateLimitRule & Partial<Pick<BackoffRule, 'baseDelayMs' | 'maxDelayMs'>>;
  /** Code requests per phone (default 3 per 15 min) and per address (default 10): the gateway is no SMS cannon. */
  otpPerPhone: RateLimitRule;
  otpPerIp: RateLimitRule;
}

const WINDOW = 15 * 60_000;
const SUBJECT_BACKOFF: BackoffRule = { max: 5, windowMs: WINDOW, baseDelayMs: 15_000, maxDelayMs: 5 * 60_000 };
const IP_BACKOFF: BackoffRule = { max: 20, windowMs: WINDOW, baseDelayMs: 5_000, maxDelayMs: 60_000 };
export const DEFAULT_LIMITS: AccountLimits = {
  perSubject: SUBJECT_BACKOFF,
  perIp: IP_BACKOFF,
  otpPerPhone: { max: 3, windowMs: WINDOW },
  otpPerIp: { max: 10, windowMs: WINDOW },
};

export function rateLimited(retryAfterSeconds: number): GatewayError {
  return new GatewayError('GW_ERR_RATE_LIMITED', `too many attempts, try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
}

export interface SignInLimitsDeps {
  clock: Clock;
  limits?: Partial<AccountLimits>;
  /** Several nodes on PostgreSQL: the limiters' events shared with the other nodes; absent, each node counts alone. */
  shared?: Pick<SharedFailures, 'attach'> | null;
}

/** The limiters one sign-in is checked against, with the key of the account part (reset on success). */
export interface LimitKeys {
  keys: [Limiter, string][];
  subjectKey: string;
}

export class SignInLimits {
  readonly failures: { subject: BackoffLimiter; ip: BackoffLimiter };
  readonly otpRequests: { phone: SlidingWindowLimiter; ip: SlidingWindowLimiter };

  constructor(deps: SignInLimitsDeps) {
    const { clock, shared } = deps;
    const limits = { ...DEFAULT_LIMITS, ...deps.limits };
    const limiter = (rule: RateLimitRule) => new SlidingWindowLimiter({ clock, rule });
    // A caller may give only the count and window; the waits then keep their defaults.
    const backoff = (rule: AccountLimits['perSubject'], defaults: BackoffRule) =>
      new BackoffLimiter({ clock, rule: { ...defaults, ...rule } });
    this.failures = { subject: backoff(limits.perSubject, SUBJECT_BACKOFF), ip: backoff(limits.perIp, IP_BACKOFF) };
    this.otpRequests = { phone: limiter(limits.otpPerPhone), ip: limiter(limits.otpPerIp) };
    if (shared) {
      shared.attach('login_subject', this.failures.subject);
      shared.attach('login_ip', this.failures.ip);
      shared.attach('otp_phone', this.otpRequests.phone);
      shared.attach('otp_ip', this.otpRequests.ip);
    }
  }

  /** The failure limiters of a password sign-in to `username` from `ip`. */
  password(ip: string | null, username: string): LimitKeys {
    return this.failureKeys(ip, `user:${addressBlock(ip)}:${username}`);
  }

  /** The failure limiters of a code sign-in for `phone` from `ip`. */
  code(ip: string | null, phone: string): LimitKeys {
    return this.failureKeys(ip, `phone:${addressBlock(ip)}:${phone}`);
  }

  /** The limiters of a code request for `phone` from `ip`. */
  codeRequest(ip: string | null, phone: string): [Limiter, string][] {
    return [
      [this.otpRequests.ip, `ip:${addressBlock(ip)}`],
      [this.otpRequests.phone, `phone:${phone}`],
    ];
  }

  /** Counts a failure from `ip` that names no account (a wrong setup token). */
  failedFrom(ip: string | null): void {
    this.failures.ip.record(`ip:${addressBlock(ip)}`);
  }

  /** Throws GW_ERR_RATE_LIMITED while the address has used up its failures. */
  refuseAddress(ip: string | null): void {
    const wait = longestWait([[this.failures.ip, `ip:${addressBlock(ip)}`]]);
    if (wait > 0) throw rateLimited(wait);
  }

  /** A success forgives the account's failures from that address (never the address's own count). */
  succeeded(limit: LimitKeys): void {
    this.failures.subject.reset(limit.subjectKey);
  }

  private failureKeys(ip: string | null, subjectKey: string): LimitKeys {
    return {
      keys: [
        [this.failures.ip, `ip:${addressBlock(ip)}`],
        [this.failures.subject, subjectKey],
      ],
      subjectKey,
    };
  }
}
