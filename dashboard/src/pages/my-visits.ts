// `#/my-visits`: a volunteer's own visits in large, high-contrast text, one column, with big 到 / 走 / 没人 buttons.
import type { MyVisit } from '../../../gateway/http/routes/my-visits.js';
import { api, ApiError, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { clock, dayLabel, failure } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'my.title': '我的探访',
    'my.now': '现在这一次',
    'my.next': '接下来的探访',
    'my.none': '这一周没有安排探访。',
    'my.arrive': '到了（签到）',
    'my.leave': '走了（签退）',
    'my.nobody': '敲门没人应',
    'my.nobodyConfirm': '确定敲门没人应吗？将马上通知网格员上门查看。',
    'my.status.scheduled': '还没开始',
    'my.status.checked_in': '已签到',
    'my.status.done': '已完成',
    'my.status.missed': '未签到',
    'my.status.cancelled': '已取消',
    'outcome.visit_check_in': '签到成功，谢谢您！',
    'outcome.visit_already_checked_in': '您已经签到了。',
    'outcome.visit_check_out': '签退成功，辛苦了！',
    'outcome.visit_door_unanswered': '已通知网格员上门查看，谢谢您。',
    'outcome.visit_too_early': '还没到签到时间（开始前一小时才能签到）。',
    'outcome.visit_nothing_today': '今天没有需要签到的探访。',
    'outcome.visit_not_checked_in': '您还没有签到，不能签退。',
  },
  en: {
    'my.title': 'My visits',
    'my.now': 'This visit',
    'my.next': 'Coming visits',
    'my.none': 'No visits this coming week.',
    'my.arrive': 'I am here (check in)',
    'my.leave': 'I am leaving (check out)',
    'my.nobody': 'Nobody answers the door',
    'my.nobodyConfirm': 'Nobody answers the door? The grid worker will be sent at once.',
    'my.status.scheduled': 'not started',
    'my.status.checked_in': 'checked in',
    'my.status.done': 'done',
    'my.status.missed': 'no check-in',
    'my.status.cancelled': 'cancelled',
    'outcome.visit_check_in': 'Checked in. Thank you!',
    'outcome.visit_already_checked_in': 'You are already checked in.',
    'outcome.visit_check_out': 'Checked out. Thank you for your time!',
    'outcome.visit_door_unanswered': 'The grid worker has been told and will come. Thank you.',
    'outcome.visit_too_early': 'Too early to check in (from one hour before the start).',
    'outcome.visit_nothing_today': 'No visit to check in to today.',
    'outcome.visit_not_checked_in': 'You are not checked in yet.',
  },
});

interface MyVisitsAnswer {
  today: string;
  current: { visit: string; start: string } | null;
  visits: MyVisit[];
}

const ACTIONS = [
  { path: 'check-in', label: 'my.arrive', cls: 'arrive' },
  { path: 'check-out', label: 'my.leave', cls: 'leave' },
  { path: 'door-unanswered', label: 'my.nobody', cls: 'nobody' },
] as const;

function visitCard(v: MyVisit, current: boolean): HTMLElement {
  return h(
    'article',
    { class: current ? 'visit-card current' : 'visit-card', 'data-testid': current ? 'current-visit' : 'visit-card' },
    h('div', { class: 'time' }, `${dayLabel(v.start.slice(0, 10))} ${clock(v.start)}–${clock(v.end)}`),
    h('div', { class: 'who' }, v.residentName),
    h('div', {}, v.address),
    h('div', {}, v.activity),
    h('div', { class: 'status' }, t(`my.status.${v.status}`)),
  );
}

definePage({
  path: 'my-visits',
  title: 'my.title',
  roles: ['volunteer'],
  nav: true,
  order: 5,
  render: async (el, ctx) => {
    const root = h('div', { class: 'my-visits', 'data-testid': 'my-visits' });
    const result = h('div', { class: 'result', role: 'status', 'aria-live': 'assertive', hidden: true, 'data-testid': 'my-result' });
    replace(el, root);

    const act = async (path: string): Promise<void> => {
      if (path === 'door-unanswered' && !window.confirm(t('my.nobodyConfirm'))) return;
      try {
        const { outcome } = await api.post<{ outcome: string }>(`/api/my-visits/${path}`);
        show(t(`outcome.${outcome}`), false);
      } catch (err) {
        // The route answers 409 with the outcome as its message: too early, nothing today, not checked in.
        show(
          err instanceof ApiError && err.status === 409 ? t(`outcome.${err.message}`) : err instanceof Error ? err.message : String(err),
          true,
        );
      }
      await load(false);
    };

    function show(text: string, error: boolean): void {
      result.textContent = text;
      result.className = error ? 'result error' : 'result';
      result.hidden = false;
    }

    async function load(clearResult = true): Promise<void> {
      if (clearResult) result.hidden = true;
      try {
        const answer = await api.get<MyVisitsAnswer>(`/api/my-visits${query({ from: ctx.params.get('date'), days: 8 })}`);
        const current = answer.current
          ? answer.visits.find((v) => v.visit === answer.current?.visit && v.start === answer.current.start)
          : undefined;
        const rest = answer.visits.filter(
          (v) => v !== current && v.status !== 'cancelled' && v.status !== 'done' && Date.parse(v.end) > Date.now(),
        );
        replace(
          root,
          h('h1', {}, t('my.title')),
          result,
          current
            ? h(
                'section',
                {},
                h('h2', {}, t('my.now')),
                visitCard(current, true),
                h(
                  'div',
                  { class: 'actions' },
                  ...ACTIONS.map((a) =>
                    h(
                      'button',
                      { type: 'button', class: a.cls, 'data-testid': `my-${a.path}`, onclick: () => void act(a.path) },
                      t(a.label),
                    ),
                  ),
                ),
              )
            : null,
          h('h2', {}, t('my.next')),
          ...(rest.length ? rest.map((v) => visitCard(v, false)) : [h('p', {}, t('my.none'))]),
        );
        root.setAttribute('data-ready', '1');
      } catch (err) {
        replace(root, failure(err));
      }
    }
    await load();
  },
});
