// The providers' daily caps count the day as each provider does: Tencent's calendar day in China time, Aliyun's 24 hours before the send; counted in real SQLite.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { DEFAULT_CAP_SETTINGS, SendCaps, capRules, chinaDayStart } from '../../gateway/notifiers/caps.js';
import { intentOf } from '../../gateway/notifiers/kinds.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { shanghai } from '../helpers/calendar.js';
import { tempDir } from '../helpers/tmp.js';

const PHONE = '+8613900000001';
const MINUTE = 60_000;

let store: SqliteStore | null = null;
let dir: { path: string; remove: () => void } | null = null;

afterEach(async () => {
  await store?.close();
  dir?.remove();
  store = null;
  dir = null;
});

function rig(start: number): { clock: ManualClock; caps: SendCaps } {
  dir = tempDir('care-gw-caps-');
  store = openSqliteStore(join(dir.path, 'gateway.db'));
  const clock = new ManualClock(start);
  return { clock, caps: new SendCaps({ repo: store.smsCaps, clock, rules: capRules(DEFAULT_CAP_SETTINGS) }) };
}

/** A page about resident n: a different content each, so only the daily caps can apply. */
function page(n: number): { to: string; intent: ReturnType<typeof intentOf>; body: string } {
  return {
    to: PHONE,
    intent: intentOf('page_first', { name: `老人${n}`, what: '按了求助', address: '3号楼', time: '22:00', ack: '1', pass: '2' }),
    body: '',
  };
}

describe('daily SMS caps', () => {
  it('China time: the day starts at 00:00 in Beijing, 16:00 UTC the day before', () => {
    expect(chinaDayStart(shanghai(2026, 3, 10, 0, 0))).toBe(shanghai(2026, 3, 10, 0, 0));
    expect(chinaDayStart(shanghai(2026, 3, 10, 7, 59))).toBe(Date.UTC(2026, 2, 9, 16, 0));
    expect(chinaDayStart(shanghai(2026, 3, 10, 23, 59))).toBe(shanghai(2026, 3, 10, 0, 0));
  });

  it('Tencent: ten messages a calendar day in China time; a number takes messages again after midnight in Beijing', async () => {
    // 23:40 Beijing time is 15:40 UTC: a rolling 24 hours would still count these at 00:10.
    const { clock, caps } = rig(shanghai(2026, 3, 10, 23, 40));
    for (let n = 0; n < 10; n++) {
      expect(caps.exceeded('tencent', page(n))).toBeNull();
      await caps.record('tencent', page(n));
      clock.advance(MINUTE);
    }
    expect(caps.exceeded('tencent', page(10))?.label).toBe('Tencent: 10 messages a calendar day (China time) to a number');
    clock.advance(shanghai(2026, 3, 10, 23, 59) - clock.now());
    expect(caps.exceeded('tencent', page(10))).not.toBeNull();
    clock.advance(shanghai(2026, 3, 11, 0, 10) - clock.now());
    expect(caps.exceeded('tencent', page(10))).toBeNull();
  });

  it('Aliyun: fifty messages of one template in the 24 hours before the send, whatever the calendar day', async () => {
    const { clock, caps } = rig(shanghai(2026, 3, 10, 23, 0));
    for (let n = 0; n < 50; n++) await caps.record('aliyun', page(n));
    expect(caps.exceeded('aliyun', page(50))?.label).toBe('Aliyun: 50 messages of one template in 24 hours to a number');
    clock.advance(shanghai(2026, 3, 11, 1, 0) - clock.now());
    expect(caps.exceeded('aliyun', page(50))).not.toBeNull();
    // Another template is counted apart.
    expect(caps.exceeded('aliyun', { ...page(50), intent: intentOf('family_alert', { name: '老人50' }) })).toBeNull();
    clock.advance(shanghai(2026, 3, 11, 23, 1) - clock.now());
    expect(caps.exceeded('aliyun', page(50))).toBeNull();
  });
});
