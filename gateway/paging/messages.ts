// Paging SMS as intents (kind and named parameters) for the template catalogue; texts in short, plain Chinese. A
// worker's page fits one UCS-2 segment (70 characters) in free text; the link follows it.
import type { IncidentType, MessageIntent, Resident } from '../core/types.js';
import { intentOf } from '../notifiers/kinds.js';
import { localTime } from './shifts.js';

export const UCS2_SEGMENT = 70;

const WHAT: Record<IncidentType, string> = {
  sos: '按了求助',
  fall: '疑似跌倒',
  door_unanswered: '敲门无人应',
  inactivity: '长时间无活动迹象',
};

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

/**
 * The worker's page: `【求助】张桂兰家中按了求助 地址安达里3号楼2门401 时间14:05 回1A接单 回2A转他人` in free text,
 * shortened to one segment by its address and name (gateway/notifiers/catalogue.ts).
 */
export function workerPage(p: PageText): MessageIntent {
  const repeat = p.step > 1;
  const code = p.replyCode ?? '';
  const common = {
    name: p.resident.name,
    address: p.resident.address,
    time: localTime(p.at, p.timeZone).hhmm,
    ack: `1${code}`,
    pass: `2${code}`,
  };
  // A weekly button check: clearly a test, so nobody mistakes it for (or gets used to ignoring) a real alarm.
  if (p.test) return intentOf('page_test', { ...common, what: WHAT[p.type] });
  if (p.type === 'inactivity' && p.hours !== undefined)
    return intentOf(repeat ? 'page_check_repeat' : 'page_check_first', { ...common, hours: hoursText(p.hours) });
  return intentOf(repeat ? 'page_repeat' : 'page_first', { ...common, what: WHAT[p.type] });
}

/**
 * `详情及导航 <PUBLIC_URL>/i 查看码<code>`: the link is fixed (Tencent refuses variable links); the code opens this
 * person's signed link to the incident page.
 */
export function pageLink(code: string): MessageIntent {
  return intentOf('page_link', { code });
}

export function familyPage(p: PageText & { responderName: string | null; responderRole?: 'worker' | 'duty_contact' }): MessageIntent {
  const who = !p.responderName
    ? '正在联系网格员'
    : p.responderRole === 'duty_contact'
      ? `已通知${p.responderName}`
      : `已通知网格员${p.responderName}`;
  const common = {
    name: p.resident.name,
    address: p.resident.address,
    time: localTime(p.at, p.timeZone).hhmm,
    who,
    ack: `1${p.replyCode ?? ''}`,
  };
  if (p.type === 'inactivity' && p.hours !== undefined) return intentOf('family_check_alert', { ...common, hours: hoursText(p.hours) });
  return intentOf('family_alert', { ...common, what: WHAT[p.type] });
}

export function familyResponderComing(residentName: string, responderName: string, responderPhone: string | null): MessageIntent {
  return responderPhone
    ? intentOf('family_coming', { responder: responderName, name: residentName, phone: responderPhone })
    : intentOf('family_coming_no_phone', { responder: responderName, name: residentName });
}

export function othersTaken(residentName: string, responderName: string): MessageIntent {
  return intentOf('page_taken', { name: residentName, responder: responderName });
}

export function familyResolved(residentName: string): MessageIntent {
  return intentOf('resolved', { name: residentName });
}

export const REPLY_HELP = intentOf('reply_help');
export const REPLY_NOTHING_PENDING = intentOf('reply_nothing_pending');
export const REPLY_UNKNOWN_PHONE = intentOf('reply_unknown_phone');
export const REPLY_DECLINED = intentOf('reply_declined');
export const REPLY_ALREADY_ANSWERED = intentOf('reply_already_answered');
export const REPLY_TOO_OLD = intentOf('reply_too_old');

/** Several pages are open on this phone and a bare 1 or 2 could mean any of them: each is listed with its code. */
export function replyWhichOne(action: '1' | '2', open: { code: string | null; residentName: string }[]): MessageIntent {
  const coded = open.filter((o) => o.code !== null);
  if (coded.length < open.length) return intentOf('reply_which_one_link', { count: open.length });
  return intentOf('reply_which_one', {
    count: open.length,
    action,
    list: coded.map((o) => `${action}${o.code ?? ''} ${o.residentName}`).join('，'),
  });
}

export function replyUnknownCode(reply: string): MessageIntent {
  return intentOf('reply_unknown_code', { reply });
}

export function replyAlreadyTaken(by: string): MessageIntent {
  return intentOf('reply_already_taken', { responder: by });
}

export function replyAcknowledged(residentName: string, address: string): MessageIntent {
  return intentOf('reply_acknowledged', { name: residentName, address });
}

/** 4 → "4", 12.25 → "12.3". */
function hoursText(hours: number): string {
  return String(Number(hours.toFixed(1)));
}
