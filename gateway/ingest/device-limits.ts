// Per-device limits on everything but alarms: a token bucket against floods and a daily quota against slow fills of the disk.

export interface DeviceLimits {
  /** Sustained non-alarm messages per minute; 0: no rate limit. */
  ratePerMinute: number;
  /** Messages a device may send at once before the rate applies. */
  burst: number;
  /** Non-alarm messages per device per UTC day; 0: no quota. */
  dailyMessages: number;
  /** Non-alarm payload bytes per device per UTC day; 0: no quota. */
  dailyBytes: number;
  /** Messages dropped by the rate limit, without the bucket filling up again in between, before the device is disconnected. */
  disconnectAfter: number;
}

export type LimitVerdict =
  | { admit: true }
  | {
      admit: false;
      reason: 'rate' | 'quota';
      /** The device kept flooding: disconnect it (reported once per run of drops). */
      disconnect: boolean;
      /** The first message of the day over the quota (reported once a day). */
      quotaReached: boolean;
    };

interface DeviceBudget {
  tokens: number;
  refilledAt: number;
  day: number;
  messages: number;
  bytes: number;
  /** Messages dropped by the rate limit since the bucket was last full. */
  strikes: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Budgets of authenticated devices only, so the map is bounded by the registry. Time is the domain clock's. */
export class DeviceLimiter {
  private readonly budgets = new Map<string, DeviceBudget>();

  constructor(private readonly limits: DeviceLimits) {}

  /** Takes one non-alarm message of `bytes` from `deviceId` at `at`, or says why it is dropped. */
  admit(deviceId: string, bytes: number, at: number): LimitVerdict {
    const l = this.limits;
    const b = this.budget(deviceId, at);
    if (l.ratePerMinute > 0) {
      b.tokens = Math.min(l.burst, b.tokens + (Math.max(0, at - b.refilledAt) * l.ratePerMinute) / 60_000);
      b.refilledAt = at;
      if (b.tokens >= l.burst) b.strikes = 0;
      if (b.tokens < 1) {
        b.strikes++;
        // Once per run: at the threshold, and again for every further threshold's worth if it reconnects and goes on.
        return { admit: false, reason: 'rate', disconnect: b.strikes % l.disconnectAfter === 0, quotaReached: false };
      }
      b.tokens -= 1;
    }
    const overMessages = l.dailyMessages > 0 && b.messages >= l.dailyMessages;
    const overBytes = l.dailyBytes > 0 && b.bytes + bytes > l.dailyBytes;
    if (overMessages || overBytes) {
      const quotaReached = b.messages !== Number.POSITIVE_INFINITY;
      // Marked as spent for the rest of the day, so the quota is reported once.
      b.messages = Number.POSITIVE_INFINITY;
      return { admit: false, reason: 'quota', disconnect: false, quotaReached };
    }
    b.messages++;
    b.bytes += bytes;
    return { admit: true };
  }

  private budget(deviceId: string, at: number): DeviceBudget {
    const day = Math.floor(at / DAY_MS);
    let b = this.budgets.get(deviceId);
    if (!b) {
      b = { tokens: this.limits.burst, refilledAt: at, day, messages: 0, bytes: 0, strikes: 0 };
      this.budgets.set(deviceId, b);
    }
    if (b.day !== day) {
      b.day = day;
      b.messages = 0;
      b.bytes = 0;
    }
    return b;
  }
}

/** Why a device's messages are being dropped, in words for its care task and the log. */
export function floodDetail(reason: 'rate' | 'quota', limits: DeviceLimits | undefined): string {
  return reason === 'rate'
    ? `over ${limits?.ratePerMinute ?? 0} messages a minute (burst ${limits?.burst ?? 0}) and went on: ${limits?.disconnectAfter ?? 0} messages dropped in a row`
    : `daily quota spent (${limits?.dailyMessages ?? 0} messages or ${limits?.dailyBytes ?? 0} bytes a day): non-alarm messages dropped until midnight UTC`;
}
