// `#/roster`: who is on duty now, the station duty phones, and each day's shifts of a week (GET /api/roster).
import type { Roster } from '../../../gateway/reports/roster.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { addDays, dayLabel, failure, monday, table, today } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'roster.title': '值班表',
    'roster.now': '现在在岗',
    'roster.nobody': '现在没有任何网格员在岗！求助将先呼叫社区值班电话。',
    'roster.contacts': '社区值班电话',
    'roster.never': '没有班次（只在最后一轮呼叫）',
    'roster.week': '本周班次',
    'roster.day': '日期',
    'roster.shifts': '班次',
    'roster.prev': '上一周',
    'roster.next': '下一周',
    'roster.overnight': '（次日）',
    'roster.allDay': '全天',
  },
  en: {
    'roster.title': 'Duty roster',
    'roster.now': 'On duty now',
    'roster.nobody': 'No grid worker is on duty now! Alarms page the community duty phones first.',
    'roster.contacts': 'Community duty phones',
    'roster.never': 'No shifts (paged only in the last round)',
    'roster.week': 'Shifts this week',
    'roster.day': 'Day',
    'roster.shifts': 'Shifts',
    'roster.prev': 'Previous week',
    'roster.next': 'Next week',
    'roster.overnight': ' (next day)',
    'roster.allDay': 'all day',
  },
});

function span(s: { from: string; to: string; overnight: boolean }): string {
  if (s.from === s.to) return t('roster.allDay');
  return `${s.from}–${s.to}${s.overnight ? t('roster.overnight') : ''}`;
}

definePage({
  path: 'roster',
  title: 'roster.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 65,
  render: async (el, ctx) => {
    let from = monday(ctx.params.get('from') ?? today());
    const body = h('div', { 'data-testid': 'roster-body' });
    const label = h('strong', {});
    const move = (days: number) => {
      from = addDays(from, days);
      void load();
    };
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('roster.title')),
        h('button', { type: 'button', class: 'secondary', onclick: () => move(-7) }, t('roster.prev')),
        label,
        h('button', { type: 'button', class: 'secondary', onclick: () => move(7) }, t('roster.next')),
      ),
      body,
    );

    async function load(): Promise<void> {
      label.textContent = `${from} – ${addDays(from, 6)}`;
      try {
        const r = await api.get<Roster>(`/api/roster${query({ from })}`);
        const now = r.onDutyNow.length
          ? h(
              'ul',
              { class: 'roster-now', 'data-testid': 'on-duty-now' },
              ...r.onDutyNow.map((w) => h('li', {}, h('strong', {}, w.name), ` ${w.phone} · ${w.community}`)),
            )
          : h('p', { class: 'notice error', role: 'alert', 'data-testid': 'on-duty-now' }, t('roster.nobody'));
        const days = r.week.map((d) => [
          h('span', { class: d.date === today() ? 'nowrap badge badge-scheduled' : 'nowrap' }, dayLabel(d.date)),
          h('div', {}, ...d.shifts.map((s) => h('div', {}, h('strong', {}, s.name), ` ${span(s)}`))),
        ]);
        replace(
          body,
          h('section', { class: 'panel' }, h('h2', {}, t('roster.now')), now),
          r.dutyContacts.length
            ? h(
                'section',
                { class: 'panel' },
                h('h2', {}, t('roster.contacts')),
                h('ul', {}, ...r.dutyContacts.flatMap((c) => c.contacts.map((p) => h('li', {}, `${p.name} ${p.phone} · ${c.community}`)))),
              )
            : null,
          h('h2', {}, t('roster.week')),
          table([t('roster.day'), t('roster.shifts')], days, 'roster-week'),
          r.neverOnDuty.length ? h('p', { class: 'muted' }, `${t('roster.never')}: ${r.neverOnDuty.map((w) => w.name).join('、')}`) : null,
        );
        body.setAttribute('data-ready', from);
      } catch (err) {
        replace(body, failure(err));
      }
    }
    await load();
  },
});
