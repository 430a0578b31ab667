// One incident on the duty board: timer, resident card, who was paged with SMS status, escalation step, and the actions.
import type { IncidentView, PageView } from '../../../gateway/incidents/views.js';
import { h, type Child } from '../dom.js';
import { addMessages, formatTime, t } from '../i18n.js';
import { elapsed, roleLabel, smsLabel, stateLabel, typeLabel } from './incident-labels.js';

addMessages({
  zh: {
    'board.card.test': '测试',
    'board.card.testHint': '按钮自检：只通知网格员，不通知家属，不计入统计',
    'board.card.resident': '老人',
    'board.card.building': '楼栋',
    'board.card.community': '社区',
    'board.card.family': '家属',
    'board.card.notes': '注意事项',
    'board.card.keyHolder': '备用钥匙',
    'board.card.paged': '已通知',
    'board.card.noPages': '尚未通知任何人',
    'board.card.step': '第 {step} 步，共 {total} 位可通知',
    'board.card.nextStep': '{time} 通知下一位：{name}',
    'board.card.in': '，还有 ',
    'board.card.takenBy': '{name} 已接单（{time}）',
    'board.card.onSiteBy': '{name} 已到达（{time}）',
    'board.card.ack': '接单',
    'board.card.onsite': '已到达',
    'board.card.resolve': '已解决',
    'board.card.note': '处理情况（可不填）',
    'board.card.code': '编号 {code}',
    'board.card.signals': '共按 {n} 次',
    'board.card.retrying': '重试中（第 {n} 次）',
    'board.card.familyFailed': '家属 {name} 没有收到通知，请电话联系 {phone}',
    'board.card.familyRetrying': '家属 {name} 的通知仍未发出（短信服务故障，正在重试），可电话联系 {phone}',
    'board.card.pagesRetrying': '{n} 条通知仍未发出：短信服务故障，正在重试',
    'board.call.queued': '📞 准备呼叫',
    'board.call.placing': '📞 呼叫中',
    'board.call.ringing': '📞 振铃中',
    'board.call.in_progress': '📞 通话中',
    'board.call.acknowledged': '📞 按1接单',
    'board.call.declined': '📞 按2转他人',
    'board.call.answered_no_key': '📞 接听未按键',
    'board.call.busy': '📞 占线',
    'board.call.no_answer': '📞 无人接听',
    'board.call.failed': '📞 呼叫失败',
    'board.call.capped': '📞 超出呼叫限额，未呼叫',
    'board.call.not_needed': '📞 已由他人接单',
  },
  en: {
    'board.card.test': 'TEST',
    'board.card.testHint': 'Button check: the worker only, never the family, not in the statistics',
    'board.card.resident': 'Resident',
    'board.card.building': 'Building',
    'board.card.community': 'Community',
    'board.card.family': 'Family',
    'board.card.notes': 'Notes',
    'board.card.keyHolder': 'Spare key',
    'board.card.paged': 'Paged',
    'board.card.noPages': 'Nobody paged yet',
    'board.card.step': 'Step {step} of {total} responders',
    'board.card.nextStep': 'Next page at {time}: {name}',
    'board.card.in': ', in ',
    'board.card.takenBy': 'Taken by {name} ({time})',
    'board.card.onSiteBy': '{name} on site ({time})',
    'board.card.ack': 'Acknowledge',
    'board.card.onsite': 'On site',
    'board.card.resolve': 'Resolve',
    'board.card.note': 'What was done (optional)',
    'board.card.code': 'Code {code}',
    'board.card.signals': '{n} presses',
    'board.card.retrying': 'retrying (try {n})',
    'board.card.familyFailed': 'Family member {name} was NOT reached: phone {phone}',
    'board.card.familyRetrying': 'Family member {name} not reached yet (SMS provider trouble, retrying): phone {phone}',
    'board.card.pagesRetrying': '{n} pages not sent yet: SMS provider trouble, retrying',
    'board.call.queued': '📞 call queued',
    'board.call.placing': '📞 calling',
    'board.call.ringing': '📞 ringing',
    'board.call.in_progress': '📞 on the call',
    'board.call.acknowledged': '📞 pressed 1: taken',
    'board.call.declined': '📞 pressed 2: passed on',
    'board.call.answered_no_key': '📞 answered, no key',
    'board.call.busy': '📞 busy',
    'board.call.no_answer': '📞 no answer',
    'board.call.failed': '📞 call failed',
    'board.call.capped': '📞 over the provider cap, not called',
    'board.call.not_needed': '📞 taken by someone else',
  },
});

export interface CardActions {
  ack(id: string): void;
  onsite(id: string): void;
  resolve(id: string, note: string): void;
}

export interface CardOptions {
  actions: CardActions;
  /** Note drafts by incident id: a live update re-renders the card without losing what was typed. */
  drafts: Map<string, string>;
  /** Last action error by incident id, shown on the card until the next action. */
  errors: Map<string, string>;
  busy: Set<string>;
}

/** Which kind of card: decides colour and position on the board. */
export function urgency(i: IncidentView): 'unassigned' | 'open' | 'pending' | 'acknowledged' | 'closed' {
  if (i.state === 'resolved' || i.state === 'cancelled') return 'closed';
  if (i.unassigned && i.state !== 'acknowledged') return 'unassigned';
  return i.state;
}

const ORDER = { unassigned: 0, open: 1, pending: 2, acknowledged: 3, closed: 4 } as const;

/** Most urgent first: unassigned, then open (oldest first), then pending, then acknowledged. */
export function byUrgency(a: IncidentView, b: IncidentView): number {
  return ORDER[urgency(a)] - ORDER[urgency(b)] || a.openedAt - b.openedAt || (a.id < b.id ? -1 : 1);
}

function row(label: string, value: Child): HTMLElement {
  return h('div', { class: 'kv' }, h('span', { class: 'k' }, label), h('span', { class: 'v' }, value));
}

function pagesTable(pages: PageView[]): HTMLElement {
  if (pages.length === 0) return h('p', { class: 'muted' }, t('board.card.noPages'));
  const sorted = [...pages].sort((a, b) => a.createdAt - b.createdAt);
  return h(
    'table',
    { class: 'pages' },
    h(
      'tbody',
      {},
      ...sorted.map((p) =>
        h(
          'tr',
          { 'data-status': p.status },
          h('td', {}, p.name ?? p.to, h('span', { class: 'muted' }, ` ${roleLabel(p.role)}`)),
          h('td', {}, formatTime(p.createdAt)),
          p.purpose === 'call'
            ? h(
                'td',
                { class: `call call-${p.status}`, ...(isCallTrouble(p) ? { 'data-trouble': 'failed' } : {}) },
                t(`board.call.${p.status}`),
              )
            : p.retrying
              ? h('td', { class: 'sms sms-retrying', 'data-trouble': 'retrying' }, t('board.card.retrying', { n: p.attempts + 1 }))
              : h('td', { class: `sms sms-${p.status}`, ...(isFailed(p) ? { 'data-trouble': 'failed' } : {}) }, smsLabel(p.status)),
        ),
      ),
    ),
  );
}

/** A call that did not reach its person: the next responder was paged in its place, and the board says so. */
function isCallTrouble(p: PageView): boolean {
  return p.status === 'failed' || p.status === 'capped';
}

function isFailed(p: PageView): boolean {
  return p.status === 'failed' || p.status === 'undelivered';
}

/**
 * Pages that did not reach their person, above the table where nobody can miss them: a family member whose page failed
 * (or still waits on a provider outage) has nobody else paged in their place, so the duty officer phones them.
 */
function pageTrouble(i: IncidentView): HTMLElement | null {
  if (i.state === 'resolved' || i.state === 'cancelled') return null;
  const lines: HTMLElement[] = [];
  for (const p of i.pages) {
    if (p.role !== 'family' || !(isFailed(p) || p.retrying)) continue;
    const key = p.retrying ? 'board.card.familyRetrying' : 'board.card.familyFailed';
    lines.push(h('p', { class: 'notice error', role: 'alert', 'data-page-trouble': p.id }, t(key, { name: p.name ?? p.to, phone: p.to })));
  }
  const retrying = i.pages.filter((p) => p.retrying && p.role !== 'family').length;
  if (retrying > 0) lines.push(h('p', { class: 'notice warning', role: 'status' }, t('board.card.pagesRetrying', { n: retrying })));
  return lines.length > 0 ? h('div', { class: 'page-trouble' }, ...lines) : null;
}

function escalation(i: IncidentView): HTMLElement | null {
  if (i.state !== 'open' && i.state !== 'pending') return null;
  const total = i.plan.responders.length;
  const lines: Child[] = [h('div', {}, t('board.card.step', { step: i.step, total }))];
  if (i.nextStepAt !== null && total > 0) {
    // After the last responder the plan starts again from the top (gateway/escalation).
    const next = i.plan.responders[i.step % total];
    lines.push(
      h(
        'div',
        { class: 'next-step' },
        t('board.card.nextStep', { time: formatTime(i.nextStepAt), name: next ? `${next.name} ${roleLabel(next.role)}` : '—' }),
        t('board.card.in'),
        h('span', { class: 'countdown', 'data-until': i.nextStepAt }, elapsed(i.nextStepAt - Date.now())),
      ),
    );
  }
  return h('div', { class: 'escalation' }, ...lines);
}

function residentBlock(i: IncidentView): HTMLElement {
  const card = i.residentCard;
  const rows: HTMLElement[] = [];
  if (card?.building) rows.push(row(t('board.card.building'), card.building));
  if (card?.communityName ?? card?.community) rows.push(row(t('board.card.community'), card?.communityName ?? card?.community ?? ''));
  if (card && card.family.length > 0)
    rows.push(row(t('board.card.family'), card.family.map((f) => (f.relation ? `${f.name}（${f.relation}）` : f.name)).join('、')));
  if (card?.keyHolder) rows.push(row(t('board.card.keyHolder'), card.keyHolder));
  if (card?.notes) rows.push(row(t('board.card.notes'), h('span', { class: 'notes', 'data-testid': 'resident-notes' }, card.notes)));
  return h('div', { class: 'resident' }, h('div', { class: 'address' }, i.address ?? card?.address ?? '—'), ...rows);
}

function actionsBlock(i: IncidentView, opts: CardOptions): HTMLElement {
  const busy = opts.busy.has(i.id);
  const buttons: HTMLElement[] = [];
  if (i.state === 'open' || i.state === 'pending') {
    buttons.push(
      h(
        'button',
        { type: 'button', class: 'ack', 'data-action': 'ack', disabled: busy, onclick: () => opts.actions.ack(i.id) },
        t('board.card.ack'),
      ),
    );
  }
  if (i.state === 'acknowledged' && !i.onSiteAt) {
    buttons.push(
      h(
        'button',
        { type: 'button', class: 'onsite', 'data-action': 'onsite', disabled: busy, onclick: () => opts.actions.onsite(i.id) },
        t('board.card.onsite'),
      ),
    );
  }
  const note = h('textarea', {
    rows: 2,
    maxlength: 2000,
    'aria-label': t('board.card.note'),
    placeholder: t('board.card.note'),
    'data-field': 'note',
  });
  note.value = opts.drafts.get(i.id) ?? '';
  note.addEventListener('input', () => opts.drafts.set(i.id, note.value));
  const resolve = h(
    'button',
    { type: 'button', class: 'resolve', 'data-action': 'resolve', disabled: busy, onclick: () => opts.actions.resolve(i.id, note.value) },
    t('board.card.resolve'),
  );
  const error = opts.errors.get(i.id);
  return h(
    'div',
    { class: 'actions' },
    h('div', { class: 'row' }, ...buttons),
    h('div', { class: 'resolve-row' }, note, resolve),
    error ? h('p', { class: 'notice error', role: 'alert' }, error) : null,
  );
}

export function incidentCard(i: IncidentView, opts: CardOptions): HTMLElement {
  const kind = urgency(i);
  const status: Child[] = [
    h('span', { class: `badge badge-${kind}` }, kind === 'unassigned' ? stateLabel('unassigned') : stateLabel(i.state)),
  ];
  // A weekly test press goes the whole way through the board, marked so nobody takes it for an alarm.
  if (i.test === true)
    status.unshift(
      h('span', { class: 'badge badge-test', 'data-testid': 'incident-test', title: t('board.card.testHint') }, t('board.card.test')),
    );
  if (i.acknowledgedBy && i.acknowledgedAt)
    status.push(
      h('span', { class: 'taken' }, t('board.card.takenBy', { name: i.acknowledgedBy.name, time: formatTime(i.acknowledgedAt) })),
    );
  if (i.onSiteAt)
    status.push(
      h('span', { class: 'taken onsite-at' }, t('board.card.onSiteBy', { name: i.onSiteBy?.name ?? '', time: formatTime(i.onSiteAt) })),
    );
  return h(
    'article',
    {
      class: `incident incident-${kind}${i.test === true ? ' incident-test' : ''}`,
      'data-incident': i.id,
      'data-state': i.state,
      'aria-label': `${typeLabel(i.type)} ${i.residentName ?? ''}`,
    },
    h(
      'header',
      { class: 'incident-head' },
      h(
        'span',
        { class: 'timer', 'data-since': i.openedAt, title: formatTime(i.openedAt, { date: true }) },
        elapsed(Date.now() - i.openedAt),
      ),
      h('strong', { class: 'type' }, typeLabel(i.type)),
      h('span', { class: 'name' }, i.residentName ?? i.resident),
      ...status,
      h(
        'span',
        { class: 'muted code' },
        t('board.card.code', { code: i.code }),
        i.signalCount > 1 ? ` · ${t('board.card.signals', { n: i.signalCount })}` : '',
      ),
    ),
    h(
      'div',
      { class: 'incident-body' },
      residentBlock(i),
      h('div', { class: 'paging' }, h('h4', {}, t('board.card.paged')), pageTrouble(i), pagesTable(i.pages), escalation(i)),
    ),
    actionsBlock(i, opts),
  );
}
