// SMS texts (free text rendered from the demo catalogue): a worker's page fits one UCS-2 segment whatever the name and
// address, and says who, where, what, when.
import { describe, expect, it } from 'vitest';
import * as messages from '../../gateway/paging/messages.js';
import { UCS2_SEGMENT, isGsm7, smsLength, type PageText } from '../../gateway/paging/messages.js';
import { demoText } from '../../gateway/notifiers/catalogue.js';

const workerPage = (p: PageText): string => demoText(messages.workerPage(p));
const familyPage = (p: Parameters<typeof messages.familyPage>[0]): string => demoText(messages.familyPage(p));
const replyWhichOne = (...a: Parameters<typeof messages.replyWhichOne>): string => demoText(messages.replyWhichOne(...a));
import { normaliseReply } from '../../gateway/incidents/replies.js';
import { parseIncidentReply } from '../../gateway/paging/reply-codes.js';
import { familyMemberOf, familyPersonId } from '../../gateway/paging/pager.js';

const TZ = 'Asia/Shanghai'; // UTC+8, no DST
// 2026-11-26T06:05Z = Thursday 14:05 in Shanghai.
const AT = Date.UTC(2026, 10, 26, 6, 5);

function page(over: Partial<PageText> & { name?: string; address?: string } = {}): PageText {
  const { name = '张桂兰', address = '安达里3号楼2门401', ...rest } = over;
  return { resident: { name, address }, type: 'sos', at: AT, timeZone: TZ, step: 1, ...rest };
}

/** A lone UTF-16 surrogate: what a cut inside a character outside the BMP leaves behind. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function expectOneSegment(text: string): void {
  expect(isGsm7(text)).toBe(false);
  expect(smsLength(text)).toBeLessThanOrEqual(UCS2_SEGMENT);
  expect(text.length).toBeLessThanOrEqual(UCS2_SEGMENT); // UTF-16 units, what the phone network counts
  expect(text).not.toMatch(LONE_SURROGATE);
}

describe('workerPage', () => {
  it('names who, where, what and when, and how to answer', () => {
    expect(workerPage(page())).toBe('【求助】张桂兰家中按了求助 地址安达里3号楼2门401 时间14:05 回1接单 回2转他人');
  });

  it('says a fall is suspected, in the local time of the alarm', () => {
    // 2026-11-29T15:59Z = Sunday 23:59 in Shanghai.
    const text = workerPage(page({ type: 'fall', at: Date.UTC(2026, 10, 29, 15, 59) }));
    expect(text).toBe('【求助】张桂兰家中疑似跌倒 地址安达里3号楼2门401 时间23:59 回1接单 回2转他人');
  });

  it('says a later step is still unanswered', () => {
    const text = workerPage(page({ step: 2 }));
    expect(text).toBe('【求助·仍无人接】张桂兰家中按了求助 地址安达里3号楼2门401 时间14:05 回1接单 回2转他人');
    expect(workerPage(page({ step: 5 }))).toBe(text);
  });

  it('shortens a long address from its start, keeping the flat number at the end', () => {
    const address = `天津市河北区王串场街道安达里社区居民委员会辖区内${'某某路'.repeat(10)}3号楼2门401`;
    const text = workerPage(page({ address }));
    expectOneSegment(text);
    expect(smsLength(text)).toBe(UCS2_SEGMENT); // trimmed just enough
    expect(text).toMatch(/^【求助】张桂兰家中按了求助 地址….*3号楼2门401 时间14:05 回1接单 回2转他人$/u);
  });

  it('fits one segment with a very long name and address, still with the flat number, time and 回1', () => {
    const text = workerPage(page({ name: '欧阳'.repeat(40), address: `${'长'.repeat(200)}401`, step: 3 }));
    expectOneSegment(text);
    expect(text.startsWith('【求助·仍无人接】欧阳')).toBe(true);
    expect(text).toContain('401 时间14:05 回1接单 回2转他人');
  });

  it('fits one segment for every mix of name and address length, on every step', () => {
    for (let n = 0; n <= 50; n += 5) {
      for (let a = 0; a <= 90; a += 3) {
        for (const step of [1, 2]) {
          const address = `${'路'.repeat(a)}401`;
          const text = workerPage(page({ name: '王'.repeat(n), address, step }));
          expectOneSegment(text);
          expect(text).toContain('回1接单');
          expect(text).toContain('14:05');
          expect(text).toContain('401 时间14:05');
        }
      }
    }
  });

  it('counts characters outside the BMP as two units and never cuts one in half', () => {
    // 𠮷 (U+20BB7) is a CJK Extension B character, as found in some names: two UTF-16 units each.
    const name = '𠮷'.repeat(4);
    // Seventy code points, but seventy-four UTF-16 units: two segments unless shortened.
    const address = `${'路'.repeat(70 - 32 - [...name].length - 3)}401`;
    const text = workerPage(page({ name, address }));
    expectOneSegment(text);
    expect(text).toContain(name);
    expect(text).toContain('401 时间14:05');

    const long = workerPage(page({ name: '𠮷'.repeat(30), address: `${'𠀀'.repeat(60)}401` }));
    expectOneSegment(long);
    expect(long).toContain('401 时间14:05 回1接单');
  });

  it('leaves a page that fits as it is', () => {
    const address = '路'.repeat(70 - 32 - 3); // name 3 + fixed 32 + address 35 = exactly 70
    const text = workerPage(page({ address }));
    expect(smsLength(text)).toBe(70);
    expect(text).toContain(`地址${address} `);
  });
});

describe('pageLink', () => {
  it('gives the fixed link to the incident pages and the code that opens this one', () => {
    expect(demoText(messages.pageLink('K7Q2M9XAPB'))).toBe('详情及导航 http://localhost/i 查看码K7Q2M9XAPB');
  });
});

describe('familyPage', () => {
  it('names the resident, time, what, address and the worker paged, and asks for 回1', () => {
    const text = familyPage({ ...page({ type: 'fall' }), responderName: '李明' });
    expect(text).toBe('【紧急】您的家人张桂兰家中疑似跌倒，时间14:05，地址安达里3号楼2门401，社区已通知网格员李明。您能去请回1。');
  });

  it('names the station, not a grid worker, when the station was paged first', () => {
    const text = familyPage({ ...page({ type: 'sos' }), responderName: '安达里值班室', responderRole: 'duty_contact' });
    expect(text).toContain('已通知安达里值班室');
    expect(text).not.toContain('网格员安达里');
  });

  it('says the community is being reached when no worker could be paged', () => {
    const text = familyPage({ ...page(), responderName: null });
    expect(text).toBe('【紧急】您的家人张桂兰家中按了求助，时间14:05，地址安达里3号楼2门401，社区正在联系网格员。您能去请回1。');
  });
});

describe('isGsm7 and smsLength', () => {
  it('accepts plain ASCII and the GSM basic table', () => {
    expect(isGsm7('Reply 1 to accept, 2 to pass. @home #3 $5 100%')).toBe(true);
    expect(isGsm7('£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r')).toBe(true);
    expect(isGsm7('')).toBe(true);
  });

  it('accepts the extension table and counts its characters twice', () => {
    expect(isGsm7('[a]{b}~|^\\€')).toBe(true);
    expect(smsLength('{€}')).toBe(6);
    expect(smsLength('abc')).toBe(3);
  });

  it('rejects Chinese, emoji and the backtick, which GSM-7 lacks', () => {
    expect(isGsm7('回1')).toBe(false);
    expect(isGsm7('ok 😀')).toBe(false);
    expect(isGsm7('`')).toBe(false);
    expect(isGsm7('ç')).toBe(false); // only the capital Ç is in the table
  });

  it('counts UCS-2 text in UTF-16 units', () => {
    expect(smsLength('张桂兰')).toBe(3);
    expect(smsLength('𠮷')).toBe(2);
    expect(smsLength('😀a张')).toBe(4);
    expect(smsLength('{张}')).toBe(3); // in UCS-2 a brace is one unit like any other
  });
});

describe('family person ids (the family links)', () => {
  const son = { name: '张伟', phone: '+8613800000001', relation: '儿子' };
  const daughter = { name: '张丽', phone: '+8613800000002' };
  const incident = {
    residentId: 'r-001',
    plan: { frozenAt: 0, ackTimeoutSeconds: 180, fallCancelSeconds: 30, responders: [], family: [son, daughter] },
  };

  it('names the family member of this incident, by index', () => {
    expect(familyPersonId('r-001', 1)).toBe('family:r-001:1');
    expect(familyMemberOf(incident, familyPersonId('r-001', 0))).toEqual(son);
    expect(familyMemberOf(incident, 'family:r-001:1')).toEqual(daughter);
  });

  it("names nobody for another resident's family, an index out of range or not in canonical form, or a worker id", () => {
    for (const id of [
      'family:r-002:0',
      'family:r-001:2',
      'family:r-001:01',
      'family:r-001:1.0',
      'family:r-001:',
      'family:r-0010:0',
      'w-01',
    ]) {
      expect(familyMemberOf(incident, id)).toBeNull();
    }
  });
});

describe('reply codes in pages and replies', () => {
  it('puts the code after 1 and 2, and a page with a code still fits one segment whatever the name and address', () => {
    expect(workerPage(page({ replyCode: 'A' }))).toBe('【求助】张桂兰家中按了求助 地址安达里3号楼2门401 时间14:05 回1A接单 回2A转他人');
    for (const code of ['B', 'ZZ']) {
      const text = workerPage(page({ step: 2, replyCode: code, name: '欧阳𠮷祥如意', address: `安达里${'号'.repeat(80)}401` }));
      expectOneSegment(text);
      expect(text).toContain(`回1${code}接单 回2${code}转他人`);
      expect(text).toContain('401');
    }
    expect(familyPage({ ...page({ type: 'fall', replyCode: 'C' }), responderName: '李明' })).toMatch(/您能去请回1C。$/);
  });

  it('reads 1, 2, 1A, 2b and full-width forms, and nothing else', () => {
    expect(parseIncidentReply(normaliseReply(' 1 '))).toEqual({ action: 'ack', code: null });
    expect(parseIncidentReply(normaliseReply('2'))).toEqual({ action: 'decline', code: null });
    expect(parseIncidentReply(normaliseReply('1a'))).toEqual({ action: 'ack', code: 'A' });
    expect(parseIncidentReply(normaliseReply('２ ｂ。'))).toEqual({ action: 'decline', code: 'B' });
    for (const other of ['3', '11', '1ABC', '1 马上到', '到', 'A1', '']) expect(parseIncidentReply(normaliseReply(other))).toBeNull();
  });

  it('asks which alarm with each code and resident, or for the links when a page had no code', () => {
    expect(
      replyWhichOne('1', [
        { code: 'A', residentName: '张桂兰' },
        { code: 'B', residentName: '王淑珍' },
      ]),
    ).toBe('您有2条待处理求助，请回1加字母：1A 张桂兰，1B 王淑珍。');
    expect(
      replyWhichOne('2', [
        { code: null, residentName: '张桂兰' },
        { code: 'B', residentName: '王淑珍' },
      ]),
    ).toContain('链接');
  });
});
