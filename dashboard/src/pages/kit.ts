// Small shared pieces of the list and report pages: formatting, badges, search boxes, tables, local dates, error notices.
import { ApiError } from '../api.js';
import { h, type Child } from '../dom.js';
import { addMessages, formatTime, lang, t, timeZone } from '../i18n.js';

addMessages({
  zh: {
    'kit.search': '搜索',
    'kit.all': '全部',
    'kit.none': '暂无记录',
    'kit.refresh': '刷新',
    'kit.failed': '加载失败：{message}',
    'health.ok': '正常',
    'health.online': '在线',
    'health.offline': '离线',
    'health.unknown': '未上报',
    'health.low_battery': '电量低',
    'health.no_device': '无设备',
    'kind.sos_button': '求助按钮',
    'kind.pull_cord': '拉绳',
    'kind.fall_sensor': '跌倒传感器',
    'kind.motion_sensor': '活动传感器',
    'kind.presence_sensor': '人体传感器',
    'kind.door_sensor': '门磁',
  },
  en: {
    'kit.search': 'Search',
    'kit.all': 'All',
    'kit.none': 'Nothing yet',
    'kit.refresh': 'Refresh',
    'kit.failed': 'Could not load: {message}',
    'health.ok': 'OK',
    'health.online': 'online',
    'health.offline': 'offline',
    'health.unknown': 'never reported',
    'health.low_battery': 'low battery',
    'health.no_device': 'no device',
    'kind.sos_button': 'SOS button',
    'kind.pull_cord': 'pull cord',
    'kind.fall_sensor': 'fall sensor',
    'kind.motion_sensor': 'motion sensor',
    'kind.presence_sensor': 'presence sensor',
    'kind.door_sensor': 'door sensor',
  },
});

/** 12.3 s, 4 min 5 s; '—' when there is nothing to show. */
export function seconds(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v < 120) return `${Number.isInteger(v) ? v : v.toFixed(1)} s`;
  const m = Math.floor(v / 60);
  return `${m} min ${Math.round(v - m * 60)} s`;
}

export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`;
}

/** A time with its date, in the gateway's zone; accepts ms or ISO text. */
export function when(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return formatTime(typeof v === 'number' ? v : Date.parse(v), { date: true });
}

export function badge(text: string, kind: string, testId?: string): HTMLElement {
  return h('span', { class: `badge badge-${kind}`, ...(testId ? { 'data-testid': testId } : {}) }, text);
}

/** A search field that calls back 250 ms after the last keystroke, so typing does not send a request per letter. */
export function searchBox(value: string, onSearch: (q: string) => void): HTMLInputElement {
  const input = h('input', { type: 'search', value, placeholder: t('kit.search'), 'aria-label': t('kit.search'), 'data-testid': 'search' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => onSearch(input.value.trim()), 250);
  });
  return input;
}

export function select(
  options: { value: string; label: string }[],
  value: string,
  onChange: (v: string) => void,
  label: string,
): HTMLSelectElement {
  const el = h(
    'select',
    { 'aria-label': label },
    ...options.map((o) => h('option', { value: o.value, ...(o.value === value ? { selected: true } : {}) }, o.label)),
  );
  el.addEventListener('change', () => onChange(el.value));
  return el;
}

export function table(headers: string[], rows: Child[][], testId: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'notice', 'data-testid': `${testId}-empty` }, t('kit.none'));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': testId },
      h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))),
    ),
  );
}

export function failure(err: unknown): HTMLElement {
  const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  return h('p', { class: 'notice error', role: 'alert' }, t('kit.failed', { message }));
}

/** Today's local date in the gateway's zone, "YYYY-MM-DD". */
export function today(): string {
  return localDate(Date.now());
}

export function localDate(ms: number): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: timeZone(), year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Monday of the week that contains the date. */
export function monday(date: string): string {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

/** "周三 11/25" / "Wed 25/11". */
export function dayLabel(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  return new Intl.DateTimeFormat(lang() === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: 'UTC',
    weekday: 'short',
    month: 'numeric',
    day: 'numeric',
  }).format(d);
}

/** "HH:MM" of an ISO time written with the local offset. */
export function clock(iso: string): string {
  return iso.slice(11, 16);
}
