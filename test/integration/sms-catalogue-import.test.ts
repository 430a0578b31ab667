// A registry import at runtime puts its SMS template catalogue in force at once (no restart), and one that could not be
// in force for the configured provider is refused before anything is written.
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { defaultCatalogue } from '../../gateway/notifiers/kinds.js';
import { registryTemplates } from '../../gateway/registry/demo.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, SIGN_NAME } from '../helpers/domestic-sms.js';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway | null = null;

afterEach(async () => {
  await t?.stop();
  t = null;
});

/** The built-in catalogue in the registry's form, each text changed by `change`, and without Aliyun's templates if asked. */
function templatesWith(change: (kind: string, text: string) => string, drop: 'aliyun' | null = null): ReturnType<typeof registryTemplates> {
  const templates = registryTemplates(defaultCatalogue('http://127.0.0.1'));
  for (const [kind, e] of Object.entries(templates)) {
    e.text = change(kind, e.text);
    if (drop === 'aliyun') delete e.aliyun;
  }
  return templates;
}

describe('SMS template catalogue imported at runtime', () => {
  it('pages with the imported text at once, without a restart', async () => {
    t = await startTestGateway();
    const g = t.gateway;
    const doc = { sms: { templates: templatesWith((kind, text) => (kind === 'page_first' ? text.replace('家中', '家中紧急') : text)) } };
    await importRegistryDocument({ store: g.store, log: silentLogger(), checkTemplates: (x) => g.checkCatalogue(x) }, doc);
    await g.registryChanged();

    const button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    try {
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      // The worker's first page, in the imported words (a page in the old words never matches).
      const page = await t.sms.waitForMessage((m) => m.body.includes('家中紧急'));
      expect(page.body).toMatch(/^【求助】.*家中紧急.*回1/);
    } finally {
      await button.endAsync();
    }
  });

  it('refuses a catalogue the configured provider cannot send, and keeps the one in force', async () => {
    t = await startTestGateway({
      env: {
        SMS_PROVIDER: 'aliyun',
        ALIYUN_ACCESS_KEY_ID: ALIYUN_KEY_ID,
        ALIYUN_ACCESS_KEY_SECRET: ALIYUN_KEY_SECRET,
        ALIYUN_SMS_SIGN_NAME: SIGN_NAME,
      },
    });
    const g = t.gateway;
    const before = await g.store.registry.getSetting('sms_templates');
    const doc = { sms: { templates: templatesWith((_kind, text) => text, 'aliyun') } };
    const refused = await importRegistryDocument(
      { store: g.store, log: silentLogger(), checkTemplates: (x) => g.checkCatalogue(x) },
      doc,
    ).then(
      () => null,
      (err: unknown) => err,
    );
    if (!(refused instanceof GatewayError)) throw new Error(`expected the import to be refused, got ${String(refused)}`);
    expect(refused.code).toBe('GW_ERR_REGISTRY_INVALID');
    expect(refused.message).toMatch(/SMS_PROVIDER=aliyun needs a aliyun template for every message kind; missing: page_first/);
    expect(await g.store.registry.getSetting('sms_templates')).toBe(before);
  });
});
