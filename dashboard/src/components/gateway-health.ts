// The gateway's own health on the duty board: a banner naming each part that is down or degraded, red while alarms cannot be recorded, read from GET /healthz and polled.
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';

addMessages({
  zh: {
    'gwhealth.title': '系统异常，请留意：',
    'gwhealth.alarmsDown': '当前无法接收或通知报警！请立即电话联系各网格员和技术人员。',
    'gwhealth.recordingDown':
      '系统无法记录求助！设备发来的报警不会被确认。请立即处理服务器（磁盘已满或只读），并用电话与值班人员保持联系。',
    'gwhealth.diskLow': '服务器磁盘空间不足：心跳等日常数据暂停记录，求助报警照常记录。请尽快清理磁盘。',
    'gwhealth.brokerDrop':
      '在线设备骤降：{from} 台 → {to} 台。可能是楼宇断电、断网，或设备登录被拒；这些老人的设备现在无法报警，请电话核实。',
    'gwhealth.part': '{part}（{status}）：{detail}',
    'gwhealth.down': '停止',
    'gwhealth.degraded': '降级',
    'gwhealth.part.broker': '设备连接',
    'gwhealth.part.database': '数据库',
    'gwhealth.part.sms': '短信',
    'gwhealth.part.signals': '报警处理',
    'gwhealth.part.influxdb': '遥测数据库',
    'gwhealth.part.supervision': '设备监护',
  },
  en: {
    'gwhealth.title': 'Gateway problems, keep an eye on them:',
    'gwhealth.alarmsDown': 'Alarms can NOT be taken or paged right now! Phone the grid workers and the technician.',
    'gwhealth.recordingDown':
      'ALARMS CANNOT BE RECORDED! Device alarms are not being acknowledged. Fix the server now (disk full or read-only) and keep in touch with responders by phone.',
    'gwhealth.diskLow':
      'The server is short of disk space: heartbeats and routine data are not recorded; alarms still are. Free some space soon.',
    'gwhealth.brokerDrop':
      'Connected devices fell suddenly: {from} → {to}. A building may have lost power or network, or devices are refused at sign-in; those residents cannot raise alarms now. Phone to check.',
    'gwhealth.part': '{part} ({status}): {detail}',
    'gwhealth.down': 'down',
    'gwhealth.degraded': 'degraded',
    'gwhealth.part.broker': 'device connections',
    'gwhealth.part.database': 'database',
    'gwhealth.part.sms': 'SMS',
    'gwhealth.part.signals': 'alarm processing',
    'gwhealth.part.influxdb': 'telemetry database',
    'gwhealth.part.supervision': 'device supervision',
  },
});

interface ComponentBody {
  status: string;
  detail?: string;
  provider?: string;
  clients?: number;
  droppedFrom?: number;
  /** database: false while event commits fail; shedding while free space is below the reserve kept for alarms. */
  recording?: boolean;
  shedding?: boolean;
}

interface HealthBody {
  alarmsOk?: boolean;
  components?: Record<string, ComponentBody>;
}

const POLL_MS = 5000;

function partName(name: string): string {
  const key = `gwhealth.part.${name}`;
  const label = t(key);
  return label === key ? name : label;
}

function line(name: string, c: ComponentBody): HTMLElement {
  if (name === 'broker' && c.droppedFrom !== undefined) {
    return h('li', { 'data-part': name }, t('gwhealth.brokerDrop', { from: c.droppedFrom, to: c.clients ?? 0 }));
  }
  if (name === 'database' && c.recording === false) return h('li', { 'data-part': name }, t('gwhealth.recordingDown'), ' ', c.detail ?? '');
  if (name === 'database' && c.shedding) return h('li', { 'data-part': name }, t('gwhealth.diskLow'), ' ', c.detail ?? '');
  const status = c.status === 'down' ? t('gwhealth.down') : t('gwhealth.degraded');
  return h('li', { 'data-part': name }, t('gwhealth.part', { part: partName(name), status, detail: c.detail ?? '' }));
}

/** What the banner lists: every part down or degraded, except outbox mode, which the board shows in its own banner. */
function problems(body: HealthBody): [string, ComponentBody][] {
  return Object.entries(body.components ?? {}).filter(
    ([name, c]) => (c.status === 'down' || c.status === 'degraded') && !(name === 'sms' && c.provider === 'outbox' && c.status !== 'down'),
  );
}

/** The banner element and its poller; stop() ends the polling when the page goes. */
export function gatewayHealthBanner(): { el: HTMLElement; refresh(): Promise<void>; stop(): void } {
  const el = h('div', { class: 'gateway-health', role: 'alert', hidden: true, 'data-testid': 'gateway-health' });
  const refresh = async (): Promise<void> => {
    let body: HealthBody;
    try {
      // 503 still carries the report, so the body is read whatever the status.
      const res = await fetch('/healthz', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      body = (await res.json()) as HealthBody;
    } catch {
      // Unreachable: the live connection banner already says the gateway cannot be reached.
      return;
    }
    const found = problems(body);
    const alarmsDown = body.alarmsOk === false;
    el.hidden = found.length === 0 && !alarmsDown;
    el.classList.toggle('alarms-down', alarmsDown);
    el.dataset.level = alarmsDown ? 'down' : 'warn';
    replace(
      el,
      alarmsDown ? h('strong', {}, t('gwhealth.alarmsDown')) : h('strong', {}, t('gwhealth.title')),
      h('ul', {}, ...found.map(([name, c]) => line(name, c))),
    );
  };
  const timer = setInterval(() => void refresh(), POLL_MS);
  return { el, refresh, stop: () => clearInterval(timer) };
}
