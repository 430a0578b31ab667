// The shell: who is signed in, the navigation for their role, the live connection banner, and the current page.
import { api, ApiError, setCsrfToken, type Me } from './api.js';
import { append, h, replace } from './dom.js';
import { lang, setLang, setTimeZone, t } from './i18n.js';
import { LiveFeed } from './live.js';
import { currentLocation, findPage, navPages, type Cleanup, type PageContext } from './router.js';
import './pages/index.js';

interface MeAnswer {
  user: Me;
  csrfToken: string;
  timeZone?: string;
}

const root = document.getElementById('app') as HTMLElement;
const live = new LiveFeed();
let me: Me | null = null;
let cleanup: Cleanup;
let stopBannerListener: (() => void) | null = null;
/** The stream's state survives a re-render, so a fresh header shows the banner only while disconnected. */
let liveConnected = true;
live.onConnection((connected) => {
  liveConnected = connected;
});

async function loadMe(): Promise<void> {
  try {
    const answer = await api.get<MeAnswer>('/auth/me');
    me = answer.user;
    setCsrfToken(answer.csrfToken);
    if (answer.timeZone) setTimeZone(answer.timeZone);
    live.connect();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    me = null;
    setCsrfToken(null);
    live.close();
  }
}

function navigate(path: string): void {
  const target = `#/${path}`;
  if (location.hash === target) void render();
  else location.hash = target;
}

async function signOut(): Promise<void> {
  await api.post('/auth/logout').catch(() => undefined);
  await loadMe();
  navigate('login');
}

function header(): HTMLElement {
  const nav = h('nav', { class: 'nav', 'aria-label': 'main' });
  if (me) {
    const active = currentLocation().path;
    for (const page of navPages(me.role)) {
      append(nav, h('a', { href: `#/${page.path}`, class: page.path === active ? 'active' : '' }, t(page.title)));
    }
  }
  const banner = h('div', { class: 'live-banner', role: 'status', hidden: liveConnected }, t('app.offline'));
  // One listener per rendered header: the previous header's is dropped with it.
  stopBannerListener?.();
  stopBannerListener = live.onConnection((connected) => {
    banner.hidden = connected;
  });
  return h(
    'header',
    { class: 'topbar' },
    h('strong', { class: 'brand' }, t('app.title')),
    nav,
    h(
      'div',
      { class: 'user' },
      me ? h('span', { class: 'who' }, me.name) : null,
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            setLang(lang() === 'zh' ? 'en' : 'zh');
            void render();
          },
        },
        t('app.lang'),
      ),
      me
        ? h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out', onclick: () => void signOut() }, t('app.signOut'))
        : null,
    ),
    banner,
  );
}

async function render(): Promise<void> {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const { path, params } = currentLocation();
  const page = findPage(path);
  const main = h('main', { id: 'page' });
  replace(root, header(), main);
  if (!page) {
    replace(main, h('p', { class: 'notice' }, t('app.notFound')));
    return;
  }
  const isPublic = page.roles.length === 0;
  if (!isPublic && !me) {
    navigate(`login?next=${encodeURIComponent(path)}`);
    return;
  }
  if (!isPublic && me && !page.roles.includes(me.role)) {
    replace(main, h('p', { class: 'notice error' }, t('app.forbidden')));
    return;
  }
  document.title = `${t(page.title)} · ${t('app.title')}`;
  const ctx: PageContext = {
    me,
    params,
    live,
    navigate,
    reload: async () => {
      await loadMe();
      await render();
    },
  };
  try {
    cleanup = await page.render(main, ctx);
  } catch (err) {
    replace(
      main,
      h('p', { class: 'notice error', role: 'alert' }, t('error.generic', { message: err instanceof Error ? err.message : String(err) })),
    );
  }
}

window.addEventListener('hashchange', () => void render());
setLang(lang());
void loadMe().then(render, (err: unknown) => {
  replace(
    root,
    h('p', { class: 'notice error', role: 'alert' }, t('error.generic', { message: err instanceof Error ? err.message : String(err) })),
  );
});
