// The board's banner for a gateway that cannot record alarms (red) or is short of disk (amber), read from /healthz every few seconds.
import { gatewayHealth, type GatewayHealth } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';

addMessages({
  zh: {
    'health.alarmsDown': '系统无法记录求助！设备发来的报警不会被确认。请立即处理服务器（磁盘已满或只读），并用电话与值班人员保持联系。',
    'health.diskLow': '服务器磁盘空间不足：心跳等日常数据暂停记录，求助报警照常记录。请尽快清理磁盘。',
    'health.unreachable': '无法连接网关，看板上的状态可能已过时。',
  },
  en: {
    'health.alarmsDown': 'ALARMS CANNOT BE RECORDED! Device alarms are not being acknowledged. Fix the server now (disk full or read-only) and keep in touch with responders by phone.',
    'health.diskLow': 'The server is short of disk space: heartbeats and routine data are not recorded; alarms still are. Free some space soon.',
    'health.unreachable': 'The gateway cannot be reached; the board may be out of date.',
  },
});

const POLL_MS = 5000;

/** What the banner says for a report: nothing while all is well. */
export function healthProblem(report: GatewayHealth | null): { level: 'down' | 'warn'; text: string; detail: string | null } | null {
  if (report === null) return { level: 'warn', text: t('health.unreachable'), detail: null };
  const database = report.components.database;
  if (!report.alarmsOk) {
    const down = Object.entries(report.components).find(([, c]) => c.status === 'down');
    return { level: 'down', text: t('health.alarmsDown'), detail: down?.[1].detail ?? null };
  }
  if (database?.status === 'degraded' && database.detail) return { level: 'warn', text: t('health.diskLow'), detail: database.detail };
  return null;
}

/** A banner element kept up to date until the returned stop function is called. */
export function healthBanner(): { el: HTMLElement; refresh: () => Promise<void>; stop: () => void } {
  const el = h('div', { class: 'health-banner', role: 'alert', hidden: true, 'data-testid': 'health-banner' });
  const refresh = async (): Promise<void> => {
    let report: GatewayHealth | null;
    try {
      report = await gatewayHealth();
    } catch {
      report = null;
    }
    const problem = healthProblem(report);
    el.hidden = problem === null;
    if (!problem) return;
    el.dataset.level = problem.level;
    replace(el, h('strong', {}, problem.text), ...(problem.detail ? [h('div', { class: 'health-detail' }, problem.detail)] : []));
  };
  void refresh();
  const timer = setInterval(() => void refresh(), POLL_MS);
  return { el, refresh, stop: () => clearInterval(timer) };
}
