// The SMS template catalogue: every demo template passes both providers' rules, broken catalogues are refused with
// the path of the problem, the provider variables are checked, and free text and parameters are fitted.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { silentLogger } from '../../gateway/core/logger.js';
import {
  checkCatalogue,
  fitParams,
  formatProblem,
  freeText,
  missingTemplates,
  tencentTemplateText,
} from '../../gateway/notifiers/catalogue.js';
import {
  FREE_TEXT_ONLY_KINDS,
  MESSAGE_KINDS,
  defaultCatalogue,
  intentOf,
  maskedIntent,
  variablesOf,
} from '../../gateway/notifiers/kinds.js';
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { buildSmsProviders, catalogueInForce, type SmsSettings } from '../../gateway/notifiers/setup.js';
import { SMS_PROVIDER_BUILDERS } from '../../gateway/notifiers/factory.js';
import { generateDemoRegistry } from '../../gateway/registry/demo.js';
import { validateRegistry } from '../../gateway/registry/load.js';

const URL_BASE = 'https://care.example.cn';
const demo = defaultCatalogue(URL_BASE);
const settings = (over: Partial<SmsSettings> = {}): SmsSettings => ({
  provider: 'outbox',
  fallback: null,
  caps: { tencentSameContentSeconds: 30, tencentDailyPerNumber: 10, aliyunDailyPerTemplate: 50 },
  tencentMaxParam: 12,
  ...over,
});

/** The demo catalogue with one entry replaced. */
function withEntry(kind: string, entry: TemplateCatalogue[string]): TemplateCatalogue {
  return { ...demo, [kind]: entry };
}

/** The registry problems of a demo registry carrying this catalogue, as one string. */
function registryProblems(templates: TemplateCatalogue): string {
  const doc = { ...generateDemoRegistry({ residents: 2 }), sms: { templates } };
  try {
    validateRegistry(doc);
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

describe('the demo catalogue', () => {
  it('has every kind, and every template passes the Aliyun and Tencent rules at 12 characters a parameter', () => {
    expect(Object.keys(demo).sort()).toEqual([...MESSAGE_KINDS].sort());
    expect(checkCatalogue(demo, { tencentMaxParam: 12 }).map((p) => formatProblem(p))).toEqual([]);
    for (const kind of MESSAGE_KINDS) {
      const entry = demo[kind]!;
      expect(entry.text).not.toMatch(/[【】]/);
      if (FREE_TEXT_ONLY_KINDS.has(kind)) continue;
      expect(entry.aliyun?.templateCode, kind).toMatch(/^SMS_\d+$/);
      expect(entry.tencent?.params, kind).toEqual(variablesOf(entry.text));
    }
    expect(missingTemplates(demo, 'aliyun')).toEqual([]);
    expect(missingTemplates(demo, 'tencent')).toEqual([]);
  });

  it('keeps the incident link fixed: only the code is a parameter', () => {
    expect(demo.page_link?.text).toBe(`详情及导航 ${URL_BASE}/i 查看码\${code}`);
    expect(tencentTemplateText(demo.page_first!.text)).toBe('{1}家中{2} 地址{3} 时间{4} 回{5}接单 回{6}转他人');
  });

  it('is what the demo registry written by npm start carries, and that registry passes validation', () => {
    const doc = generateDemoRegistry({ residents: 2, publicUrl: URL_BASE });
    expect(doc.sms?.templates).toEqual(JSON.parse(JSON.stringify(demo)));
    expect(registryProblems(demo)).toBe('');
  });

  it('fails the Tencent parameter limit when it is set below the longest bounded parameter', () => {
    const problems = checkCatalogue(demo, { tencentMaxParam: 4 }).map((p) => formatProblem(p));
    expect(problems).toContain(
      'sms.templates.page_first.tencent.params: "time" may hold 5 characters, more than the 4 Tencent takes (TENCENT_SMS_MAX_PARAM)',
    );
  });
});

describe('broken catalogues are refused with the path of the problem', () => {
  const page = demo.page_first!;
  const cases: [string, TemplateCatalogue, RegExp][] = [
    [
      '【】 in a template',
      withEntry('page_first', { ...page, text: `【求助】${page.text}` }),
      /sms\.templates\.page_first\.text: must not contain 【 or 】/,
    ],
    [
      'two variables side by side',
      withEntry('page_first', {
        ...page,
        text: '${name} ${what} 地址${address} 时间${time} 回${ack}接单 回${pass}转他人',
        tencent: { templateId: '1', params: ['name', 'what', 'address', 'time', 'ack', 'pass'] },
      }),
      /sms\.templates\.page_first\.text: Aliyun refuses two variables side by side/,
    ],
    [
      'a variable used twice',
      withEntry('page_first', {
        ...page,
        text: '${name}家中${what} 地址${address} 时间${time} 回${ack}接单 回${ack}转他人',
        tencent: { templateId: '1', params: ['name', 'what', 'address', 'time', 'ack', 'ack'] },
      }),
      /page_first\.text: Aliyun takes each variable once; "\$\{ack\}" is used again/,
    ],
    [
      'Tencent params not matching the text',
      withEntry('page_first', { ...page, tencent: { templateId: '1', params: ['name', 'address'] } }),
      /sms\.templates\.page_first\.tencent\.params: must list the text's variables in order/,
    ],
    [
      'a variable inside a link',
      withEntry('page_link', { text: '详情 https://care.example.cn/i/${code}', tencent: { templateId: '1', params: ['code'] } }),
      /sms\.templates\.page_link\.text: Tencent refuses a variable in a link/,
    ],
    [
      'a parameter the kind does not have',
      withEntry('resolved', { text: '${name}的求助已由${who}处理完毕。' }),
      /sms\.templates\.resolved\.text: variable "\$\{who\}" is not a parameter of resolved/,
    ],
    ['an unknown kind', { ...demo, page_firts: { text: '求助' } }, /sms\.templates\.page_firts: unknown message kind/],
    [
      'a bad Tencent template id',
      withEntry('resolved', { text: '${name}的求助已处理完毕。', tencent: { templateId: 'T-1', params: ['name'] } }),
      /sms\.templates\.resolved\.tencent\.templateId: expected a numeric Tencent template id/,
    ],
  ];
  for (const [what, catalogue, message] of cases) {
    it(what, () => {
      expect(registryProblems(catalogue)).toMatch(message);
    });
  }
});

describe('start-up', () => {
  it('refuses a catalogue that lacks a template the selected provider needs, in one line', () => {
    const { page_first: _dropped, ...partial } = demo;
    expect(() => catalogueInForce(partial, settings({ provider: 'tencent' }), URL_BASE)).toThrow(
      'sms.templates: SMS_PROVIDER=tencent needs a tencent template for every message kind; missing: page_first (see docs/providers.md)',
    );
    const noAliyun = withEntry('resolved', { text: demo.resolved!.text, tencent: demo.resolved!.tencent! });
    expect(() => catalogueInForce(noAliyun, settings({ provider: 'twilio', fallback: 'aliyun' }), URL_BASE)).toThrow(
      /SMS_FALLBACK_PROVIDER=aliyun needs an? aliyun template .*missing: resolved/,
    );
    // Free-text providers need no templates: the built-in texts fill any gap.
    expect(catalogueInForce(partial, settings({ provider: 'twilio' }), URL_BASE)).toBe(partial);
    expect(catalogueInForce(null, settings({ provider: 'tencent' }), URL_BASE)).toEqual(demo);
  });

  it('refuses the demo catalogue when TENCENT_SMS_MAX_PARAM is below what it needs', () => {
    expect(() => catalogueInForce(null, settings({ tencentMaxParam: 4 }), URL_BASE)).toThrow(
      /^sms\.templates\.page_first\.tencent\.params: "what" may hold 8 characters, more than the 4 Tencent takes \(TENCENT_SMS_MAX_PARAM\) \(and \d+ more\)$/,
    );
  });

  it('refuses a provider without its credentials, or one this build lacks, naming the variable', () => {
    const ctx = { log: silentLogger(), twilio: null };
    expect(() => buildSmsProviders({ provider: 'aliyun', fallback: null }, ctx)).toThrow(
      /^SMS_PROVIDER: aliyun needs ALIYUN_ACCESS_KEY_ID/,
    );
    expect(() => buildSmsProviders({ provider: 'outbox', fallback: 'tencent' }, ctx)).toThrow(
      /^SMS_FALLBACK_PROVIDER: tencent needs TENCENT_SECRET_ID/,
    );
    const outboxOnly = { outbox: SMS_PROVIDER_BUILDERS.outbox };
    expect(() => buildSmsProviders({ provider: 'twilio', fallback: null }, ctx, outboxOnly)).toThrow(
      /^SMS_PROVIDER: twilio is not available in this build \(available: outbox\)/,
    );
    expect(buildSmsProviders({ provider: 'outbox', fallback: null }, ctx).primary.name).toBe('outbox');
  });
});

describe('SMS_PROVIDER and SMS_FALLBACK_PROVIDER', () => {
  const twilio = { TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'token', TWILIO_FROM: '+15005550006' };

  it('default to twilio with the Twilio trio, else the outbox, with no fallback', () => {
    expect(loadConfig({}).sms).toMatchObject({ provider: 'outbox', fallback: null, tencentMaxParam: 12 });
    expect(loadConfig(twilio).sms).toMatchObject({ provider: 'twilio', fallback: null });
    expect(loadConfig({ ...twilio, SMS_FALLBACK_PROVIDER: 'outbox', TENCENT_SMS_MAX_PARAM: '0' }).sms).toMatchObject({
      provider: 'twilio',
      fallback: 'outbox',
      tencentMaxParam: null,
    });
  });

  it('refuse an unknown provider, twilio without its credentials, and a fallback equal to the provider', () => {
    expect(() => loadConfig({ SMS_PROVIDER: 'sms77' })).toThrow('SMS_PROVIDER: expected twilio, aliyun, tencent or outbox (got "sms77")');
    expect(() => loadConfig({ SMS_FALLBACK_PROVIDER: 'aliyunn' })).toThrow(
      /^SMS_FALLBACK_PROVIDER: expected twilio, aliyun, tencent or outbox/,
    );
    expect(() => loadConfig({ SMS_PROVIDER: 'twilio' })).toThrow(
      'SMS_PROVIDER: twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM (got "twilio")',
    );
    expect(() => loadConfig({ ...twilio, SMS_FALLBACK_PROVIDER: 'twilio' })).toThrow(
      /^SMS_FALLBACK_PROVIDER: must differ from SMS_PROVIDER/,
    );
    expect(() => loadConfig({ SMS_FALLBACK_PROVIDER: 'outbox' })).toThrow(/^SMS_FALLBACK_PROVIDER: must differ from SMS_PROVIDER/);
    expect(() => loadConfig({ TENCENT_SMS_DAILY_PER_NUMBER: '-1' })).toThrow(/^TENCENT_SMS_DAILY_PER_NUMBER: /);
  });
});

describe('rendering', () => {
  it('puts the label in 【】 before the free text, never in the template', () => {
    const intent = intentOf('resolved', { name: '张桂兰' });
    expect(freeText(demo.resolved!, intent)).toBe('张桂兰的求助已处理完毕。');
    expect(freeText(demo.digest_short!, intentOf('digest_short', { name: '李明', count: 3 }))).toBe(
      '【照护待办】李明，您有3项待办。详见工作台。',
    );
  });

  it('masks a sign-in code in the stored intent', () => {
    expect(maskedIntent(intentOf('sign_in_code', { code: '123456', minutes: 5 }))).toEqual({
      kind: 'sign_in_code',
      params: { code: '******', minutes: '5' },
    });
  });

  it("fits parameters to a provider's limit: an address keeps its end, a +86 phone loses its country code", () => {
    expect(
      fitParams(
        { address: '天津市河北区王串场街道安达里3号楼2门401', name: '欧阳长孙慕容司马端木令狐冲', phone: '+8613900000001', ack: '' },
        12,
      ),
    ).toEqual({
      address: '…安达里3号楼2门401',
      name: '欧阳长孙慕容司马端木令…',
      phone: '13900000001',
      ack: '-',
    });
    expect(fitParams({ address: '安达里3号楼2门401' }, null)).toEqual({ address: '安达里3号楼2门401' });
  });
});
