// `#/devices`: every device with search and health: online, battery, last seen, last error (GET /api/devices).
import type { DeviceView } from '../../../gateway/http/routes/devices.js';
import type { TestWindow } from '../../../gateway/test-presses/types.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, formatTime, t } from '../i18n.js';
import { definePage } from '../router.js';
import { badge, failure, searchBox, select, table, when } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'devices.title': '设备',
    'devices.id': '设备',
    'devices.kind': '类型',
    'devices.resident': '居民',
    'devices.state': '状态',
    'devices.battery': '电量',
    'devices.rssi': '信号',
    'devices.lastSeen': '最后上报',
    'devices.lastError': '最近错误',
    'devices.anyState': '全部状态',
    'devices.test': '测试',
    'devices.testStart': '开始测试（30分钟）',
    'devices.testOn': '测试中，至{time}',
    'devices.testConfirm': '接下来30分钟内，{id}的按键视为测试：只通知网格员，不通知家属。开始？',
  },
  en: {
    'devices.title': 'Devices',
    'devices.id': 'Device',
    'devices.kind': 'Kind',
    'devices.resident': 'Resident',
    'devices.state': 'State',
    'devices.battery': 'Battery',
    'devices.rssi': 'Signal',
    'devices.lastSeen': 'Last seen',
    'devices.lastError': 'Last error',
    'devices.anyState': 'Any state',
    'devices.test': 'Test',
    'devices.testStart': 'Start test (30 min)',
    'devices.testOn': 'testing until {time}',
    'devices.testConfirm': 'For the next 30 minutes presses of {id} are tests: the worker is paged, never the family. Start?',
  },
});

definePage({
  path: 'devices',
  title: 'devices.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 55,
  render: async (el, ctx) => {
    const filter = { q: ctx.params.get('q') ?? '', state: ctx.params.get('state') ?? '' };
    const body = h('div', { 'data-testid': 'devices-body' });
    let all: DeviceView[] = [];
    const testing = new Map<string, number>();
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('devices.title')),
        searchBox(filter.q, (q) => {
          filter.q = q;
          draw();
        }),
        select(
          [
            { value: '', label: t('devices.anyState') },
            ...['online', 'offline', 'unknown'].map((s) => ({ value: s, label: t(`health.${s}`) })),
          ],
          filter.state,
          (v) => {
            filter.state = v;
            void load();
          },
          t('devices.state'),
        ),
      ),
      body,
    );

    // Search is local (ids, kinds, resident names are all in the list); the state filter goes to the server.
    function draw(): void {
      const needle = filter.q.toLowerCase();
      const list = all.filter(
        (d) => !needle || [d.id, d.kind, d.resident, d.residentName ?? ''].some((f) => f.toLowerCase().includes(needle)),
      );
      const rows = list.map((d) => [
        h('strong', {}, d.id),
        t(`kind.${d.kind}`),
        `${d.residentName ?? ''} (${d.resident})`,
        badge(t(`health.${d.state}`), d.state, `state-${d.id}`),
        d.battery === null ? '—' : badge(`${d.battery}%`, d.battery <= 20 ? 'low_battery' : 'ok'),
        d.rssi === null ? '—' : `${d.rssi} dBm`,
        when(d.lastSeen),
        d.lastRejection ? h('span', { title: d.lastRejection.detail }, `${d.lastRejection.reason} · ${when(d.lastRejection.at)}`) : '—',
        testControl(d),
      ]);
      replace(
        body,
        table(
          [
            t('devices.id'),
            t('devices.kind'),
            t('devices.resident'),
            t('devices.state'),
            t('devices.battery'),
            t('devices.rssi'),
            t('devices.lastSeen'),
            t('devices.lastError'),
            t('devices.test'),
          ],
          rows,
          'devices-table',
        ),
      );
      body.setAttribute('data-ready', '1');
    }

    // Weekly button check (JGJ/T 484-2019 §10.3.1): a test window for one alarm button, set here or by the API.
    function testControl(d: DeviceView): HTMLElement | string {
      if (d.kind !== 'sos_button' && d.kind !== 'pull_cord') return '';
      const running = testing.get(d.id);
      if (running && running > Date.now()) return badge(t('devices.testOn', { time: formatTime(running) }), 'test', `test-${d.id}`);
      return h(
        'button',
        {
          type: 'button',
          'data-action': 'test-mode',
          'data-device': d.id,
          onclick: () => {
            if (!window.confirm(t('devices.testConfirm', { id: d.id }))) return;
            api.post<TestWindow>(`/api/devices/${encodeURIComponent(d.id)}/test-mode`, { minutes: 30 }).then(
              (w) => {
                testing.set(d.id, w.endsAt);
                draw();
              },
              (err: unknown) => replace(body, failure(err)),
            );
          },
        },
        t('devices.testStart'),
      );
    }

    async function load(): Promise<void> {
      try {
        const windows = await api.get<TestWindow[]>('/api/test-windows').catch(() => []);
        for (const w of windows) if (w.endedAt === null && w.scope.kind === 'device') testing.set(w.scope.deviceId, w.endsAt);
        all = await api.get<DeviceView[]>(`/api/devices${query({ state: filter.state })}`);
        draw();
      } catch (err) {
        replace(body, failure(err));
      }
    }
    await load();
  },
});
