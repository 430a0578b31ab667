// `#/sms`: the SMS log, every message sent and received with its status; outbox messages are marked NOT SENT in red.
import type { SmsLogEntry } from '../../../gateway/reports/sms-log.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { badge, failure, searchBox, select, table, when } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'sms.title': '短信记录',
    'sms.outbox': '短信未发出：系统处于本地发件箱模式（未配置 Twilio）。标记为“未发出”的 {n} 条短信从未离开本机，请电话联系相关人员。',
    'sms.notSent': '未发出 NOT SENT',
    'sms.out': '发出',
    'sms.in': '收到',
    'sms.time': '时间',
    'sms.direction': '方向',
    'sms.phone': '号码',
    'sms.body': '内容',
    'sms.purpose': '用途 / 处理',
    'sms.status': '状态',
    'sms.error': '错误',
    'sms.anyDirection': '收发全部',
    'sms.anyStatus': '全部状态',
  },
  en: {
    'sms.title': 'SMS log',
    'sms.outbox':
      'SMS are NOT sent: outbox mode (no Twilio credentials). The {n} messages marked NOT SENT never left this machine; phone people instead.',
    'sms.notSent': 'NOT SENT',
    'sms.out': 'sent',
    'sms.in': 'received',
    'sms.time': 'Time',
    'sms.direction': 'Direction',
    'sms.phone': 'Phone',
    'sms.body': 'Text',
    'sms.purpose': 'Purpose / handled as',
    'sms.status': 'Status',
    'sms.error': 'Error',
    'sms.anyDirection': 'Both directions',
    'sms.anyStatus': 'Any status',
  },
});

interface LogAnswer {
  outboxMode: boolean;
  notSentTotal: number;
  messages: SmsLogEntry[];
}

const STATUSES = ['queued', 'sending', 'accepted', 'sent', 'delivered', 'failed', 'undelivered', 'outbox', 'received'];

function statusCell(m: SmsLogEntry): HTMLElement {
  const status = badge(m.status, m.status);
  if (!m.notSent) return status;
  return h('span', {}, badge(t('sms.notSent'), 'notsent', 'not-sent'), ' ', status);
}

definePage({
  path: 'sms',
  title: 'sms.title',
  roles: ['admin', 'duty_officer'],
  nav: true,
  order: 45,
  render: async (el, ctx) => {
    const filter = { direction: ctx.params.get('direction') ?? '', status: ctx.params.get('status') ?? '', q: ctx.params.get('q') ?? '' };
    const alert = h('div', { class: 'outbox-alert', role: 'alert', hidden: true, 'data-testid': 'outbox-alert' });
    const body = h('div', { 'data-testid': 'sms-body' });
    const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => void load() }, t('kit.refresh'));
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('sms.title')),
        searchBox(filter.q, (q) => {
          filter.q = q;
          void load();
        }),
        select(
          [
            { value: '', label: t('sms.anyDirection') },
            { value: 'out', label: t('sms.out') },
            { value: 'in', label: t('sms.in') },
          ],
          filter.direction,
          (v) => {
            filter.direction = v;
            void load();
          },
          t('sms.direction'),
        ),
        select(
          [{ value: '', label: t('sms.anyStatus') }, ...STATUSES.map((s) => ({ value: s, label: s }))],
          filter.status,
          (v) => {
            filter.status = v;
            void load();
          },
          t('sms.status'),
        ),
        refresh,
      ),
      alert,
      body,
    );

    async function load(): Promise<void> {
      try {
        const answer = await api.get<LogAnswer>(`/api/sms/log${query({ ...filter, limit: 500 })}`);
        alert.hidden = !answer.outboxMode && answer.notSentTotal === 0;
        alert.textContent = t('sms.outbox', { n: answer.notSentTotal });
        const rows = answer.messages.map((m) => [
          h('span', { class: 'nowrap' }, when(m.at)),
          m.direction === 'out' ? `→ ${t('sms.out')}` : `← ${t('sms.in')}`,
          h('span', { class: 'nowrap' }, m.phone),
          h('div', { class: 'sms-body' }, m.body),
          m.purpose,
          statusCell(m),
          m.errorCode || m.error ? `${m.errorCode ?? ''} ${m.error ?? ''}`.trim() : '',
        ]);
        replace(
          body,
          table(
            [t('sms.time'), t('sms.direction'), t('sms.phone'), t('sms.body'), t('sms.purpose'), t('sms.status'), t('sms.error')],
            rows,
            'sms-table',
          ),
        );
        // Rows of messages that never left the machine are tinted, not only badged.
        answer.messages.forEach((m, i) => {
          if (m.notSent) body.querySelectorAll('tbody tr')[i]?.classList.add('notsent');
        });
        body.setAttribute('data-ready', '1');
      } catch (err) {
        replace(body, failure(err));
      }
    }
    await load();
  },
});
