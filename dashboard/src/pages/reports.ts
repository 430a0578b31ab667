// `#/reports`: the monthly service report per community with ECharts charts (12-month trend, ack-time distribution) and CSV export.
import type { MonthlyReport } from '../../../gateway/reports/monthly.js';
import { api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, lang, t } from '../i18n.js';
import { definePage } from '../router.js';
import { failure, percent, seconds, select, table, today } from './kit.js';
import type { Chart, ChartOption } from './charts.js';
import './pages.css';

addMessages({
  zh: {
    'reports.title': '统计报表',
    'reports.month': '月份',
    'reports.community': '社区',
    'reports.csv': '下载 CSV',
    'reports.alarms': '报警',
    'reports.firstPage': '首次呼叫用时',
    'reports.ack': '接单用时',
    'reports.within': '60 秒内 {a} · 180 秒内 {b}',
    'reports.onSite': '到场用时',
    'reports.onSiteNone': '本月无到场记录',
    'reports.falseAlarms': '误报（已取消）',
    'reports.devices': '设备在线（当前）',
    'reports.visits': '探访 完成 / 未到',
    'reports.p50p90': '中位数 {a} · P90 {b}',
    'reports.chart.alarms': '每月报警（按类型）',
    'reports.chart.ack': '接单用时分布（{month}）',
    'reports.chart.ackSub': '60 秒内接单 {a}，180 秒内接单 {b}（按已呼叫的报警计）',
    'reports.chart.false': '误报率（每月）',
    'reports.chart.visits': '志愿者探访（每月）',
    'reports.notAck': '未接单',
    'reports.done': '完成',
    'reports.missed': '未到',
    'reports.checkedIn': '已签到未签退',
    'reports.byCommunity': '各社区',
    'type.sos': '求助',
    'type.fall': '跌倒',
    'type.door_unanswered': '敲门无人应',
    'type.inactivity': '长时间无活动',
  },
  en: {
    'reports.title': 'Reports',
    'reports.month': 'Month',
    'reports.community': 'Community',
    'reports.csv': 'Download CSV',
    'reports.alarms': 'Alarms',
    'reports.firstPage': 'Time to first page',
    'reports.ack': 'Time to acknowledge',
    'reports.within': 'within 60 s {a} · within 180 s {b}',
    'reports.onSite': 'Time to on site',
    'reports.onSiteNone': 'no on-site times this month',
    'reports.falseAlarms': 'False alarms (cancelled)',
    'reports.devices': 'Devices online (now)',
    'reports.visits': 'Visits done / missed',
    'reports.p50p90': 'median {a} · p90 {b}',
    'reports.chart.alarms': 'Alarms per month by type',
    'reports.chart.ack': 'Time to acknowledge ({month})',
    'reports.chart.ackSub': 'within 60 s {a}, within 180 s {b} (of paged alarms)',
    'reports.chart.false': 'False-alarm share per month',
    'reports.chart.visits': 'Volunteer visits per month',
    'reports.notAck': 'not acknowledged',
    'reports.done': 'done',
    'reports.missed': 'missed',
    'reports.checkedIn': 'checked in, not out',
    'reports.byCommunity': 'By community',
    'type.sos': 'SOS',
    'type.fall': 'Fall',
    'type.door_unanswered': 'Door unanswered',
    'type.inactivity': 'Inactivity',
  },
});

type Report = MonthlyReport & { byCommunity: MonthlyReport[] };
const TYPES = ['sos', 'fall', 'door_unanswered', 'inactivity'] as const;
const COLORS = ['#b00020', '#d9730d', '#0b5cad', '#6b4fa3'];

function card(label: string, value: string, sub: string, testId: string): HTMLElement {
  return h(
    'div',
    { class: 'card', 'data-testid': testId },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    h('div', { class: 'sub' }, sub),
  );
}

function summaryCards(r: MonthlyReport): HTMLElement {
  const ack = r.acknowledge;
  return h(
    'div',
    { class: 'cards' },
    card(
      t('reports.alarms'),
      String(r.alarms.total),
      TYPES.map((x) => `${t(`type.${x}`)} ${r.alarms.byType[x]}`).join(' · '),
      'card-alarms',
    ),
    card(
      t('reports.firstPage'),
      seconds(r.firstPage.p50),
      t('reports.p50p90', { a: seconds(r.firstPage.p50), b: seconds(r.firstPage.p90) }),
      'card-first-page',
    ),
    card(
      t('reports.ack'),
      percent(ack.within60s),
      t('reports.within', { a: percent(ack.within60s), b: percent(ack.within180s) }),
      'card-ack',
    ),
    card(
      t('reports.onSite'),
      r.onSite ? seconds(r.onSite.p50) : '—',
      r.onSite ? t('reports.p50p90', { a: seconds(r.onSite.p50), b: seconds(r.onSite.p90) }) : t('reports.onSiteNone'),
      'card-on-site',
    ),
    card(t('reports.falseAlarms'), percent(r.falseAlarms.share), `${r.falseAlarms.cancelled} / ${r.alarms.total}`, 'card-false'),
    card(t('reports.devices'), percent(r.devices?.share), `${r.devices?.online ?? 0} / ${r.devices?.total ?? 0}`, 'card-devices'),
    card(t('reports.visits'), `${r.visits.done} / ${r.visits.missed}`, `${t('reports.checkedIn')} ${r.visits.checkedIn}`, 'card-visits'),
  );
}

function chartOptions(r: MonthlyReport, trend: MonthlyReport[]): ChartOption[] {
  const months = trend.map((m) => m.month.slice(2));
  const grid = { left: 48, right: 16, top: 64, bottom: 32 };
  const title = (text: string, subtext?: string) => ({ text, subtext, left: 8, top: 4, textStyle: { fontSize: 14 } });
  const ack = r.acknowledge;
  return [
    {
      title: title(t('reports.chart.alarms')),
      tooltip: { trigger: 'axis' },
      legend: { top: 30 },
      grid,
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', minInterval: 1 },
      series: TYPES.map((x, i) => ({
        name: t(`type.${x}`),
        type: 'bar',
        stack: 'alarms',
        color: COLORS[i],
        data: trend.map((m) => m.alarms.byType[x]),
      })),
    },
    {
      title: title(
        t('reports.chart.ack', { month: r.month }),
        t('reports.chart.ackSub', { a: percent(ack.within60s), b: percent(ack.within180s) }),
      ),
      tooltip: { trigger: 'axis' },
      grid,
      xAxis: { type: 'category', data: [...ack.distribution.map((b) => b.label), t('reports.notAck')] },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        {
          type: 'bar',
          // Green up to 60 s, amber to 180 s, red beyond and for never acknowledged: the telecare thresholds at a glance.
          data: [
            ...ack.distribution.map((b) => ({
              value: b.count,
              itemStyle: { color: b.toS !== null && b.toS <= 60 ? '#1b6e2d' : b.toS !== null && b.toS <= 180 ? '#d9a400' : '#b00020' },
            })),
            { value: ack.paged - ack.acknowledged, itemStyle: { color: '#5b6470' } },
          ],
        },
      ],
    },
    {
      title: title(t('reports.chart.false')),
      tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v} %` : '—') },
      grid,
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', min: 0, axisLabel: { formatter: '{value} %' } },
      series: [
        {
          type: 'line',
          color: '#b00020',
          connectNulls: false,
          data: trend.map((m) => (m.falseAlarms.share === null ? null : Math.round(m.falseAlarms.share * 1000) / 10)),
        },
      ],
    },
    {
      title: title(t('reports.chart.visits')),
      tooltip: { trigger: 'axis' },
      legend: { top: 30 },
      grid,
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { name: t('reports.done'), type: 'bar', stack: 'visits', color: '#1b6e2d', data: trend.map((m) => m.visits.done) },
        { name: t('reports.checkedIn'), type: 'bar', stack: 'visits', color: '#7fb58a', data: trend.map((m) => m.visits.checkedIn) },
        { name: t('reports.missed'), type: 'bar', stack: 'visits', color: '#b00020', data: trend.map((m) => m.visits.missed) },
      ],
    },
  ];
}

function communityTable(rows: MonthlyReport[]): HTMLElement {
  return table(
    [
      t('reports.community'),
      t('reports.alarms'),
      t('reports.firstPage'),
      t('reports.ack'),
      '≤60 s',
      '≤180 s',
      t('reports.onSite'),
      t('reports.falseAlarms'),
      t('reports.devices'),
      t('reports.visits'),
    ],
    rows.map((r) => [
      r.communityName ?? r.community ?? '',
      r.alarms.total,
      seconds(r.firstPage.p50),
      seconds(r.acknowledge.p50),
      percent(r.acknowledge.within60s),
      percent(r.acknowledge.within180s),
      r.onSite ? seconds(r.onSite.p50) : '—',
      percent(r.falseAlarms.share),
      percent(r.devices?.share),
      `${r.visits.done} / ${r.visits.missed}`,
    ]),
    'community-table',
  );
}

definePage({
  path: 'reports',
  title: 'reports.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 40,
  render: async (el, ctx) => {
    let month = ctx.params.get('month') ?? today().slice(0, 7);
    let community = ctx.params.get('community') ?? '';
    const charts: Chart[] = [];
    // A separate chunk: only the reports page downloads ECharts.
    const { drawChart } = await import('./charts.js');
    const onResize = () => charts.forEach((c) => c.resize());
    window.addEventListener('resize', onResize);
    const communities = await api.get<{ id: string; name: string }[]>('/api/communities');

    const body = h('div', { 'data-testid': 'report-body' });
    const monthInput = h('input', { type: 'month', value: month, 'aria-label': t('reports.month'), 'data-testid': 'month' });
    const csvLink = h('a', { class: 'button', 'data-testid': 'csv', download: '' }, t('reports.csv'));
    const options = [
      ...(communities.length > 1 ? [{ value: '', label: t('kit.all') }] : []),
      ...communities.map((c) => ({ value: c.id, label: c.name })),
    ];
    const picker = select(
      options,
      community,
      (v) => {
        community = v;
        void load();
      },
      t('reports.community'),
    );
    monthInput.addEventListener('change', () => {
      if (/^\d{4}-\d{2}$/.test(monthInput.value)) month = monthInput.value;
      void load();
    });
    replace(el, h('div', { class: 'toolbar' }, h('h1', {}, t('reports.title')), monthInput, picker, csvLink), body);

    async function load(): Promise<void> {
      for (const c of charts.splice(0)) c.dispose();
      const scope = community || picker.value || undefined;
      csvLink.setAttribute('href', `/api/reports/monthly${query({ month, community: scope, format: 'csv', lang: lang() })}`);
      try {
        const [report, trend] = await Promise.all([
          api.get<Report>(`/api/reports/monthly${query({ month, community: scope })}`),
          api.get<{ months: MonthlyReport[] }>(`/api/reports/trend${query({ to: month, months: 12, community: scope })}`),
        ]);
        const holders = [0, 1, 2, 3].map((i) => h('div', { class: 'chart', 'data-testid': `chart-${i}` }));
        replace(
          body,
          summaryCards(report),
          h('div', { class: 'charts' }, ...holders),
          report.byCommunity.length > 0 ? h('h2', {}, t('reports.byCommunity')) : null,
          report.byCommunity.length > 0 ? communityTable(report.byCommunity) : null,
        );
        chartOptions(report, trend.months).forEach((option, i) => {
          const holder = holders[i];
          if (!holder) return;
          charts.push(drawChart(holder, option));
        });
        body.setAttribute('data-ready', month);
      } catch (err) {
        replace(body, failure(err));
      }
    }

    await load();
    return () => {
      window.removeEventListener('resize', onResize);
      for (const c of charts) c.dispose();
    };
  },
});
