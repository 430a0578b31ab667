// `npm run demo`: one command for a live neighbourhood (gateway, SMS simulator with phones, device fleet, a slow stream of events), stopped cleanly by Ctrl-C.
import { randomBytes, randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../scenarios/runner.js';
import { LiveDemo } from './demo.js';
import { DEFAULT_SIGN_NAME, chooseSmsProvider, chooseVoiceProvider } from './providers.js';

const HELP = `Usage: npm run demo -- [options]

Starts, with one command: the gateway (\`npm start\`, embedded defaults, the demo neighbourhood) with
its own DATA_DIR; a local copy of the chosen SMS provider (the gateway really sends through that
provider's official SDK, signatures checked as the real service checks them) and a voice simulator,
with a phones page where simulated workers and families get every SMS and call, answer "1" after a
while or never, and where you can reply and answer calls with a keypad; every demo device, talking as
real fixtures do; and a slow stream of events: an SOS about every 45 s, a fall about every 90 s (half
of them cancelled), now and then a dying battery, and every few minutes a building losing power for a
minute. Ctrl-C stops everything.

  --provider NAME     twilio (default, or $SMS_PROVIDER), aliyun or tencent: who carries the SMS. Aliyun and
                      Tencent send only the approved templates (the demo registry's catalogue) and push
                      receipts and replies to the gateway's callbacks with WEBHOOK_KEY (random unless set)
  --voice NAME        who places the calls to a worker whose page is unanswered VOICE_AFTER_SECONDS (60) later:
                      twilio (Twilio Voice, the default with --provider twilio), tencent (Tencent VMS, the
                      default with tencent, and with aliyun: Aliyun voice is not in this build, and Aliyun SMS
                      beside Tencent VMS is a real deployment), or off; default $VOICE_PROVIDER when set
  --phones auto|manual  auto (default): two in three workers reply "1", the rest pick up the call and press 1,
                      some family members reply; manual: nobody answers anything, you do it on the phones page
  --stream on|off     off: no simulated alarms, only the buttons you press (default on)
  --data-dir DIR      the demo's DATA_DIR (default ./data-demo; kept between runs)
  --http-port N       gateway HTTP port (default $HTTP_PORT or 8080)
  --mqtt-port N       gateway MQTT port (default $MQTT_PORT or 1883)
  --sms-port N        SMS simulator and phones page (default $SMS_SIM_PORT or 8090)
  --sms-host H        address the SMS simulator binds (default 127.0.0.1)
  --speed X           everything in the stream, and the phones' replies, X times sooner (default 1)
  --seed N            random seed of the stream (default: random, printed)
  -h, --help          this text

The gateway also takes its usual variables (MQTT_HOST, HTTP_HOST, TZ, LOG_LEVEL, INFLUX_*,
VOICE_AFTER_SECONDS, …); PUBLIC_URL defaults to http://localhost:<http port>, API_TOKEN to a random token
(printed), the approved signature to $TENCENT_SMS_SIGN_NAME / $ALIYUN_SMS_SIGN_NAME or ${DEFAULT_SIGN_NAME}.
The provider variables (TWILIO_*, ALIYUN_*, TENCENT_*, SMS_PROVIDER, VOICE_PROVIDER) are the demo's own:
it points them at its simulators, never at a real provider.`;

function port(name: string, flag: string | undefined, env: string | undefined, fallback: number): number {
  const raw = flag ?? env;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}: expected a port number 1-65535, got "${raw}"`);
  return n;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got "${raw}"`);
  return n;
}

function choice<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => a === raw);
  if (!found) throw new Error(`${name}: expected ${allowed.join(' or ')}, got "${raw}"`);
  return found;
}

// The provider accounts and endpoints are the demo's: it points every SDK at its own simulators, so no page of a demo
// run can reach a real phone through credentials left in the shell. (Caps and limits, e.g. TENCENT_SMS_DAILY_PER_NUMBER, pass.)
const PROVIDER_ACCOUNT = [
  'SMS_PROVIDER',
  'SMS_FALLBACK_PROVIDER',
  'VOICE_PROVIDER',
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_FROM',
  'TWILIO_API_URL',
  'ALIYUN_ACCESS_KEY_ID',
  'ALIYUN_ACCESS_KEY_SECRET',
  'ALIYUN_SMS_SIGN_NAME',
  'ALIYUN_SMS_ENDPOINT',
  'ALIYUN_VOICE_ENDPOINT',
  'ALIYUN_VOICE_SHOW_NUMBER',
  'TENCENT_SECRET_ID',
  'TENCENT_SECRET_KEY',
  'TENCENT_SMS_SDK_APP_ID',
  'TENCENT_SMS_SIGN_NAME',
  'TENCENT_SMS_ENDPOINT',
  'TENCENT_VMS_ENDPOINT',
  'TENCENT_VMS_SDK_APP_ID',
  'TENCENT_VMS_TEMPLATE_ID',
];

/** The environment the gateway inherits: this one's, without what the demo decides itself. */
function gatewayEnv(): Record<string, string> {
  const decided = new Set(['DATA_DIR', 'REGISTRY_FILE', 'HTTP_PORT', 'MQTT_PORT', 'PUBLIC_URL', 'API_TOKEN', ...PROVIDER_ACCOUNT]);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !decided.has(k) && !k.startsWith('npm_')) env[k] = v;
  // The gateway's JSON log is kept in memory, not shown: warnings and errors are enough.
  env.LOG_LEVEL ??= 'warn';
  return env;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      'http-port': { type: 'string' },
      'mqtt-port': { type: 'string' },
      'sms-port': { type: 'string' },
      'sms-host': { type: 'string' },
      speed: { type: 'string' },
      seed: { type: 'string' },
      provider: { type: 'string' },
      voice: { type: 'string' },
      phones: { type: 'string' },
      stream: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}" (see --help)`);
  const httpPort = port('--http-port', values['http-port'], process.env.HTTP_PORT, 8080);
  const mqttPort = port('--mqtt-port', values['mqtt-port'], process.env.MQTT_PORT, 1883);
  const smsPort = port('--sms-port', values['sms-port'], process.env.SMS_SIM_PORT, 8090);
  const speed = positive('--speed', values.speed, 1);
  const provider = chooseSmsProvider(values.provider, process.env.SMS_PROVIDER);
  const voice = chooseVoiceProvider(values.voice, process.env.VOICE_PROVIDER, provider);
  const phones = choice('--phones', values.phones, ['auto', 'manual'] as const, 'auto');
  const stream = choice('--stream', values.stream, ['on', 'off'] as const, 'on') === 'on';
  const signName = (provider === 'aliyun' ? process.env.ALIYUN_SMS_SIGN_NAME : process.env.TENCENT_SMS_SIGN_NAME) ?? DEFAULT_SIGN_NAME;
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Math.trunc(positive('--seed', values.seed, 1));
  const publicUrl = (process.env.PUBLIC_URL ?? `http://localhost:${httpPort}`).replace(/\/+$/, '');
  const apiToken = process.env.API_TOKEN ?? `demo-${randomBytes(12).toString('hex')}`;
  const say = (line: string): void => {
    process.stdout.write(`${new Date().toTimeString().slice(0, 8)}  ${line}\n`);
  };

  const demo = new LiveDemo({
    projectRoot: PROJECT_ROOT,
    dataDir: resolve(values['data-dir'] ?? './data-demo'),
    httpPort,
    mqttPort,
    smsPort,
    smsHost: values['sms-host'] ?? '127.0.0.1',
    publicUrl,
    apiToken,
    speed,
    seed,
    timeZone: process.env.GATEWAY_TZ ?? process.env.TZ ?? 'Asia/Shanghai',
    provider,
    voice,
    signName,
    phones,
    stream,
    env: gatewayEnv(),
    say,
  });

  // Ctrl-C while starting must stop what has started too. One Ctrl-C may arrive twice (from the terminal to the
  // whole process group, and relayed again by npm and tsx), so only a signal a second after the first forces an exit.
  let firstSignalAt = 0;
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<string>((resolveStop) => {
    stopRequested = () => resolveStop('stopped');
  });
  const onSignal = (): void => {
    const now = Date.now();
    if (firstSignalAt === 0) firstSignalAt = now;
    else if (now - firstSignalAt > 1000) {
      demo.killNow();
      process.exit(130);
    }
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const starting = demo.start();
  const started = await Promise.race([starting.then((a) => ({ a })), stopped.then(() => null)]);
  if (!started) {
    await demo.stop();
    await starting.catch(() => undefined);
    say('demo: stopped before it was up');
    return 0;
  }
  const a = started.a;
  const lines = [
    '',
    '  care gateway live demo is running',
    `  Dashboard   ${a.dashboard}`,
    `  Phones      ${a.phones}   (every SMS and call as a phone shows it; reply, or answer a call with its keypad)`,
    `  Providers   ${a.providers}`,
    `  API         curl -s -H 'Authorization: Bearer ${apiToken}' ${a.api}`,
    `  MQTT        ${a.mqtt}   (${a.devices} simulated devices online; registry ${a.registry})`,
    stream
      ? `  Stream      an SOS about every ${Math.round(45 / speed)} s, falls, dying batteries, power cuts (seed ${seed}${speed === 1 ? '' : `, speed ${speed}`})`
      : '  Stream      off: only the buttons you press raise alarms',
    ...(phones === 'manual' ? ['  Phones      manual: nobody answers a text or a call unless you do, on the phones page'] : []),
    ...(a.pressButton ? ['', '  Press a button yourself:', `  ${a.pressButton}`] : []),
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const crash = demo.gatewayExited().then((why) => `the gateway exited unexpectedly (${why})`);
  const reason = await Promise.race([stopped, crash]);
  say(`demo: stopping (${reason === 'stopped' ? 'signal' : reason})…`);
  say(`demo: ${demo.summary()}`);
  await demo.stop();
  say('demo: stopped');
  return reason === 'stopped' ? 0 : 1;
}

try {
  const code = await main(process.argv.slice(2));
  // Sockets of the simulated devices may linger a moment after their goodbye; nothing is left to do.
  process.exit(code);
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
