// Server-rendered incident page behind the SMS link: one column, large type, no scripts or outside resources, every value escaped.
import type { AuditEntry, IncidentState, IncidentType, SmsStatus } from '../../core/types.js';
import type { IncidentView, PageView } from '../../incidents/views.js';
import { escapeHtml } from './html.js';
import { geoHref, renderSiteMap, type SiteMapModel } from './incident-map.js';

/** The longest note the resolve form takes, in characters. */
export const NOTE_MAX_CHARS = 500;

export interface PageNotice {
  kind: 'info' | 'warning' | 'error';
  text: string;
}

export interface IncidentPageModel {
  incident: IncidentView;
  /** The person the link was sent to; `role` (worker, duty_contact, family) decides whether care notes are shown. */
  viewer: { personId: string; name: string; role?: string };
  /** Buildings of the resident's community for the small map; absent: no map. */
  siteMap?: SiteMapModel | null;
  /** The signed query string (without `?`), carried by the refresh link and both forms. */
  query: string;
  timeZone: string;
  /** Which URL this answer is for; links are relative to it, so the page works behind a proxy that adds a path prefix. */
  at: PageOrigin;
  notice?: PageNotice | null;
  /** Text to put back into the note box after a refused resolve, so nothing typed is lost. */
  noteDraft?: string;
}

const STATE_LABEL: Record<IncidentState, string> = {
  pending: '等待确认（可能是误报）',
  open: '等待接单',
  acknowledged: '已接单',
  resolved: '已解决',
  cancelled: '已取消',
};

const TYPE_LABEL: Record<IncidentType, string> = {
  sos: '紧急求助',
  fall: '疑似跌倒',
  door_unanswered: '敲门无人应',
  inactivity: '长时间无活动迹象',
};

const ROLE_LABEL: Record<string, string> = {
  worker: '网格员',
  duty_contact: '值班室',
  family: '家属',
  staff: '工作人员',
};

const SMS_LABEL: Record<SmsStatus, string> = {
  queued: '排队中',
  sending: '发送中',
  accepted: '已提交',
  sent: '已发出',
  delivered: '已送达',
  failed: '发送失败',
  undelivered: '未送达',
  outbox: '未发出（本地发件箱）',
};

const ACTION_LABEL: Record<string, string> = {
  created: '收到报警',
  opened: '开始通知',
  paged: '已通知',
  family_paged: '已通知家属',
  unassigned: '无人可通知',
  signal_joined: '再次报警',
  acknowledged: '接单',
  declined: '转给下一位',
  page_failed: '短信未送达',
  page_delayed: '短信迟迟发不出（服务商故障，仍在重试）',
  resolved: '已解决',
  cancelled: '已取消',
  resident_cancel_after_page: '老人按了取消（请仍确认情况）',
  on_site: '已到达',
  sign_of_life: '老人有活动迹象（仍请上门确认）',
  plan_replanned: '重新安排通知顺序',
};

const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#fff;color:#000;font:20px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:40rem;margin:0 auto;padding:16px}
h1{font-size:28px;line-height:1.3;margin:0 0 4px}
h2{font-size:22px;margin:24px 0 8px;border-bottom:2px solid #000}
p{margin:4px 0}
.addr{font-size:24px;font-weight:700}
.state{display:block;padding:12px;margin:12px 0;font-size:24px;font-weight:700;border:3px solid #000}
.state-open,.state-pending{background:#ffe600}
.state-acknowledged{background:#cfe8ff}
.state-resolved,.state-cancelled{background:#e6e6e6}
.notice{padding:12px;margin:12px 0;border:3px solid #000;font-weight:700}
.notice-error{background:#ffd6d6;border-color:#a00000}
.notice-warning{background:#fff1b8}
.notice-info{background:#d9f2d9}
ul{list-style:none;margin:0;padding:0}
li{padding:8px 0;border-bottom:1px solid #555}
.muted{color:#333}
form{margin:16px 0}
button{display:block;width:100%;min-height:64px;margin:8px 0;font:inherit;font-size:26px;font-weight:700;color:#fff;border:0;border-radius:8px}
.ack{background:#0040a0}
.onsite{background:#8a4b00}
.sitemap{display:block;width:100%;height:auto;margin:8px 0}
.card dt{font-weight:700;margin-top:6px}
.card dd{margin:0}
main{overflow-wrap:anywhere}
.resolve{background:#006400}
label{display:block;font-weight:700;margin-top:8px}
textarea{display:block;width:100%;min-height:6em;font:inherit;padding:8px;border:2px solid #000;border-radius:4px}
a{color:#0040a0}
.refresh{display:block;text-align:center;padding:12px;font-size:22px}
`;

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** "11月26日 10:05" in the gateway's zone (config TZ), whatever zone the phone or server is in. */
export function formatLocal(ms: number, timeZone: string): string {
  let f = dateTimeFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('zh-CN', {
      timeZone,
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    dateTimeFormats.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) parts[part.type] = part.value;
  return `${parts.month ?? ''}月${parts.day ?? ''}日 ${parts.hour ?? ''}:${parts.minute ?? ''}`;
}

export function renderIncidentPage(m: IncidentPageModel): string {
  const i = m.incident;
  const name = i.residentName ?? '（未登记的老人）';
  const body = [
    `<h1>${escapeHtml(name)}</h1>`,
    `<p class="addr">${escapeHtml(i.address ?? '（地址未登记）')}</p>`,
    `<p>${escapeHtml(TYPE_LABEL[i.type])} · ${escapeHtml(formatLocal(i.openedAt, m.timeZone))}</p>`,
    `<p class="state state-${i.state}">${escapeHtml(stateLine(i, m.timeZone))}</p>`,
    m.notice ? `<p class="notice notice-${m.notice.kind}" role="alert">${escapeHtml(m.notice.text)}</p>` : '',
    actions(m),
    section('老人信息', residentDetails(m)),
    m.siteMap ? section('位置', siteMapBlock(m.siteMap)) : '',
    section('已通知', pagesList(i.pages, m.timeZone)),
    section('处理记录', timelineList(i.timeline ?? [], m.timeZone)),
    `<a class="refresh" href="${escapeHtml(pageHrefs(i.code, m.query, m.at).page)}">刷新</a>`,
  ];
  return layout(`${TYPE_LABEL[i.type]} ${name}`, body.join('\n'));
}

/** A page with a title and one message and nothing else: for refused links, so it never carries personal data. */
export function renderMessagePage(p: { title: string; message: string }): string {
  return layout(p.title, `<h1>${escapeHtml(p.title)}</h1>\n<p>${escapeHtml(p.message)}</p>`);
}

/** The page itself (`…/i/<code>`) or one of its form posts (`…/i/<code>/ack`, `…/resolve`). */
export type PageOrigin = 'page' | 'action';

export interface PageHrefs {
  page: string;
  ack: string;
  onsite: string;
  resolve: string;
}

/**
 * Relative links to the page and its two actions, from the URL being answered. Relative, because PUBLIC_URL may carry
 * a path prefix that a proxy strips before the request reaches us; `./` keeps a code from ever reading as a scheme.
 */
export function pageHrefs(code: string, query: string, at: PageOrigin): PageHrefs {
  const q = query ? `?${query}` : '';
  const c = encodeURIComponent(code);
  return at === 'page'
    ? { page: `./${c}${q}`, ack: `./${c}/ack${q}`, onsite: `./${c}/onsite${q}`, resolve: `./${c}/resolve${q}` }
    : { page: `../${c}${q}`, ack: `./ack${q}`, onsite: `./onsite${q}`, resolve: `./resolve${q}` };
}

/** Who took the incident, in the words on the page and in the refusal of a second acknowledgement. */
export function takenBy(i: Pick<IncidentView, 'acknowledgedBy'>): string {
  return i.acknowledgedBy ? `已由${i.acknowledgedBy.name}接单` : '已有人接单';
}

function stateLine(i: IncidentView, timeZone: string): string {
  switch (i.state) {
    case 'acknowledged':
      if (i.onSiteAt) return `${i.onSiteBy?.name ?? ''}已到达（${formatLocal(i.onSiteAt, timeZone)}）`;
      return `${takenBy(i)}${i.acknowledgedAt === null ? '' : `（${formatLocal(i.acknowledgedAt, timeZone)}）`}`;
    case 'resolved':
      return `已解决${i.resolvedAt === null ? '' : `（${formatLocal(i.resolvedAt, timeZone)}）`}`;
    case 'pending':
    case 'open':
    case 'cancelled':
      return STATE_LABEL[i.state];
  }
}

function actions(m: IncidentPageModel): string {
  const i = m.incident;
  if (i.state === 'resolved' || i.state === 'cancelled') return '<p class="muted">此求助已结束，无需操作。</p>';
  const ackByViewer = i.state === 'acknowledged' && i.acknowledgedBy?.id === m.viewer.personId;
  const parts: string[] = [];
  if (i.state === 'open' || i.state === 'pending') {
    parts.push(
      `<form method="post" action="${escapeHtml(pageHrefs(i.code, m.query, m.at).ack)}">`,
      '<input type="hidden" name="confirm" value="1">',
      '<button class="ack" type="submit">我去处理</button>',
      '</form>',
    );
  } else if (ackByViewer && !i.onSiteAt) {
    parts.push('<p class="notice notice-info">您已接单，请尽快前往。到达后点“已到达”，处理完毕后点“已解决”。</p>');
  }
  // Between "我去处理" and "已解决": arriving also takes an incident nobody has taken yet.
  if (!i.onSiteAt) {
    parts.push(
      `<form method="post" action="${escapeHtml(pageHrefs(i.code, m.query, m.at).onsite)}">`,
      '<input type="hidden" name="confirm" value="1">',
      '<button class="onsite" type="submit">已到达</button>',
      '</form>',
    );
  }
  parts.push(
    `<form method="post" action="${escapeHtml(pageHrefs(i.code, m.query, m.at).resolve)}">`,
    `<label for="note">处理情况（可不填，最多${NOTE_MAX_CHARS}字）</label>`,
    `<textarea id="note" name="note" maxlength="${NOTE_MAX_CHARS}" rows="4">${escapeHtml(m.noteDraft ?? '')}</textarea>`,
    '<button class="resolve" type="submit">已解决</button>',
    '</form>',
  );
  return parts.join('\n');
}

function pagesList(pages: PageView[], timeZone: string): string {
  if (pages.length === 0) return '<p class="muted">尚未通知任何人。</p>';
  const items = [...pages]
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((p) => {
      const who = `${p.name ?? '未知'}（${ROLE_LABEL[p.role] ?? p.role}）`;
      const status = SMS_LABEL[p.status as SmsStatus] ?? p.status;
      return `<li>${escapeHtml(who)} <a href="tel:${escapeHtml(p.to)}">${escapeHtml(p.to)}</a><br><span class="muted">${escapeHtml(
        `${formatLocal(p.createdAt, timeZone)} 短信${status}`,
      )}</span></li>`;
    });
  return `<ul>${items.join('')}</ul>`;
}

function timelineList(entries: AuditEntry[], timeZone: string): string {
  if (entries.length === 0) return '<p class="muted">暂无记录。</p>';
  const items = [...entries]
    .sort((a, b) => a.at - b.at || a.id - b.id)
    .map((e) => {
      const note = stringField(e.detail, 'note');
      const lines = [`${formatLocal(e.at, timeZone)} ${ACTION_LABEL[e.action] ?? e.action}${whoOf(e)}`];
      if (note && e.action !== 'resident_cancel_after_page') lines.push(`备注：${note}`);
      return `<li>${lines.map(escapeHtml).join('<br>')}</li>`;
    });
  return `<ul>${items.join('')}</ul>`;
}

/** The person behind an entry; devices and the system need no name on a phone screen. */
function whoOf(e: AuditEntry): string {
  if (e.action === 'paged') {
    const responder = e.detail?.responder;
    const name = typeof responder === 'object' && responder !== null && 'name' in responder ? responder.name : null;
    return typeof name === 'string' ? ` ${name}` : '';
  }
  const role = stringField(e.detail, 'role');
  const by = stringField(e.detail, 'by');
  if (!by || e.channel === 'device' || e.channel === 'system') return '';
  return ` ${by}${role && ROLE_LABEL[role] && role !== 'staff' ? `（${ROLE_LABEL[role]}）` : ''}`;
}

function stringField(detail: Record<string, unknown> | null, key: string): string | null {
  const v = detail?.[key];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Care notes go to the workers and the station, not to the family's phones (the link is forwarded easily). */
const NOTES_ROLES = ['worker', 'duty_contact', 'staff'];

function residentDetails(m: IncidentPageModel): string {
  const card = m.incident.residentCard;
  if (!card) return '<p class="muted">此老人已不在登记名单中。</p>';
  const rows: [string, string][] = [];
  if (card.building) rows.push(['楼栋', card.building]);
  if (card.communityName) rows.push(['社区', card.communityName]);
  if (card.keyHolder) rows.push(['备用钥匙', card.keyHolder]);
  if (card.family.length > 0) rows.push(['家属', card.family.map((f) => (f.relation ? `${f.name}（${f.relation}）` : f.name)).join('、')]);
  if (card.notes && NOTES_ROLES.includes(m.viewer.role ?? 'worker')) rows.push(['注意事项', card.notes]);
  if (rows.length === 0) return '<p class="muted">没有更多登记信息。</p>';
  return `<dl class="card">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function siteMapBlock(map: SiteMapModel): string {
  const svg = renderSiteMap(map);
  const open = map.home ? `<a class="refresh maplink" href="${escapeHtml(geoHref(map.home))}">在手机地图中打开</a>` : '';
  return svg + open;
}

function section(title: string, content: string): string {
  return `<h2>${escapeHtml(title)}</h2>\n${content}`;
}

function layout(title: string, content: string): string {
  return [
    '<!doctype html>',
    '<html lang="zh-CN">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<main>\n${content}\n</main>`,
    '</body>',
    '</html>',
  ].join('\n');
}
