// Providers' caps on calls to one number: Tencent one between 22:00 and 08:00, Aliyun one a minute and five an hour.
import type { VoiceProviderName } from '../notifiers/intent.js';
import { localTime } from '../paging/shifts.js';
import type { VoiceCallRepo } from './repo.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NIGHT_FROM = 22 * 60;
const NIGHT_TO = 8 * 60;

/** Counts older than this are never read again. */
export const CAP_MEMORY_MS = 24 * HOUR;

/** When the night that `now` falls in began (22:00 local), or null in the daytime. */
export function nightStart(now: number, timeZone: string): number | null {
  const minutes = localTime(now, timeZone).minutes;
  const intoMinute = now % MINUTE;
  if (minutes >= NIGHT_FROM) return now - (minutes - NIGHT_FROM) * MINUTE - intoMinute;
  if (minutes < NIGHT_TO) return now - (minutes + 24 * 60 - NIGHT_FROM) * MINUTE - intoMinute;
  return null;
}

/**
 * Why a call to `phone` now would exceed the provider's cap (and be rejected by it), or null when it may be placed.
 * The counts are per number and provider, durable, so a restart does not reset them.
 */
export async function capReached(
  repo: Pick<VoiceCallRepo, 'countPlaced'>,
  provider: VoiceProviderName,
  phone: string,
  now: number,
  timeZone: string,
): Promise<string | null> {
  switch (provider) {
    case 'tencent': {
      const since = nightStart(now, timeZone);
      if (since !== null && (await repo.countPlaced(provider, phone, since)) >= 1)
        return 'Tencent allows one call to a number between 22:00 and 08:00, and this number had it';
      return null;
    }
    case 'aliyun': {
      if ((await repo.countPlaced(provider, phone, now - MINUTE + 1)) >= 1) return 'Aliyun allows one call to a number a minute';
      if ((await repo.countPlaced(provider, phone, now - HOUR + 1)) >= 5) return 'Aliyun allows five calls to a number an hour';
      return null;
    }
    case 'twilio':
      return null;
  }
}
