// Monthly reports as CSV for spreadsheets: one row per community plus the total, Chinese or English headers, formula-safe cells.
import type { MonthlyReport } from './monthly.js';

type Column = { key: string; zh: string; en: string; value: (r: MonthlyReport) => string | number | null };

const pct = (v: number | null): string | null => (v === null ? null : (v * 100).toFixed(1));

const COLUMNS: Column[] = [
  { key: 'month', zh: '月份', en: 'month', value: (r) => r.month },
  { key: 'community', zh: '社区编号', en: 'community', value: (r) => r.community ?? 'all' },
  { key: 'community_name', zh: '社区', en: 'community name', value: (r) => r.communityName ?? (r.community === null ? '全部' : null) },
  { key: 'alarms', zh: '报警总数', en: 'alarms', value: (r) => r.alarms.total },
  { key: 'sos', zh: '求助', en: 'sos', value: (r) => r.alarms.byType.sos },
  { key: 'fall', zh: '跌倒', en: 'fall', value: (r) => r.alarms.byType.fall },
  { key: 'door_unanswered', zh: '敲门无人应', en: 'door unanswered', value: (r) => r.alarms.byType.door_unanswered },
  { key: 'inactivity', zh: '长时间无活动', en: 'inactivity', value: (r) => r.alarms.byType.inactivity },
  { key: 'first_page_p50_s', zh: '首次呼叫用时中位数(秒)', en: 'first page p50 (s)', value: (r) => r.firstPage.p50 },
  { key: 'first_page_p90_s', zh: '首次呼叫用时P90(秒)', en: 'first page p90 (s)', value: (r) => r.firstPage.p90 },
  { key: 'paged', zh: '已呼叫', en: 'paged', value: (r) => r.acknowledge.paged },
  { key: 'acknowledged', zh: '已接单', en: 'acknowledged', value: (r) => r.acknowledge.acknowledged },
  { key: 'ack_p50_s', zh: '接单用时中位数(秒)', en: 'ack p50 (s)', value: (r) => r.acknowledge.p50 },
  { key: 'ack_p90_s', zh: '接单用时P90(秒)', en: 'ack p90 (s)', value: (r) => r.acknowledge.p90 },
  { key: 'ack_within_60s_pct', zh: '60秒内接单(%)', en: 'ack within 60 s (%)', value: (r) => pct(r.acknowledge.within60s) },
  { key: 'ack_within_180s_pct', zh: '180秒内接单(%)', en: 'ack within 180 s (%)', value: (r) => pct(r.acknowledge.within180s) },
  { key: 'on_site_p50_s', zh: '到场用时中位数(秒)', en: 'on site p50 (s)', value: (r) => r.onSite?.p50 ?? null },
  { key: 'on_site_p90_s', zh: '到场用时P90(秒)', en: 'on site p90 (s)', value: (r) => r.onSite?.p90 ?? null },
  { key: 'false_alarms', zh: '误报(已取消)', en: 'false alarms (cancelled)', value: (r) => r.falseAlarms.cancelled },
  { key: 'false_alarm_pct', zh: '误报率(%)', en: 'false alarm share (%)', value: (r) => pct(r.falseAlarms.share) },
  { key: 'devices', zh: '设备数', en: 'devices', value: (r) => r.devices?.total ?? null },
  { key: 'devices_online', zh: '在线设备', en: 'devices online', value: (r) => r.devices?.online ?? null },
  { key: 'devices_online_pct', zh: '在线率(%)', en: 'devices online (%)', value: (r) => pct(r.devices?.share ?? null) },
  { key: 'visits_done', zh: '探访完成', en: 'visits done', value: (r) => r.visits.done },
  { key: 'visits_missed', zh: '探访未到', en: 'visits missed', value: (r) => r.visits.missed },
  { key: 'visits_checked_in', zh: '已签到未签退', en: 'checked in, not out', value: (r) => r.visits.checkedIn },
];

/** One cell: quoted when needed (RFC 4180); a leading = + - @ is defused so a name cannot run as a spreadsheet formula. */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Rows in the given order, CRLF line ends (what Excel writes); the caller adds the UTF-8 byte-order mark. */
export function reportsCsv(reports: readonly MonthlyReport[], lang: 'zh' | 'en' = 'zh'): string {
  const lines = [COLUMNS.map((c) => csvCell(c[lang])).join(',')];
  for (const r of reports) lines.push(COLUMNS.map((c) => csvCell(c.value(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Stable machine keys of the columns, in order (documented in docs/dashboard.md). */
export const CSV_KEYS = COLUMNS.map((c) => c.key);
