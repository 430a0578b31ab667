// One SMS provider's own cost, without the gateway around it: sends N pages one after the other through the provider
// class the gateway uses (official SDK) to its simulator in a child process, and reports, per send, the time from the
// call to the request's arrival at the simulator and the gateway thread's busy time (event-loop utilisation) spent on it.
// Usage: npx tsx bench/provider-send.ts [--providers aliyun,tencent,twilio] [--sends 300]
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AliyunSmsProvider } from '../gateway/notifiers/aliyun.js';
import { freeText } from '../gateway/notifiers/catalogue.js';
import { defaultCatalogue } from '../gateway/notifiers/kinds.js';
import type { SmsProvider } from '../gateway/notifiers/provider.js';
import { TencentSmsProvider } from '../gateway/notifiers/tencent.js';
import { TwilioProvider } from '../gateway/notifiers/twilio.js';
import { workerPage } from '../gateway/paging/messages.js';
import type { Logger } from '../gateway/core/logger.js';
import { SmsServerProcess } from './lib/sms-server-process.js';
import { BENCH_SMS_PROVIDERS, type BenchSmsProvider, type SmsServerSpec } from './lib/sms-servers.js';
import { summarize } from './lib/stats.js';

const PUBLIC_URL = 'http://127.0.0.1:9';
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function specOf(provider: BenchSmsProvider): SmsServerSpec {
  if (provider === 'twilio') return { provider, accountSid: `AC${'b'.repeat(32)}`, authToken: 'bench-token' };
  return {
    provider,
    catalogue: defaultCatalogue(PUBLIC_URL),
    signName: '安达里社区',
    keyId: provider === 'aliyun' ? 'LTAI5tBenchKey0001' : 'AKIDbenchsecretid000001',
    keySecret: `bench-${provider}-key-secret-0001`,
    sdkAppId: '1400009999',
    // Nothing listens there: the simulator's receipt pushes fail and are dropped, off this process.
    gatewayUrl: PUBLIC_URL,
    webhookKey: 'bench-key',
  };
}

function providerFor(spec: SmsServerSpec, url: string): SmsProvider {
  const catalogue = (): ReturnType<typeof defaultCatalogue> => defaultCatalogue(PUBLIC_URL);
  if (spec.provider === 'twilio')
    return new TwilioProvider({ accountSid: spec.accountSid, authToken: spec.authToken, from: '+15005550006', apiUrl: url, log: quiet });
  if (spec.provider === 'aliyun')
    return new AliyunSmsProvider({
      accessKeyId: spec.keyId,
      accessKeySecret: spec.keySecret,
      signName: spec.signName,
      endpoint: url,
      catalogue,
      log: quiet,
    });
  return new TencentSmsProvider({
    secretId: spec.keyId,
    secretKey: spec.keySecret,
    sdkAppId: spec.sdkAppId,
    signName: spec.signName,
    region: 'ap-guangzhou',
    endpoint: url,
    catalogue,
    log: quiet,
  });
}

async function measure(provider: BenchSmsProvider, sends: number): Promise<void> {
  const spec = specOf(provider);
  const server = new SmsServerProcess(spec);
  const { url } = await server.start();
  const sms = providerFor(spec, url);
  const catalogue = defaultCatalogue(PUBLIC_URL);
  const latency: number[] = [];
  const busy: number[] = [];
  for (let i = 0; i < sends + 20; i++) {
    const name = `老人${String(i).padStart(5, '0')}`;
    const intent = workerPage({
      resident: { id: `r-${i}`, name, address: '安达里3号楼2门401', family: [] } as never,
      type: 'sos',
      at: Date.now(),
      timeZone: 'Asia/Shanghai',
      step: 1,
      replyCode: 'A',
    });
    const entry = catalogue[intent.kind];
    const body = entry ? freeText(entry, intent) : name;
    const arrived = new Promise<number>((resolve) => {
      const on = (m: { body: string; receivedHr: number }): void => {
        if (!m.body.includes(name)) return;
        server.off('message', on);
        resolve(m.receivedHr);
      };
      server.on('message', on);
    });
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await sms.send({ id: `sms-${i}`, to: '+8613800000001', body, intent, priority: 'alarm', statusCallback: null });
    const at = await arrived;
    const elu = performance.eventLoopUtilization(elu0);
    if (i >= 20) {
      latency.push(at - t0);
      busy.push(elu.active);
    }
    await sleep(2);
  }
  const l = summarize(latency);
  const b = summarize(busy);
  console.log(
    `${provider.padEnd(8)} call -> request at simulator: p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms; ` +
      `gateway thread busy per send: p50 ${b.p50.toFixed(2)} p99 ${b.p99.toFixed(2)} ms (n=${l.n}; SDK on the ${sms.health?.().sender ?? 'event-loop'})`,
  );
  await sms.close?.();
  await server.stop();
}

const providers = (arg('--providers') ?? BENCH_SMS_PROVIDERS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((p): p is BenchSmsProvider => (BENCH_SMS_PROVIDERS as readonly string[]).includes(p));
const sends = Number(arg('--sends') ?? 300);
for (const p of providers) await measure(p, sends);
