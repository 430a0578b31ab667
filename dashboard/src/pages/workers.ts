// `#/workers`: the grid workers with search, their phone, community, shifts and whether they are on duty now.
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { badge, failure, searchBox, table } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'workers.title': '网格员',
    'workers.name': '姓名',
    'workers.phone': '电话',
    'workers.community': '社区',
    'workers.onDuty': '当前',
    'workers.shifts': '班次',
    'workers.on': '在岗',
    'workers.off': '不在岗',
    'workers.noShift': '无班次',
  },
  en: {
    'workers.title': 'Grid workers',
    'workers.name': 'Name',
    'workers.phone': 'Phone',
    'workers.community': 'Community',
    'workers.onDuty': 'Now',
    'workers.shifts': 'Shifts',
    'workers.on': 'on duty',
    'workers.off': 'off duty',
    'workers.noShift': 'no shifts',
  },
});

interface WorkerRow {
  id: string;
  name: string;
  phone: string;
  community: string;
  onDutyNow: boolean;
  shifts: { days: string[]; from: string; to: string }[];
}

definePage({
  path: 'workers',
  title: 'workers.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 60,
  render: async (el, ctx) => {
    const filter = { q: ctx.params.get('q') ?? '' };
    const body = h('div', { 'data-testid': 'workers-body' });
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('workers.title')),
        searchBox(filter.q, (q) => {
          filter.q = q;
          void load();
        }),
      ),
      body,
    );

    async function load(): Promise<void> {
      try {
        const list = await api.get<WorkerRow[]>(`/api/workers${query(filter)}`);
        const rows = list.map((w) => [
          h('strong', {}, w.name),
          w.phone,
          w.community,
          badge(w.onDutyNow ? t('workers.on') : t('workers.off'), w.onDutyNow ? 'ok' : 'cancelled', `duty-${w.id}`),
          w.shifts.length === 0 ? t('workers.noShift') : w.shifts.map((s) => `${s.days.join(',')} ${s.from}–${s.to}`).join('；'),
        ]);
        replace(
          body,
          table(
            [t('workers.name'), t('workers.phone'), t('workers.community'), t('workers.onDuty'), t('workers.shifts')],
            rows,
            'workers-table',
          ),
        );
        body.setAttribute('data-ready', '1');
      } catch (err) {
        replace(body, failure(err));
      }
    }
    await load();
  },
});
