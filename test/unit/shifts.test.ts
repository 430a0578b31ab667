// Duty shifts: local time in a zone, shift boundaries (from inclusive, to exclusive) and shifts that run past midnight.
import { describe, expect, it } from 'vitest';
import type { Shift, Worker } from '../../gateway/core/types.js';
import { isOnDuty, localTime, parseHhmm, shiftCovers, type LocalTime } from '../../gateway/paging/shifts.js';

const SHANGHAI = 'Asia/Shanghai'; // UTC+8 all year, no DST

/** An instant given as Shanghai wall-clock time on a day of November 2026 (the 29th is a Sunday). */
function shanghai(day: number, hour: number, minute: number): number {
  return Date.UTC(2026, 10, day, hour - 8, minute);
}

function worker(shifts: Shift[]): Worker {
  return { id: 'w-01', name: '李明', phone: '+8613900000001', community: 'andali', shifts };
}

function at(weekday: LocalTime['weekday'], hhmm: string): LocalTime {
  return { weekday, minutes: parseHhmm(hhmm), hhmm };
}

describe('localTime', () => {
  it('reads weekday and minutes in the given zone, not in UTC', () => {
    // 2026-11-26T02:00Z is Thursday 10:00 in Shanghai and Wednesday 21:00 in New York (EST, UTC-5).
    const ms = Date.UTC(2026, 10, 26, 2, 0);
    expect(localTime(ms, SHANGHAI)).toEqual({ weekday: 'thu', minutes: 600, hhmm: '10:00' });
    expect(localTime(ms, 'America/New_York')).toEqual({ weekday: 'wed', minutes: 21 * 60, hhmm: '21:00' });
    expect(localTime(ms, 'UTC')).toEqual({ weekday: 'thu', minutes: 120, hhmm: '02:00' });
  });

  it('follows daylight saving time where the zone has it', () => {
    // 2026-07-01T03:30Z is Tuesday 23:30 in New York (EDT, UTC-4) and Wednesday 11:30 in Shanghai.
    const ms = Date.UTC(2026, 6, 1, 3, 30);
    expect(localTime(ms, 'America/New_York')).toEqual({ weekday: 'tue', minutes: 23 * 60 + 30, hhmm: '23:30' });
    expect(localTime(ms, SHANGHAI)).toEqual({ weekday: 'wed', minutes: 11 * 60 + 30, hhmm: '11:30' });
  });

  it('turns over at local midnight: Sunday 23:59 then Monday 00:00', () => {
    // 2026-11-29T15:59Z = Sunday 23:59 Shanghai; 16:00Z = Monday 00:00 Shanghai.
    expect(localTime(Date.UTC(2026, 10, 29, 15, 59), SHANGHAI)).toEqual({ weekday: 'sun', minutes: 1439, hhmm: '23:59' });
    expect(localTime(Date.UTC(2026, 10, 29, 16, 0), SHANGHAI)).toEqual({ weekday: 'mon', minutes: 0, hhmm: '00:00' });
  });

  it('pads single-digit hours and minutes', () => {
    // 2026-11-25T23:05Z = Thursday 07:05 Shanghai.
    expect(localTime(Date.UTC(2026, 10, 25, 23, 5), SHANGHAI).hhmm).toBe('07:05');
  });
});

describe('parseHhmm', () => {
  it('reads HH:MM as minutes since midnight', () => {
    expect(parseHhmm('00:00')).toBe(0);
    expect(parseHhmm('08:30')).toBe(510);
    expect(parseHhmm('23:59')).toBe(1439);
  });
});

describe('shiftCovers', () => {
  const weekdayDay: Shift = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '20:00' };

  it('covers a day shift from its first minute up to, not including, its last', () => {
    expect(shiftCovers(weekdayDay, at('wed', '07:59'))).toBe(false);
    expect(shiftCovers(weekdayDay, at('wed', '08:00'))).toBe(true);
    expect(shiftCovers(weekdayDay, at('wed', '12:00'))).toBe(true);
    expect(shiftCovers(weekdayDay, at('wed', '19:59'))).toBe(true);
    expect(shiftCovers(weekdayDay, at('wed', '20:00'))).toBe(false);
  });

  it('covers only the listed days', () => {
    expect(shiftCovers(weekdayDay, at('sat', '12:00'))).toBe(false);
    expect(shiftCovers(weekdayDay, at('sun', '12:00'))).toBe(false);
  });

  it('runs a Sunday-night shift into Monday morning, because its days name the start day', () => {
    const sundayNight: Shift = { days: ['sun'], from: '22:00', to: '06:00' };
    expect(shiftCovers(sundayNight, at('sun', '21:59'))).toBe(false);
    expect(shiftCovers(sundayNight, at('sun', '22:00'))).toBe(true);
    expect(shiftCovers(sundayNight, at('sun', '23:59'))).toBe(true);
    expect(shiftCovers(sundayNight, at('mon', '00:00'))).toBe(true);
    expect(shiftCovers(sundayNight, at('mon', '05:59'))).toBe(true);
    expect(shiftCovers(sundayNight, at('mon', '06:00'))).toBe(false);
    // Monday night is not Sunday's shift, and Sunday early morning belongs to a Saturday-night shift.
    expect(shiftCovers(sundayNight, at('mon', '22:00'))).toBe(false);
    expect(shiftCovers(sundayNight, at('sun', '05:00'))).toBe(false);
    expect(shiftCovers(sundayNight, at('tue', '01:00'))).toBe(false);
  });

  it('wraps the week: a Saturday-night shift covers early Sunday', () => {
    const saturdayNight: Shift = { days: ['sat'], from: '20:00', to: '02:00' };
    expect(shiftCovers(saturdayNight, at('sun', '01:59'))).toBe(true);
    expect(shiftCovers(saturdayNight, at('sun', '02:00'))).toBe(false);
    expect(shiftCovers(saturdayNight, at('sat', '01:00'))).toBe(false);
  });

  it('reads from == to as a 24-hour shift starting on the listed day', () => {
    const fullDay: Shift = { days: ['wed'], from: '08:00', to: '08:00' };
    expect(shiftCovers(fullDay, at('wed', '07:59'))).toBe(false);
    expect(shiftCovers(fullDay, at('wed', '08:00'))).toBe(true);
    expect(shiftCovers(fullDay, at('thu', '07:59'))).toBe(true);
    expect(shiftCovers(fullDay, at('thu', '08:00'))).toBe(false);
  });

  it('treats a shift ending at midnight as ending at the end of its day', () => {
    const evening: Shift = { days: ['fri'], from: '16:00', to: '00:00' };
    expect(shiftCovers(evening, at('fri', '23:59'))).toBe(true);
    expect(shiftCovers(evening, at('sat', '00:00'))).toBe(false);
    expect(shiftCovers(evening, at('fri', '15:59'))).toBe(false);
  });
});

describe('isOnDuty', () => {
  const nightWorker = worker([{ days: ['sun'], from: '22:00', to: '06:00' }]);

  it('is on duty across Sunday midnight into Monday, at real instants in Shanghai', () => {
    expect(isOnDuty(nightWorker, shanghai(29, 21, 59), SHANGHAI)).toBe(false); // Sun 21:59
    expect(isOnDuty(nightWorker, shanghai(29, 22, 0), SHANGHAI)).toBe(true); // Sun 22:00 (2026-11-29T14:00Z)
    expect(isOnDuty(nightWorker, shanghai(30, 0, 0), SHANGHAI)).toBe(true); // Mon 00:00 (2026-11-29T16:00Z)
    expect(isOnDuty(nightWorker, shanghai(30, 5, 59), SHANGHAI)).toBe(true); // Mon 05:59 (2026-11-29T21:59Z)
    expect(isOnDuty(nightWorker, shanghai(30, 6, 0), SHANGHAI)).toBe(false); // Mon 06:00 (2026-11-29T22:00Z)
  });

  it('reads shifts in the given zone: the same instant is off duty in UTC', () => {
    // 2026-11-29T16:30Z: Monday 00:30 in Shanghai, but Sunday 16:30 in UTC.
    const ms = Date.UTC(2026, 10, 29, 16, 30);
    expect(isOnDuty(nightWorker, ms, SHANGHAI)).toBe(true);
    expect(isOnDuty(nightWorker, ms, 'UTC')).toBe(false);
  });

  it('is on duty when any one of several shifts covers the time', () => {
    const split = worker([
      { days: ['thu'], from: '08:00', to: '12:00' },
      { days: ['thu'], from: '14:00', to: '18:00' },
    ]);
    expect(isOnDuty(split, shanghai(26, 9, 0), SHANGHAI)).toBe(true); // Thu 09:00
    expect(isOnDuty(split, shanghai(26, 13, 0), SHANGHAI)).toBe(false); // Thu 13:00, the gap
    expect(isOnDuty(split, shanghai(26, 14, 0), SHANGHAI)).toBe(true); // Thu 14:00
  });

  it('never puts a worker with no shifts on duty', () => {
    const none = worker([]);
    // Every hour of the week of Mon 2026-11-23 00:00 to Sun 2026-11-29 23:00, Shanghai time.
    for (let h = 0; h < 7 * 24; h++) {
      expect(isOnDuty(none, shanghai(23, 0, 0) + h * 3_600_000, SHANGHAI)).toBe(false);
    }
  });
});
