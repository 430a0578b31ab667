// `#/visits` (coordinators): a week calendar of volunteer visit occurrences with their check-in status.
import type { OccurrenceView } from '../../../gateway/visits/types.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { addDays, badge, clock, dayLabel, failure, monday, today } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'visits.title': '探访日历',
    'visits.prev': '上一周',
    'visits.next': '下一周',
    'visits.today': '本周',
    'visits.none': '无探访',
    'visits.summary': '本周 {total} 次：完成 {done}，进行中 {checked_in}，未到 {missed}，已取消 {cancelled}，待进行 {scheduled}',
    'visit.scheduled': '待进行',
    'visit.checked_in': '已签到',
    'visit.done': '已完成',
    'visit.missed': '未到',
    'visit.cancelled': '已取消',
    'visits.in': '签到 {time}',
  },
  en: {
    'visits.title': 'Visit calendar',
    'visits.prev': 'Previous week',
    'visits.next': 'Next week',
    'visits.today': 'This week',
    'visits.none': 'no visits',
    'visits.summary': '{total} this week: {done} done, {checked_in} under way, {missed} missed, {cancelled} cancelled, {scheduled} to come',
    'visit.scheduled': 'scheduled',
    'visit.checked_in': 'checked in',
    'visit.done': 'done',
    'visit.missed': 'missed',
    'visit.cancelled': 'cancelled',
    'visits.in': 'in {time}',
  },
});

const STATUSES = ['scheduled', 'checked_in', 'done', 'missed', 'cancelled'] as const;

definePage({
  path: 'visits',
  title: 'visits.title',
  roles: ['admin', 'duty_officer'],
  nav: true,
  order: 70,
  render: async (el, ctx) => {
    let from = monday(ctx.params.get('from') ?? today());
    const [volunteers, residents] = await Promise.all([
      api.get<{ id: string; name: string }[]>('/api/volunteers'),
      api.get<{ id: string; name: string; address: string }[]>('/api/residents'),
    ]);
    const volunteerName = new Map(volunteers.map((v) => [v.id, v.name]));
    const resident = new Map(residents.map((r) => [r.id, r]));
    const label = h('strong', {});
    const summary = h('p', { class: 'muted', 'data-testid': 'visits-summary' });
    const body = h('div', { 'data-testid': 'visits-body' });
    const go = (next: string) => {
      from = next;
      void load();
    };
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('visits.title')),
        h('button', { type: 'button', class: 'secondary', onclick: () => go(addDays(from, -7)) }, t('visits.prev')),
        label,
        h('button', { type: 'button', class: 'secondary', onclick: () => go(addDays(from, 7)) }, t('visits.next')),
        h('button', { type: 'button', class: 'secondary', onclick: () => go(monday(today())) }, t('visits.today')),
      ),
      summary,
      body,
    );

    async function load(): Promise<void> {
      const to = addDays(from, 6);
      label.textContent = `${from} – ${to}`;
      try {
        const list = await api.get<OccurrenceView[]>(`/api/visits${query({ from, to })}`);
        const counts: Record<string, number> = { total: list.length };
        for (const s of STATUSES) counts[s] = list.filter((o) => o.status === s).length;
        summary.textContent = t('visits.summary', counts);
        const days = [0, 1, 2, 3, 4, 5, 6].map((i) => {
          const date = addDays(from, i);
          const mine = list.filter((o) => o.start.slice(0, 10) === date);
          return h(
            'section',
            { class: date === today() ? 'day today' : 'day', 'data-date': date },
            h('h2', {}, dayLabel(date)),
            ...(mine.length === 0 ? [h('p', { class: 'muted small' }, t('visits.none'))] : mine.map((o) => occurrence(o))),
          );
        });
        replace(body, h('div', { class: 'week', 'data-testid': 'visit-week' }, ...days));
        body.setAttribute('data-ready', from);
      } catch (err) {
        replace(body, failure(err));
      }
    }

    function occurrence(o: OccurrenceView): HTMLElement {
      const r = resident.get(o.resident);
      return h(
        'div',
        { class: `visit status-${o.status}`, 'data-testid': `visit-${o.visit}-${o.start.slice(0, 10)}` },
        h('div', {}, h('strong', {}, `${clock(o.start)}–${clock(o.end)}`), ' ', badge(t(`visit.${o.status}`), o.status)),
        h('div', {}, `${volunteerName.get(o.volunteer) ?? o.volunteer} → ${r?.name ?? o.resident}`),
        h('div', { class: 'small muted' }, `${o.activity}${o.checkedInAt ? ` · ${t('visits.in', { time: clock(o.checkedInAt) })}` : ''}`),
      );
    }
    await load();
  },
});
