// The demo's provider choice (flag, then SMS_PROVIDER / VOICE_PROVIDER, then the provider's own voice), its refusals,
// and the template sheet that `npm run sim:sms -- --print-templates` prints and docs/providers.md carries.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultCatalogue } from '../../gateway/notifiers/kinds.js';
import type { PhoneEntry } from '../../simulators/common/registry.js';
import { demoCallAnswers, demoResponderRules } from '../../simulators/demo/phones.js';
import { chooseSmsProvider, chooseVoiceProvider, demoCatalogue, describeProviders } from '../../simulators/demo/providers.js';
import { templateSheet } from '../../simulators/sms/template-sheet.js';

describe('demo providers', () => {
  it('takes --provider, else SMS_PROVIDER, else twilio; refuses anything else naming where it came from', () => {
    expect(chooseSmsProvider(undefined, undefined)).toBe('twilio');
    expect(chooseSmsProvider(undefined, '')).toBe('twilio');
    expect(chooseSmsProvider(undefined, 'tencent')).toBe('tencent');
    expect(chooseSmsProvider('aliyun', 'tencent')).toBe('aliyun');
    expect(() => chooseSmsProvider(undefined, 'outbox')).toThrow('SMS_PROVIDER: the demo runs on twilio, aliyun or tencent, got "outbox"');
    expect(() => chooseSmsProvider('sms', undefined)).toThrow('--provider: the demo runs on twilio, aliyun or tencent, got "sms"');
  });

  it('calls through the provider own voice, Tencent VMS for Aliyun, and refuses Aliyun voice', () => {
    expect(chooseVoiceProvider(undefined, undefined, 'twilio')).toBe('twilio');
    expect(chooseVoiceProvider(undefined, undefined, 'tencent')).toBe('tencent');
    expect(chooseVoiceProvider(undefined, undefined, 'aliyun')).toBe('tencent');
    expect(chooseVoiceProvider(undefined, 'twilio', 'aliyun')).toBe('twilio');
    expect(chooseVoiceProvider('off', 'twilio', 'tencent')).toBe('off');
    expect(() => chooseVoiceProvider(undefined, 'aliyun', 'aliyun')).toThrow(
      /^VOICE_PROVIDER: Aliyun voice calls are not available in this build/,
    );
    expect(() => chooseVoiceProvider('sip', undefined, 'twilio')).toThrow('--voice: expected twilio, tencent or off, got "sip"');
    expect(describeProviders('aliyun', 'tencent')).toContain('calls Tencent VMS (Aliyun voice is not in this build)');
  });

  it('approves, before the first start, the catalogue the gateway writes into a new demo registry', () => {
    expect(demoCatalogue('/nonexistent/demo-registry.yaml', 'http://127.0.0.1:18080')).toEqual(defaultCatalogue('http://127.0.0.1:18080'));
  });
});

describe('demo phones that take calls', () => {
  const phones: PhoneEntry[] = [
    ...Array.from({ length: 30 }, (_, i): PhoneEntry => ({
      phone: `+86139000000${String(i).padStart(2, '0')}`,
      role: 'worker',
      ref: `w-${i}`,
      name: `w${i}`,
    })),
    { phone: '+8613800000001', role: 'family', ref: 'r-001', name: 'son' },
    { phone: '+8618200000001', role: 'duty', ref: 'andali', name: 'duty' },
  ];

  it('are exactly the workers who never text back; they answer within 5-15 s and press 1, sooner at a higher speed', () => {
    const silent = demoResponderRules(phones, { speed: 1 })
      .filter((r) => r.reply === null && r.phone.startsWith('+86139'))
      .map((r) => r.phone);
    const answers = demoCallAnswers(phones, { speed: 1 });
    expect(silent.length).toBeGreaterThan(0);
    expect([...answers.keys()].sort()).toEqual(silent.sort());
    for (const a of answers.values()) {
      expect(a.key).toBe('1');
      expect(a.answerAfterMs).toBeGreaterThanOrEqual(5000);
      expect(a.answerAfterMs).toBeLessThanOrEqual(15_000);
    }
    const fast = demoCallAnswers(phones, { speed: 10 });
    const first = silent[0] ?? '';
    expect(Math.abs((fast.get(first)?.answerAfterMs ?? 0) - (answers.get(first)?.answerAfterMs ?? 0) / 10)).toBeLessThanOrEqual(1);
  });
});

describe('template sheet', () => {
  const catalogue = defaultCatalogue('https://care.example.cn');

  it('is the table in docs/providers.md, so the docs show exactly the demo catalogue', () => {
    const docs = readFileSync(new URL('../../docs/providers.md', import.meta.url), 'utf8');
    expect(docs).toContain(templateSheet(catalogue, 'table'));
  });

  it('gives Tencent the positional form in the order of its params, and every Aliyun template as written', () => {
    const tencent = templateSheet(catalogue, 'tencent').split('\n').slice(1);
    const aliyun = templateSheet(catalogue, 'aliyun').split('\n').slice(1);
    const templated = Object.entries(catalogue).filter(([, e]) => e.tencent);
    expect(tencent).toHaveLength(templated.length);
    expect(aliyun).toHaveLength(templated.length);
    for (const line of tencent) {
      const [kind, , text, id] = line.split('\t');
      const entry = catalogue[kind ?? ''];
      expect(text).not.toContain('${');
      expect(id).toBe(entry?.tencent?.templateId);
      expect(text?.match(/\{\d+\}/g)?.length ?? 0).toBe(entry?.tencent?.params.length);
    }
    expect(tencent[0]).toBe('page_first\t通知短信 (notification)\t{1}家中{2} 地址{3} 时间{4} 回{5}接单 回{6}转他人\t2460100');
    expect(aliyun.find((l) => l.startsWith('sign_in_code\t'))).toContain('验证码');
  });
});
