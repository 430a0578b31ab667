// `#/residents`: residents with search, community, device health (online, battery, last seen, last error) and care notes.
import type { DeviceSummary } from '../../../gateway/http/routes/residents.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { badge, failure, searchBox, select, table, when } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'residents.title': '居民',
    'residents.name': '姓名',
    'residents.address': '住址',
    'residents.community': '社区',
    'residents.health': '设备状况',
    'residents.devices': '设备（电量 · 最后上报 · 最近错误）',
    'residents.notes': '备注',
    'residents.family': '家属',
    'residents.highRisk': '重点关注',
  },
  en: {
    'residents.title': 'Residents',
    'residents.name': 'Name',
    'residents.address': 'Address',
    'residents.community': 'Community',
    'residents.health': 'Devices',
    'residents.devices': 'Devices (battery · last seen · last error)',
    'residents.notes': 'Notes',
    'residents.family': 'Family',
    'residents.highRisk': 'high risk',
  },
});

interface ResidentRow {
  id: string;
  name: string;
  community: string;
  address: string;
  highRisk: boolean;
  notes?: string | null;
  family: { name: string; relation: string | null; phone: string }[];
  health: string;
  devices: DeviceSummary[];
}

function deviceLine(d: DeviceSummary): HTMLElement {
  return h(
    'div',
    { class: 'small' },
    `${d.id} (${t(`kind.${d.kind}`)}) `,
    badge(t(`health.${d.state}`), d.state),
    ` ${d.battery === null ? '—' : `${d.battery}%`} · ${when(d.lastSeen)}`,
    d.lastError
      ? h('span', { class: 'badge badge-failed', title: d.lastError.detail }, `${d.lastError.reason} ${when(d.lastError.at)}`)
      : null,
  );
}

definePage({
  path: 'residents',
  title: 'residents.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 50,
  render: async (el, ctx) => {
    const filter = { q: ctx.params.get('q') ?? '', community: ctx.params.get('community') ?? '' };
    const communities = await api.get<{ id: string; name: string }[]>('/api/communities');
    const names = new Map(communities.map((c) => [c.id, c.name]));
    const body = h('div', { 'data-testid': 'residents-body' });
    const tools = h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, t('residents.title')),
      searchBox(filter.q, (q) => {
        filter.q = q;
        void load();
      }),
    );
    if (communities.length > 1) {
      tools.append(
        select(
          [{ value: '', label: t('kit.all') }, ...communities.map((c) => ({ value: c.id, label: c.name }))],
          filter.community,
          (v) => {
            filter.community = v;
            void load();
          },
          t('residents.community'),
        ),
      );
    }
    replace(el, tools, body);

    async function load(): Promise<void> {
      try {
        const list = await api.get<ResidentRow[]>(`/api/residents${query(filter)}`);
        const withNotes = list.some((r) => 'notes' in r);
        const rows = list.map((r) => [
          h(
            'span',
            {},
            h('strong', {}, r.name),
            r.highRisk ? h('span', {}, ' ', badge(t('residents.highRisk'), 'failed')) : null,
            h('div', { class: 'small muted' }, r.id),
          ),
          r.address,
          names.get(r.community) ?? r.community,
          badge(t(`health.${r.health}`), r.health, `health-${r.id}`),
          h('div', { class: 'devices-cell' }, ...r.devices.map(deviceLine)),
          r.family.map((f) => `${f.name}${f.relation ? `（${f.relation}）` : ''} ${f.phone}`).join('；'),
          ...(withNotes ? [r.notes ?? ''] : []),
        ]);
        const headers = [
          t('residents.name'),
          t('residents.address'),
          t('residents.community'),
          t('residents.health'),
          t('residents.devices'),
          t('residents.family'),
          ...(withNotes ? [t('residents.notes')] : []),
        ];
        replace(body, table(headers, rows, 'residents-table'));
        body.setAttribute('data-ready', '1');
      } catch (err) {
        replace(body, failure(err));
      }
    }
    await load();
  },
});
