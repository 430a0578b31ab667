// Interface language: zh-CN by default, English on request; each page registers its own strings next to its code.

export type Lang = 'zh' | 'en';
type Messages = Record<string, string>;

const dictionaries: Record<Lang, Messages> = { zh: {}, en: {} };
const STORAGE_KEY = 'cg.lang';

let current: Lang = readLang();

function readLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

/** Adds strings for both languages; a page calls it once at module load with its own keys. */
export function addMessages(messages: { zh: Messages; en: Messages }): void {
  for (const lang of ['zh', 'en'] as const) {
    for (const [key, text] of Object.entries(messages[lang])) {
      // One flat dictionary: a key redefined with other words would silently relabel another page. Prefix keys per page.
      const before = dictionaries[lang][key];
      if (before !== undefined && before !== text) console.error(`i18n: key ${key} redefined (${before} -> ${text})`);
      dictionaries[lang][key] = text;
    }
  }
}

/** The string for `key`, with `{name}` placeholders filled; falls back to Chinese, then to the key itself. */
export function t(key: string, params: Record<string, string | number> = {}): string {
  const text = dictionaries[current][key] ?? dictionaries.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
}

/** A time as the station reads it: local to the gateway's zone (Asia/Shanghai by default). */
export function formatTime(ms: number | null | undefined, opts: { date?: boolean } = {}): string {
  if (ms === null || ms === undefined) return '—';
  return new Intl.DateTimeFormat(current === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: timeZone(),
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    ...(opts.date ? { year: 'numeric', month: '2-digit', day: '2-digit' } : {}),
  }).format(new Date(ms));
}

let zone = 'Asia/Shanghai';
export function setTimeZone(tz: string): void {
  zone = tz;
}
export function timeZone(): string {
  return zone;
}

addMessages({
  zh: {
    'app.title': '社区养老呼叫平台',
    'app.signOut': '退出',
    'app.lang': 'English',
    'app.loading': '加载中…',
    'app.forbidden': '您没有查看此页的权限。',
    'app.notFound': '没有这个页面。',
    'app.offline': '与服务器的实时连接已断开，正在重连…',
    'error.generic': '出错了：{message}',
  },
  en: {
    'app.title': 'Community care alarms',
    'app.signOut': 'Sign out',
    'app.lang': '中文',
    'app.loading': 'Loading…',
    'app.forbidden': 'You are not allowed to see this page.',
    'app.notFound': 'No such page.',
    'app.offline': 'Live connection lost, reconnecting…',
    'error.generic': 'Something went wrong: {message}',
  },
});
