// The call's words: numbers and times in characters (TTS reads digit strings one by one), the script, and the caps' night.
import { describe, expect, it } from 'vitest';
import { ago, cardinal, clockTime, count, digitByDigit, spokenAddress } from '../../gateway/voice/numbers.js';
import { callScript } from '../../gateway/voice/script.js';
import { nightStart } from '../../gateway/voice/caps.js';
import { shanghai } from '../helpers/calendar.js';

describe('number writer', () => {
  it('writes whole numbers as they are said', () => {
    const cases: [number, string][] = [
      [0, '零'],
      [1, '一'],
      [10, '十'],
      [14, '十四'],
      [20, '二十'],
      [59, '五十九'],
      [100, '一百'],
      [105, '一百零五'],
      [110, '一百一十'],
      [1010, '一千零一十'],
      [2005, '二千零五'],
      [10_000, '一万'],
      [10_005, '一万零五'],
      [10_010, '一万零一十'],
      [23_456, '二万三千四百五十六'],
      [100_000, '十万'],
    ];
    for (const [n, words] of cases) expect(cardinal(n), String(n)).toBe(words);
  });

  it('refuses what it cannot say', () => {
    expect(() => cardinal(-1)).toThrow(RangeError);
    expect(() => cardinal(1.5)).toThrow(RangeError);
    expect(() => cardinal(1e8)).toThrow(RangeError);
  });

  it('says 两 for a count of two, and reads flat numbers digit by digit', () => {
    expect(count(2)).toBe('两');
    expect(count(12)).toBe('十二');
    expect(digitByDigit('401')).toBe('四零一');
    expect(digitByDigit('B-1008')).toBe('B-一零零八');
  });

  it('writes clock times and how long ago', () => {
    expect(clockTime(14, 5)).toBe('十四点零五分');
    expect(clockTime(9, 30)).toBe('九点三十分');
    expect(clockTime(14, 0)).toBe('十四点整');
    expect(clockTime(0, 7)).toBe('零点零七分');
    expect(ago(20_000)).toBe('刚刚');
    expect(ago(3 * 60_000 + 59_000)).toBe('三分钟前');
    expect(ago(2 * 60_000)).toBe('两分钟前');
    expect(ago(80 * 60_000)).toBe('一小时二十分钟前');
    expect(ago(120 * 60_000)).toBe('两小时前');
  });

  it('writes an address: building and door numbers count, the flat number is read digit by digit', () => {
    expect(spokenAddress('安达里3号楼2门401')).toBe('安达里三号楼二门四零一');
    expect(spokenAddress('安达里12栋1单元1203')).toBe('安达里十二栋一单元一二零三');
    expect(spokenAddress('安达里５号楼１门２０２')).toBe('安达里五号楼一门二零二');
  });
});

describe('call script', () => {
  it('says who, where, what and how long ago, with no digit left for the voice to spell out', () => {
    const at = shanghai(2026, 11, 26, 14, 5);
    const script = callScript({
      resident: { name: '张桂兰', address: '安达里3号楼2门401' },
      type: 'sos',
      at,
      now: at + 3 * 60_000 + 10_000,
      timeZone: 'Asia/Shanghai',
    });
    expect(script.text).toContain('张桂兰，安达里三号楼二门四零一，按了求助按钮，十四点零五分，三分钟前。');
    expect(script.text).toContain('接单请按一');
    expect(script.text).not.toMatch(/[0-9]/);
    expect(script.params).toEqual(['张桂兰', '安达里三号楼二门四零一', '按了求助按钮', '十四点零五分，三分钟前']);
  });
});

describe('night window of the Tencent call cap', () => {
  it('runs from 22:00 to 08:00 local time', () => {
    expect(nightStart(shanghai(2026, 11, 26, 21, 59), 'Asia/Shanghai')).toBeNull();
    expect(nightStart(shanghai(2026, 11, 26, 22, 30, 15), 'Asia/Shanghai')).toBe(shanghai(2026, 11, 26, 22, 0));
    expect(nightStart(shanghai(2026, 11, 27, 3, 10), 'Asia/Shanghai')).toBe(shanghai(2026, 11, 26, 22, 0));
    expect(nightStart(shanghai(2026, 11, 27, 7, 59), 'Asia/Shanghai')).toBe(shanghai(2026, 11, 26, 22, 0));
    expect(nightStart(shanghai(2026, 11, 27, 8, 0), 'Asia/Shanghai')).toBeNull();
  });
});
