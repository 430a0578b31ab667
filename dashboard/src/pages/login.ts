// Sign-in: a password for staff, a phone number and SMS code for grid workers and volunteers; every refusal said plainly.
import { api, ApiError, setCsrfToken } from '../api.js';
import { forgetUiConfig } from '../components/ui-config.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage, homeOf, type PageContext } from '../router.js';
import './auth.css';

addMessages({
  zh: {
    'login.title': '登录',
    'login.staff': '工作人员（用户名和密码）',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'login.phoneTitle': '网格员、志愿者（手机验证码）',
    'login.phone': '手机号',
    'login.sendCode': '获取验证码',
    'login.code': '短信验证码（6位数字）',
    'login.verify': '用验证码登录',
    'login.codeSent': '如该号码已登记，验证码已通过短信发出，10分钟内有效。',
    'login.badPassword': '用户名或密码错误。',
    'login.badCode': '验证码错误或已过期，请重新获取。',
    'login.tooMany': '尝试次数过多，请 {seconds} 秒后再试。',
    'login.crossOrigin': '请从本系统的登录页登录。',
    'login.failed': '登录失败：{message}',
    'login.setupNeeded': '系统还没有管理员。请打开启动时打印的一次性设置链接。',
  },
  en: {
    'login.title': 'Sign in',
    'login.staff': 'Staff (username and password)',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.phoneTitle': 'Grid workers, volunteers (SMS code)',
    'login.phone': 'Phone number',
    'login.sendCode': 'Send me a code',
    'login.code': 'SMS code (6 digits)',
    'login.verify': 'Sign in with the code',
    'login.codeSent': 'If this number is registered, a code is on its way by SMS (valid for 10 minutes).',
    'login.badPassword': 'Wrong username or password.',
    'login.badCode': 'Wrong or expired code. Ask for a new one.',
    'login.tooMany': 'Too many attempts. Try again in {seconds} s.',
    'login.crossOrigin': 'Please sign in from this site’s own sign-in page.',
    'login.failed': 'Sign-in failed: {message}',
    'login.setupNeeded': 'There is no administrator yet. Open the one-time setup link printed at start.',
  },
});

interface SignedIn {
  csrfToken: string;
}

/** The words for a refused sign-in: wrong password, wrong or expired code, too many attempts. */
export function signInError(err: unknown, kind: 'password' | 'code'): string {
  if (!(err instanceof ApiError)) return t('login.failed', { message: err instanceof Error ? err.message : String(err) });
  switch (err.code) {
    case 'GW_ERR_BAD_CREDENTIALS':
      return t('login.badPassword');
    case 'GW_ERR_BAD_OTP':
      return t('login.badCode');
    case 'GW_ERR_RATE_LIMITED':
      return t('login.tooMany', { seconds: /(\d+)\s*s/.exec(err.message)?.[1] ?? '60' });
    case 'GW_ERR_CROSS_ORIGIN':
      return t('login.crossOrigin');
    default:
      if (err.status === 401) return kind === 'password' ? t('login.badPassword') : t('login.badCode');
      return t('login.failed', { message: err.message });
  }
}

async function afterSignIn(answer: SignedIn, ctx: PageContext): Promise<void> {
  setCsrfToken(answer.csrfToken);
  forgetUiConfig();
  // The shell reads /auth/me again and renders this page once more, which now forwards to the wanted page.
  await ctx.reload();
}

function field(id: string, label: string, attrs: Record<string, string | boolean>): [HTMLLabelElement, HTMLInputElement] {
  return [h('label', { for: id }, label), h('input', { id, name: id, required: true, ...attrs })];
}

definePage({
  path: 'login',
  title: 'login.title',
  roles: [],
  render: async (el, ctx) => {
    if (ctx.me) {
      const next = ctx.params.get('next');
      ctx.navigate(next && next !== 'login' ? next : homeOf(ctx.me.role));
      return;
    }
    const staffError = h('p', { class: 'notice error', role: 'alert', hidden: true, 'data-testid': 'login-error' });
    const phoneError = h('p', { class: 'notice error', role: 'alert', hidden: true, 'data-testid': 'otp-error' });
    const phoneInfo = h('p', { class: 'notice', role: 'status', hidden: true, 'data-testid': 'otp-sent' }, t('login.codeSent'));
    const show = (node: HTMLElement, text: string | null): void => {
      node.hidden = text === null;
      node.textContent = text ?? '';
    };

    const [userLabel, username] = field('username', t('login.username'), { autocomplete: 'username', autocapitalize: 'none' });
    const [passLabel, password] = field('password', t('login.password'), { type: 'password', autocomplete: 'current-password' });
    const staff = h(
      'form',
      { class: 'panel auth-form', 'data-testid': 'login-form' },
      h('h2', {}, t('login.staff')),
      userLabel,
      username,
      passLabel,
      password,
      h('button', { type: 'submit' }, t('login.submit')),
      staffError,
    );
    staff.addEventListener('submit', (event) => {
      event.preventDefault();
      show(staffError, null);
      api.post<SignedIn>('/auth/login', { username: username.value.trim(), password: password.value }).then(
        (answer) => afterSignIn(answer, ctx),
        (err: unknown) => {
          password.value = '';
          show(staffError, signInError(err, 'password'));
        },
      );
    });

    const [phoneLabel, phone] = field('phone', t('login.phone'), { type: 'tel', autocomplete: 'tel', inputmode: 'tel' });
    const [codeLabel, code] = field('code', t('login.code'), {
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      pattern: '[0-9]{6}',
      maxlength: '6',
    });
    const send = h('button', { type: 'button', class: 'secondary', 'data-testid': 'send-code' }, t('login.sendCode'));
    send.addEventListener('click', () => {
      show(phoneError, null);
      if (!phone.reportValidity()) return;
      api.post('/auth/otp/request', { phone: phone.value.trim() }).then(
        () => (phoneInfo.hidden = false),
        (err: unknown) => show(phoneError, signInError(err, 'code')),
      );
    });
    const byPhone = h(
      'form',
      { class: 'panel auth-form', 'data-testid': 'otp-form' },
      h('h2', {}, t('login.phoneTitle')),
      phoneLabel,
      phone,
      send,
      phoneInfo,
      codeLabel,
      code,
      h('button', { type: 'submit' }, t('login.verify')),
      phoneError,
    );
    byPhone.addEventListener('submit', (event) => {
      event.preventDefault();
      show(phoneError, null);
      api.post<SignedIn>('/auth/otp/verify', { phone: phone.value.trim(), code: code.value.trim() }).then(
        (answer) => afterSignIn(answer, ctx),
        (err: unknown) => {
          code.value = '';
          show(phoneError, signInError(err, 'code'));
        },
      );
    });

    const setupHint = h('p', { class: 'notice', hidden: true, 'data-testid': 'setup-needed' }, t('login.setupNeeded'));
    replace(el, h('div', { class: 'auth' }, h('h1', {}, t('login.title')), setupHint, staff, byPhone));
    username.focus();
    api.get<{ needsSetup: boolean }>('/auth/setup-status').then(
      (s) => (setupHint.hidden = !s.needsSetup),
      () => undefined,
    );
  },
});
