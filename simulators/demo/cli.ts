// `npm run demo`: one command for a live neighbourhood (gateway, SMS simulator with phones, device fleet, a slow stream of events), stopped cleanly by Ctrl-C.
import { randomBytes, randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../scenarios/runner.js';
import { LiveDemo } from './demo.js';

const HELP = `Usage: npm run demo -- [options]

Starts, with one command: the gateway (\`npm start\`, embedded defaults, the demo neighbourhood) with
its own DATA_DIR; the Twilio-compatible SMS simulator (the gateway really sends through the twilio SDK)
and its phones page, where simulated workers and families answer "1" after a while, or never; every
demo device, talking as real fixtures do; and a slow stream of events: an SOS about every 45 s, a fall
about every 90 s (half of them cancelled), now and then a dying battery, and every few minutes a
building losing power for a minute. Ctrl-C stops everything.

  --data-dir DIR      the demo's DATA_DIR (default ./data-demo; kept between runs)
  --http-port N       gateway HTTP port (default $HTTP_PORT or 8080)
  --mqtt-port N       gateway MQTT port (default $MQTT_PORT or 1883)
  --sms-port N        SMS simulator and phones page (default $SMS_SIM_PORT or 8090)
  --sms-host H        address the SMS simulator binds (default 127.0.0.1)
  --speed X           everything in the stream, and the phones' replies, X times sooner (default 1)
  --seed N            random seed of the stream (default: random, printed)
  -h, --help          this text

The gateway also takes its usual variables (MQTT_HOST, HTTP_HOST, TZ, LOG_LEVEL, INFLUX_*, …);
PUBLIC_URL defaults to http://localhost:<http port>, API_TOKEN to a random token (printed).`;

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

/** The environment the gateway inherits: this one's, without what the demo decides itself. */
function gatewayEnv(): Record<string, string> {
  const decided = new Set(['DATA_DIR', 'REGISTRY_FILE', 'HTTP_PORT', 'MQTT_PORT', 'PUBLIC_URL', 'API_TOKEN', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM', 'TWILIO_API_URL']);
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
    `  Phones      ${a.phones}   (every SMS as a phone shows it; you can reply from there)`,
    `  API         curl -s -H 'Authorization: Bearer ${apiToken}' ${a.api}`,
    `  MQTT        ${a.mqtt}   (${a.devices} simulated devices online; registry ${a.registry})`,
    `  Stream      an SOS about every ${Math.round(45 / speed)} s, falls, dying batteries, power cuts (seed ${seed}${speed === 1 ? '' : `, speed ${speed}`})`,
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
