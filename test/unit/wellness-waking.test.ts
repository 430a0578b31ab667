// Waking-hours arithmetic and the inactivity rules: the night never counts, windows may cross midnight, and instants are read in the zone.
import { describe, expect, it } from 'vitest';
import { familyPage, smsLength, UCS2_SEGMENT, workerPage } from '../../gateway/paging/messages.js';
import { demoText } from '../../gateway/notifiers/catalogue.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import type { Resident } from '../../gateway/core/types.js';
import { HOUR_MS, inactivityPageHours, signSourceOf, wanted, watchOf } from '../../gateway/wellness/rules.js';
import { DEFAULT_WAKING_HOURS, isWaking, wakingMs } from '../../gateway/wellness/waking.js';

const TZ = 'Asia/Shanghai';
const H = HOUR_MS;
const MIN = 60_000;
/** Wall time in Asia/Shanghai (UTC+8, no daylight saving). */
const sh = (d: number, h: number, mi = 0): number => Date.UTC(2026, 10, d, h - 8, mi);
const DAY = { from: '07:00', to: '22:00' };
const NIGHT_SHIFT = { from: '20:00', to: '08:00' };

function resident(over: Partial<Resident> = {}): Resident {
  return { id: 'r-1', name: '张桂兰', community: 'andali', address: '安达里3号楼2门401', family: [], ...over };
}

describe('wakingMs', () => {
  it('counts a span inside the window in full and the night not at all', () => {
    expect(wakingMs(sh(25, 9), sh(25, 12), DAY, TZ)).toBe(3 * H);
    expect(wakingMs(sh(25, 22), sh(26, 7), DAY, TZ)).toBe(0);
    expect(wakingMs(sh(25, 23, 30), sh(26, 3), DAY, TZ)).toBe(0);
  });

  it('counts only the waking part of a span across midnight', () => {
    // 20:00 -> next day 09:00: two hours before 22:00 and two after 07:00.
    expect(wakingMs(sh(25, 20), sh(26, 9), DAY, TZ)).toBe(4 * H);
    // Three whole days are 3 x 15 waking hours.
    expect(wakingMs(sh(25, 0), sh(28, 0), DAY, TZ)).toBe(45 * H);
  });

  it('treats the window edges as [from, to)', () => {
    expect(wakingMs(sh(25, 6, 59), sh(25, 7, 1), DAY, TZ)).toBe(1 * MIN);
    expect(wakingMs(sh(25, 21, 59), sh(25, 22, 1), DAY, TZ)).toBe(1 * MIN);
    expect(isWaking(sh(25, 7), DAY, TZ)).toBe(true);
    expect(isWaking(sh(25, 22), DAY, TZ)).toBe(false);
    expect(isWaking(sh(25, 21, 59), DAY, TZ)).toBe(true);
  });

  it('handles a window that itself runs past midnight (a resident awake at night)', () => {
    // 20:00-08:00: awake at night, asleep by day.
    expect(wakingMs(sh(25, 12), sh(26, 12), NIGHT_SHIFT, TZ)).toBe(12 * H);
    expect(wakingMs(sh(26, 1), sh(26, 3), NIGHT_SHIFT, TZ)).toBe(2 * H);
    expect(wakingMs(sh(26, 9), sh(26, 19), NIGHT_SHIFT, TZ)).toBe(0);
    expect(isWaking(sh(26, 2), NIGHT_SHIFT, TZ)).toBe(true);
    expect(isWaking(sh(26, 12), NIGHT_SHIFT, TZ)).toBe(false);
  });

  it('counts every hour when from equals to', () => {
    expect(wakingMs(sh(25, 1), sh(26, 1), { from: '00:00', to: '00:00' }, TZ)).toBe(24 * H);
    expect(isWaking(sh(25, 3), { from: '06:30', to: '06:30' }, TZ)).toBe(true);
  });

  it('is zero for an empty or reversed span', () => {
    expect(wakingMs(sh(25, 9), sh(25, 9), DAY, TZ)).toBe(0);
    expect(wakingMs(sh(25, 10), sh(25, 9), DAY, TZ)).toBe(0);
  });

  it('sums to the same total however the span is cut into sweeps', () => {
    let total = 0;
    for (let t = sh(25, 5); t < sh(27, 5); t += 7 * MIN) total += wakingMs(t, Math.min(t + 7 * MIN, sh(27, 5)), DAY, TZ);
    expect(total).toBe(wakingMs(sh(25, 5), sh(27, 5), DAY, TZ));
    expect(total).toBe(30 * H);
  });

  it('reads the window in the given zone, not in UTC', () => {
    // 07:00-22:00 in Shanghai is 23:00-14:00 UTC; in UTC the same instants would mostly be night.
    expect(wakingMs(Date.UTC(2026, 10, 25, 0), Date.UTC(2026, 10, 25, 6), DAY, TZ)).toBe(6 * H);
    expect(wakingMs(Date.UTC(2026, 10, 25, 0), Date.UTC(2026, 10, 25, 6), DAY, 'UTC')).toBe(0);
  });

  it('follows the clock on a daylight-saving day where the zone has one', () => {
    // Europe/Berlin skips 02:00-03:00 on 2026-03-29: a 01:00-05:00 window holds three real hours that day.
    const w = { from: '01:00', to: '05:00' };
    const day = Date.UTC(2026, 2, 28, 23); // 2026-03-29 00:00 CET
    expect(wakingMs(day, day + 23 * H, w, 'Europe/Berlin')).toBe(3 * H);
    // And 2026-10-25 repeats 02:00-03:00: five real hours.
    const autumn = Date.UTC(2026, 9, 24, 22); // 2026-10-25 00:00 CEST
    expect(wakingMs(autumn, autumn + 25 * H, w, 'Europe/Berlin')).toBe(5 * H);
  });

  it('gives the README example: 12 h from Monday 20:00 is Tuesday 17:00, and 24 h is Wednesday 14:00', () => {
    // 2026-11-23 is a Monday.
    expect(wakingMs(sh(23, 20), sh(24, 17), DAY, TZ)).toBe(12 * H);
    expect(wakingMs(sh(23, 20), sh(24, 16, 59), DAY, TZ)).toBeLessThan(12 * H);
    expect(wakingMs(sh(23, 20), sh(25, 14), DAY, TZ)).toBe(24 * H);
  });

  it('defaults to 07:00-22:00', () => {
    expect(DEFAULT_WAKING_HOURS).toEqual(DAY);
    expect(watchOf(resident({ inactivityHours: 12 }))?.waking).toEqual(DAY);
  });
});

describe('inactivity rules', () => {
  it('watches only residents with inactivityHours', () => {
    expect(watchOf(resident())).toBeNull();
    expect(watchOf(resident({ inactivityHours: 12, wakingHours: NIGHT_SHIFT }))).toEqual({
      residentId: 'r-1',
      taskHours: 12,
      pageHours: 24,
      waking: NIGHT_SHIFT,
    });
  });

  it('pages at twice the threshold, or at the threshold for a high-risk resident', () => {
    expect(inactivityPageHours(resident({ inactivityHours: 12 }))).toBe(24);
    expect(inactivityPageHours(resident({ inactivityHours: 12, highRisk: true }))).toBe(12);
    expect(inactivityPageHours(resident({ highRisk: true }))).toBeNull();
    const watch = watchOf(resident({ inactivityHours: 4 }))!;
    expect(wanted(4 * H - 1, watch)).toEqual({ task: false, page: false });
    expect(wanted(4 * H, watch)).toEqual({ task: true, page: false });
    expect(wanted(8 * H, watch)).toEqual({ task: true, page: true });
  });

  it('counts motion and button presses as signs of life, not a fall or a heartbeat', () => {
    expect(signSourceOf('motion')).toBe('motion');
    expect(signSourceOf('sos')).toBe('button');
    expect(signSourceOf('cancel')).toBe('button');
    expect(signSourceOf('fall')).toBeNull();
    expect(signSourceOf('heartbeat')).toBeNull();
    expect(signSourceOf('low_battery')).toBeNull();
  });
});

describe('registry wakingHours', () => {
  const doc = (wakingHours: unknown) => ({
    communities: [{ id: 'c', name: 'C' }],
    residents: [{ id: 'r-1', name: 'N', community: 'c', address: 'A1号楼', inactivityHours: 12, wakingHours }],
  });

  it('accepts HH:MM bounds and writes 7:00 back as 07:00', () => {
    expect(validateRegistry(doc({ from: '7:00', to: '21:30' })).residents[0]?.wakingHours).toEqual({ from: '07:00', to: '21:30' });
  });

  it('refuses a malformed time with the path in the message', () => {
    expect(() => validateRegistry(doc({ from: '25:00', to: '21:00' }))).toThrow(/residents\[0\]\.wakingHours\.from/);
    expect(() => validateRegistry(doc({ from: '07:00' }))).toThrow(/residents\[0\]\.wakingHours\.to/);
  });
});

describe('inactivity SMS', () => {
  const at = sh(26, 14, 5);
  const base = { resident: { name: '张桂兰', address: '安达里3号楼2门401' }, type: 'inactivity' as const, at, timeZone: TZ, step: 1 };

  it('tells the worker plainly how long there has been no sign of life and to go to the door, in one segment', () => {
    const text = demoText(workerPage({ ...base, hours: 24 }));
    expect(text).toBe('【求助】张桂兰家已24小时无活动迹象 请上门查看 地址安达里3号楼2门401 时间14:05 回1接单 回2转他人');
    expect(smsLength(text)).toBeLessThanOrEqual(UCS2_SEGMENT);
    const long = demoText(workerPage({ ...base, hours: 12, resident: { name: '欧阳'.repeat(10), address: `${'长'.repeat(80)}401` } }));
    expect(long.length).toBeLessThanOrEqual(UCS2_SEGMENT);
    expect(long).toContain('已12小时无活动迹象 请上门查看 地址…');
    expect(long).toContain('401 时间14:05 回1接单');
  });

  it('tells the family the same, and who is going', () => {
    expect(demoText(familyPage({ ...base, hours: 12, responderName: '李明', responderRole: 'worker' }))).toBe(
      '【紧急】您的家人张桂兰截至14:05已12小时无活动迹象，地址安达里3号楼2门401，社区已通知网格员李明上门查看。您能去请回1。',
    );
  });
});
