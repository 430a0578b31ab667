// SMS texts in short, plain Chinese. A worker's first page fits one UCS-2 segment (70 characters); the link follows it.
import type { IncidentType, Resident } from '../core/types.js';
import { localTime } from './shifts.js';

export const UCS2_SEGMENT = 70;

const WHAT: Record<IncidentType, string> = {
  sos: '按了求助',
  fall: '疑似跌倒',
  door_unanswered: '敲门无人应',
  inactivity: '长时间无活动迹象',
};

/** What happened, in words; an inactivity alarm says for how many hours nobody has seen a sign of life. */
function what(p: Pick<PageText, 'type' | 'hours'>): string {
  if (p.type === 'inactivity' && p.hours !== undefined) return `已${Number(p.hours.toFixed(1))}小时无活动迹象`;
  return WHAT[p.type];
}

/** An inactivity alarm asks someone to go and look: nobody pressed anything, so there is nobody to call back. */
const GO_TO_THE_DOOR = '请上门查看';

export interface PageText {
  resident: Pick<Resident, 'name' | 'address'>;
  type: IncidentType;
  at: number;
  timeZone: string;
  /** 1 for the first round of paging; later rounds say the alarm is still unanswered. */
  step: number;
  /** `inactivity` only: the hours without a sign of life that raised the alarm. */
  hours?: number;
  /** The page's reply code ("A"): the reply `1A` names this incident even when the phone has other pages open. */
  replyCode?: string;
  /** A weekly test press: the page says 测试 first, so nobody runs to a door for a test. */
  test?: boolean;
}

/**
 * Length in the units a segment is counted in: GSM-7 septets (an extension-table character takes two), or for
 * UCS-2 text UTF-16 units, because a character outside the BMP (a rare name character, an emoji) takes two.
 */
export function smsLength(text: string): number {
  if (!isGsm7(text)) return text.length;
  return text.length + (text.match(/[\f^{}\\[\]~|€]/g)?.length ?? 0);
}

/** True when every character is in GSM 03.38 (basic or extension table); otherwise the message is UCS-2. */
export function isGsm7(text: string): boolean {
  // The backtick is the one printable ASCII character GSM-7 lacks.
  return /^[\n\r\f\x20-\x5f\x61-\x7e€£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà]*$/.test(text);
}

/** `【求助】张桂兰 安达里3号楼2门401 按了求助 14:05 回1A接单 回2A转他人` — shortened to one segment if needed. */
export function workerPage(p: PageText): string {
  const head = p.test ? '【测试·按钮自检】' : p.step > 1 ? '【求助·仍无人接】' : '【求助】';
  const action = p.type === 'inactivity' ? ` ${GO_TO_THE_DOOR}` : '';
  const code = p.replyCode ?? '';
  const tail = ` ${what(p)}${action} ${localTime(p.at, p.timeZone).hhmm} 回1${code}接单 回2${code}转他人`;
  return fitOneSegment(head, p.resident.name, p.resident.address, tail);
}

/** `详情及导航 <PUBLIC_URL>/i/<code>?<signed query>`; without a signed query the page refuses the link. */
export function pageLink(publicUrl: string, code: string, signedQuery?: string): string {
  return `详情及导航 ${publicUrl}/i/${code}${signedQuery ? `?${signedQuery}` : ''}`;
}

export function familyPage(p: PageText & { responderName: string | null; responderRole?: 'worker' | 'duty_contact' }): string {
  const who = !p.responderName ? '正在联系社区网格员' : p.responderRole === 'duty_contact' ? `已通知${p.responderName}` : `已通知网格员${p.responderName}`;
  const code = p.replyCode ?? '';
  if (p.type === 'inactivity') {
    return `【紧急】您的家人${p.resident.name}截至${localTime(p.at, p.timeZone).hhmm}${what(p)}（${p.resident.address}），${who}上门查看。您能去请回1${code}。`;
  }
  return `【紧急】您的家人${p.resident.name}${localTime(p.at, p.timeZone).hhmm}${WHAT[p.type]}（${p.resident.address}），${who}。您能去请回1${code}。`;
}

export function familyResponderComing(residentName: string, responderName: string, responderPhone: string | null): string {
  return `${responderName}已接单，正赶往${residentName}家${responderPhone ? `，电话${responderPhone}` : ''}。`;
}

export function othersTaken(residentName: string, responderName: string): string {
  return `${residentName}的求助已由${responderName}接单，您无需前往，谢谢。`;
}

export function familyResolved(residentName: string): string {
  return `${residentName}的求助已处理完毕。`;
}

export const REPLY_HELP = '回1接单，回2转给下一位。如有疑问请联系社区值班室。';
export const REPLY_NOTHING_PENDING = '您目前没有待处理的求助。';
export const REPLY_UNKNOWN_PHONE = '您好，本号码未在社区登记，无法处理此短信。';
export const REPLY_DECLINED = '已转给下一位，谢谢。';
export const REPLY_ALREADY_ANSWERED = '您已回复过这条求助，无需再回。';
export const REPLY_TOO_OLD = '这条求助短信已过回复时限，请用短信中的链接处理，或联系社区值班室。';

/** Several pages are open on this phone and a bare 1 or 2 could mean any of them: each is listed with its code. */
export function replyWhichOne(action: '1' | '2', open: { code: string | null; residentName: string }[]): string {
  const coded = open.filter((o) => o.code !== null);
  if (coded.length < open.length) return `您有${open.length}条待处理求助，请用各条短信中的链接处理，或联系社区值班室。`;
  return `您有${open.length}条待处理求助，请回${action}加字母：${coded.map((o) => `${action}${o.code ?? ''} ${o.residentName}`).join('，')}。`;
}

export function replyUnknownCode(reply: string): string {
  return `没有找到与"${reply}"对应的待处理求助，请核对短信中的字母。`;
}

export function replyAlreadyTaken(by: string): string {
  return `此求助已由${by}接单，谢谢。`;
}

export function replyAcknowledged(residentName: string, address: string): string {
  return `已由您接单，请尽快前往${residentName}家（${address}）。`;
}

/**
 * Keeps head + tail whole; a long address loses its start (the flat number at its end matters most at the door),
 * then a long name is shortened, so the text fits one UCS-2 segment.
 */
function fitOneSegment(head: string, name: string, address: string, tail: string): string {
  // Measured in UTF-16 units (what a UCS-2 segment holds) but cut at whole characters, never inside a surrogate pair.
  const n = [...name];
  const a = [...address];
  const text = () => `${head}${n.join('')} ${a.join('')}${tail}`;
  const over = () => text().length - UCS2_SEGMENT;
  if (over() > 0 && a.length > 6) {
    a.unshift('…');
    while (over() > 0 && a.length > 6) a.splice(1, 1);
  }
  while (over() > 0 && n.length > 2) n.pop();
  const chars = [...text()];
  while (chars.join('').length > UCS2_SEGMENT) chars.pop();
  return chars.join('');
}
