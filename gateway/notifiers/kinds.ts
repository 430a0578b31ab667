// Every kind of SMS the gateway sends, with the demo catalogue's text for each: the one list the catalogue, the
// checker and the senders agree on.
import type { MessageIntent, MessagePriority, TemplateCatalogue, TemplateEntry } from './intent.js';

/**
 * Demo texts, written to pass both domestic providers' template rules: no 【】 (the label stands in front only in
 * free text, where domestic providers put their sign name), each variable used once, and a word (not only a space or
 * punctuation) between two variables. `${link}` is the one place a public URL is written: `PUBLIC_URL/i`, fixed.
 */
const KINDS = {
  // Worker and duty-contact pages: the first round, and later rounds while nobody has taken the alarm.
  page_first: { label: '求助', text: '${name}家中${what} 地址${address} 时间${time} 回${ack}接单 回${pass}转他人' },
  page_repeat: { label: '求助·仍无人接', text: '${name}家中${what} 地址${address} 时间${time} 回${ack}接单 回${pass}转他人' },
  page_check_first: {
    label: '求助',
    text: '${name}家已${hours}小时无活动迹象 请上门查看 地址${address} 时间${time} 回${ack}接单 回${pass}转他人',
  },
  page_check_repeat: {
    label: '求助·仍无人接',
    text: '${name}家已${hours}小时无活动迹象 请上门查看 地址${address} 时间${time} 回${ack}接单 回${pass}转他人',
  },
  page_link: { text: '详情及导航 {PUBLIC_URL}/i 查看码${code}' },
  family_alert: { label: '紧急', text: '您的家人${name}家中${what}，时间${time}，地址${address}，社区${who}。您能去请回${ack}。' },
  family_check_alert: {
    label: '紧急',
    text: '您的家人${name}截至${time}已${hours}小时无活动迹象，地址${address}，社区${who}上门查看。您能去请回${ack}。',
  },
  family_coming: { text: '${responder}已接单，正赶往${name}家，电话${phone}。' },
  family_coming_no_phone: { text: '${responder}已接单，正赶往${name}家。' },
  page_taken: { text: '${name}的求助已由${responder}接单，您无需前往，谢谢。' },
  resolved: { text: '${name}的求助已处理完毕。' },
  reply_help: { text: '回1接单，回2转给下一位。如有疑问请联系社区值班室。' },
  reply_nothing_pending: { text: '您目前没有待处理的求助。' },
  reply_unknown_phone: { text: '您好，本号码未在社区登记，无法处理此短信。' },
  reply_declined: { text: '已转给下一位，谢谢。' },
  reply_already_answered: { text: '您已回复过这条求助，无需再回。' },
  reply_too_old: { text: '这条求助短信已过回复时限，请用短信中的链接处理，或联系社区值班室。' },
  reply_which_one: { text: '您有${count}条待处理求助，请回${action}加字母：${list}。' },
  reply_which_one_link: { text: '您有${count}条待处理求助，请用各条短信中的链接处理，或联系社区值班室。' },
  reply_unknown_code: { text: '没有找到与"${reply}"对应的待处理求助，请核对短信中的字母。' },
  reply_already_taken: { text: '此求助已由${responder}接单，谢谢。' },
  reply_acknowledged: { text: '已由您接单，请尽快前往${name}家（${address}）。' },
  digest: { label: '照护待办', text: '${name}，您有${count}项待办：${items}。详见工作台。' },
  digest_short: { label: '照护待办', text: '${name}，您有${count}项待办。详见工作台。' },
  outage: { label: '设备停线', text: '${place}共${devices}台设备${time}起离线，疑似停电或断网，请核实。恢复后另行通知。' },
  outage_closed: { label: '设备恢复', text: '${place}已恢复${back}台共${total}台，停线${minutes}分钟；仍离线${still}台已转为照护待办。' },
  outage_closed_all: { label: '设备恢复', text: '${place}已恢复${back}台共${total}台，停线${minutes}分钟。' },
  visit_reminder: { label: '探访提醒', text: '${day}探访：${list}。到达回“到”，离开回“走”，敲门无人应回“没人”。' },
  // Free text only: the volunteer's signed link to her visits page cannot ride in a template (no variable links), so
  // template providers send visit_reminder instead.
  visit_reminder_link: {
    label: '探访提醒',
    text: '${day}探访：${list}。到达回“到”，离开回“走”，敲门无人应回“没人”。 查看：${link}',
    freeTextOnly: true,
  },
  visit_missed: {
    label: '探访未签到',
    text: '志愿者${volunteer}应于${time}到${name}家（${address}），探访内容${activity}，已过${minutes}分钟未签到，请联系确认。',
  },
  visit_checked_in: { text: '已签到：${name}家 ${activity}。离开时请回“走”。' },
  visit_already_checked_in: { text: '您已在${name}家签到。离开时请回“走”。' },
  visit_checked_out: { text: '已签退，本次服务${hours}小时，积分+${points}。谢谢您！' },
  visit_not_checked_in: { text: '您还没有签到，无法签退。到达时请回“到”。' },
  visit_nothing_today: { text: '您今天没有待签到的探访。' },
  visit_help: { text: '探访短信：到达回“到”（或D），离开回“走”（或Z），敲门无人应回“没人”。' },
  visit_not_a_volunteer: { text: '您好，本号码未登记为志愿者，无法签到。如有疑问请联系社区。' },
  visit_too_early: { text: '下一次探访${time}在${name}家，开始前${minutes}分钟内可签到。' },
  visit_door_unanswered: { text: '已通知社区网格员去${name}家查看，请在门口稍候。' },
  // Kinds added later go last: the demo catalogue numbers its template ids in this order.
  sign_in_code: { label: '社区关爱', text: '您的登录验证码是 ${code}，有效期${minutes}分钟，仅可使用一次。如非本人操作，请忽略。' },
  // The worker's page for a weekly button check (a press inside a test window): never sent to the family.
  page_test: { label: '测试·按钮自检', text: '${name}家中${what} 地址${address} 时间${time} 回${ack}确认 回${pass}转他人' },
} as const satisfies Record<string, { label?: string; text: string; freeTextOnly?: boolean }>;

/** A kind of message: a key of the template catalogue. */
export type MessageKind = keyof typeof KINDS;

export const MESSAGE_KINDS = Object.keys(KINDS) as MessageKind[];

/** Kinds that only free-text providers carry; the gateway does not send them through a template provider. */
export const FREE_TEXT_ONLY_KINDS: ReadonlySet<MessageKind> = new Set(MESSAGE_KINDS.filter((k) => 'freeTextOnly' in KINDS[k]));

/** Where a fixed link's base goes in a demo text; replaced by PUBLIC_URL when the catalogue is built. */
export const PUBLIC_URL_MARK = '{PUBLIC_URL}';

/** Kinds that are pages: a person holding one unanswered is not sent it again, and a cap sends it another way. */
export const PAGE_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'page_first',
  'page_repeat',
  'page_test',
  'page_check_first',
  'page_check_repeat',
  'family_alert',
  'family_check_alert',
]);

/** Parameters that are secrets: masked in anything stored, and held in clear only by the sending process. */
export const SECRET_PARAMS: Partial<Record<MessageKind, readonly string[]>> = { sign_in_code: ['code'] };

export const SECRET_MASK = '******';

export function isMessageKind(kind: string): kind is MessageKind {
  return Object.hasOwn(KINDS, kind);
}

/** An intent of a known kind; params are strings as every provider sends them. */
export function intentOf(kind: MessageKind, params: Record<string, string | number> = {}): MessageIntent {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) out[k] = String(v);
  return { kind, params: out };
}

/** The same intent with its secret parameters masked: what is stored and shown. */
export function maskedIntent(intent: MessageIntent): MessageIntent {
  const secret = isMessageKind(intent.kind) ? SECRET_PARAMS[intent.kind] : undefined;
  if (!secret) return intent;
  const params = { ...intent.params };
  for (const name of secret) if (name in params) params[name] = SECRET_MASK;
  return { kind: intent.kind, params };
}

export function hasSecrets(intent: MessageIntent): boolean {
  return isMessageKind(intent.kind) && SECRET_PARAMS[intent.kind] !== undefined;
}

/** Alarm traffic goes first and may take other channels; the rest is routine. */
export function priorityOf(kind: MessageKind): MessagePriority {
  return PAGE_KINDS.has(kind) ||
    kind === 'page_link' ||
    kind.startsWith('family_') ||
    kind === 'page_taken' ||
    kind === 'reply_acknowledged'
    ? 'alarm'
    : 'routine';
}

/** The variables of a text, in order of appearance (`${name}`). */
export function variablesOf(text: string): string[] {
  return [...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1] ?? '');
}

/**
 * The demo catalogue: every kind, with the text to submit for approval and demo template ids (Aliyun `SMS_…`,
 * Tencent numeric ids with the text's variables as positional parameters). `publicUrl` fills the fixed link.
 */
export function defaultCatalogue(publicUrl: string): TemplateCatalogue {
  const base = publicUrl.replace(/\/+$/, '');
  const out: TemplateCatalogue = {};
  MESSAGE_KINDS.forEach((kind, i) => {
    const demo: { label?: string; text: string } = KINDS[kind];
    const text = demo.text.replace(PUBLIC_URL_MARK, base);
    const entry: TemplateEntry = { text, ...(demo.label ? { label: demo.label } : {}) };
    if (!FREE_TEXT_ONLY_KINDS.has(kind)) {
      entry.aliyun = { templateCode: `SMS_46${String(100 + i).padStart(5, '0')}` };
      entry.tencent = { templateId: String(2_460_100 + i), params: variablesOf(text) };
    }
    out[kind] = entry;
  });
  return out;
}
