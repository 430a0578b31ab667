// Test helpers for the domestic SMS providers: a template catalogue that passes both providers' rules, and credentials.
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';

export const SIGN_NAME = '安达里社区';
export const ALIYUN_KEY_ID = 'LTAI5tTestKey0001';
export const ALIYUN_KEY_SECRET = 'aliyun-test-secret-000000000001';
export const TENCENT_SECRET_ID = 'AKIDtestsecretid000001';
export const TENCENT_SECRET_KEY = 'tencent-test-secret-key-0000001';
export const TENCENT_APP_ID = '1400006666';
export const WEBHOOK_KEY = 'webhook-key-0123456789abcdef';

/** Kinds with templates for both providers, and one (`digest`) that Tencent has no template for. */
export const TEST_CATALOGUE: TemplateCatalogue = {
  worker_page: {
    text: '${resident}在${address}求助，回1接单，回2转交。',
    aliyun: { templateCode: 'SMS_400000001' },
    tencent: { templateId: '2000001', params: ['resident', 'address'] },
  },
  family_alert: {
    text: '您的家人${resident}发出求助，社区正在处理。',
    aliyun: { templateCode: 'SMS_400000002' },
    tencent: { templateId: '2000002', params: ['resident'] },
  },
  digest: {
    text: '今日设备提醒：${count}项待处理。',
    aliyun: { templateCode: 'SMS_400000003' },
  },
};

/** What the simulators know as approved: everything in the catalogue except `unapproved`'s template. */
export function pageIntent(resident = '张桂兰', address = '3号楼2门401'): { kind: string; params: Record<string, string> } {
  return { kind: 'worker_page', params: { resident, address } };
}
