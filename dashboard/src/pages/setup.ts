// First start: the one-time link `#/setup?token=…` (printed by the gateway) creates the first admin; never a default password.
import { api, ApiError, setCsrfToken } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { signInError } from './login.js';
import './auth.css';

addMessages({
  zh: {
    'setup.title': '创建管理员',
    'setup.intro': '这是系统的第一次设置。请为管理员设置用户名和密码（至少10位）。此链接只能使用一次。',
    'setup.name': '姓名',
    'setup.username': '用户名',
    'setup.password': '密码（至少10位）',
    'setup.repeat': '再次输入密码',
    'setup.submit': '创建并登录',
    'setup.mismatch': '两次输入的密码不一致。',
    'setup.noToken': '链接不完整：请打开启动时打印的完整设置链接。',
    'setup.done': '系统已有管理员，无需设置。请直接登录。',
    'setup.badToken': '设置链接无效或已使用。请重新启动网关获取新的链接，或用 ADMIN_USERNAME / ADMIN_PASSWORD 创建管理员。',
  },
  en: {
    'setup.title': 'Create the administrator',
    'setup.intro': 'First start: choose the administrator’s username and password (at least 10 characters). This link works once.',
    'setup.name': 'Name',
    'setup.username': 'Username',
    'setup.password': 'Password (at least 10 characters)',
    'setup.repeat': 'Password again',
    'setup.submit': 'Create and sign in',
    'setup.mismatch': 'The passwords differ.',
    'setup.noToken': 'Incomplete link: open the whole setup link printed at start.',
    'setup.done': 'An administrator exists already. Please sign in.',
    'setup.badToken': 'Setup link invalid or already used. Restart the gateway for a new one, or set ADMIN_USERNAME / ADMIN_PASSWORD.',
  },
});

definePage({
  path: 'setup',
  title: 'setup.title',
  roles: [],
  render: async (el, ctx) => {
    const token = ctx.params.get('token') ?? '';
    const status = await api.get<{ needsSetup: boolean }>('/auth/setup-status').catch(() => ({ needsSetup: true }));
    if (!status.needsSetup) {
      replace(
        el,
        h('p', { class: 'notice', 'data-testid': 'setup-done' }, t('setup.done'), ' ', h('a', { href: '#/login' }, t('login.title'))),
      );
      return;
    }
    if (!token) {
      replace(el, h('p', { class: 'notice error', role: 'alert' }, t('setup.noToken')));
      return;
    }
    const input = (id: string, label: string, attrs: Record<string, string>): [HTMLLabelElement, HTMLInputElement] => [
      h('label', { for: id }, label),
      h('input', { id, name: id, required: true, ...attrs }),
    ];
    const [nl, name] = input('name', t('setup.name'), { autocomplete: 'name' });
    const [ul, username] = input('username', t('setup.username'), { autocomplete: 'username', autocapitalize: 'none' });
    const [pl, password] = input('password', t('setup.password'), { type: 'password', autocomplete: 'new-password', minlength: '10' });
    const [rl, repeat] = input('repeat', t('setup.repeat'), { type: 'password', autocomplete: 'new-password', minlength: '10' });
    const error = h('p', { class: 'notice error', role: 'alert', hidden: true, 'data-testid': 'setup-error' });
    const form = h(
      'form',
      { class: 'panel auth-form', 'data-testid': 'setup-form' },
      h('p', {}, t('setup.intro')),
      nl,
      name,
      ul,
      username,
      pl,
      password,
      rl,
      repeat,
      h('button', { type: 'submit' }, t('setup.submit')),
      error,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      if (password.value !== repeat.value) {
        error.hidden = false;
        error.textContent = t('setup.mismatch');
        return;
      }
      api
        .post<{ csrfToken: string }>('/auth/setup', {
          token,
          username: username.value.trim(),
          password: password.value,
          name: name.value.trim(),
        })
        .then(
          async (answer) => {
            setCsrfToken(answer.csrfToken);
            // The token is spent: leave the link, so a reload cannot show it again.
            history.replaceState(null, '', '#/login');
            await ctx.reload();
          },
          (err: unknown) => {
            error.hidden = false;
            error.textContent =
              err instanceof ApiError && err.code === 'GW_ERR_SETUP_TOKEN'
                ? t('setup.badToken')
                : err instanceof ApiError && err.status === 400
                  ? err.message
                  : signInError(err, 'password');
          },
        );
    });
    replace(el, h('div', { class: 'auth' }, h('h1', {}, t('setup.title')), form));
    name.focus();
  },
});
