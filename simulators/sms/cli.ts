// `npm run sim:sms`: a local Twilio-, Aliyun- or Tencent-compatible SMS server with phones that answer pages, and a web
// page of every phone's messages.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimRegistry } from '../common/registry.js';
import {
  parseDefaultFlag,
  parseReplyFlag,
  parseResponderYaml,
  responderSet,
  type ResponderConfig,
  type ResponderRule,
} from './responders.js';
import { SmsSimulator } from './sms-simulator.js';
import { domesticEnv, type DomesticSimSetup } from './domestic-network.js';
import { loadCatalogue } from './catalogue-file.js';
import { templateSheet } from './template-sheet.js';
import { defaultCatalogue } from '../../gateway/notifiers/kinds.js';

const HELP = `Usage: npm run sim:sms -- [options]

Runs a Twilio-compatible SMS API for the gateway (TWILIO_API_URL), with simulated phones: each phone
replies (e.g. "1") some time after a page reaches it, or never. Replies go to the gateway's inbound
webhook (PUBLIC_URL/webhooks/twilio/sms) signed with X-Twilio-Signature, as Twilio sends them.
GET / on the simulator's port shows every phone and its messages; you can also reply from there.

  --provider NAME          twilio (default), aliyun or tencent: which API to answer and in whose format replies
                           and receipts reach the gateway (Aliyun SmsReport/SmsUp, Tencent status/reply callbacks)
  --templates FILE         aliyun/tencent: the approved templates, a registry (its sms.templates) or the catalogue
                           itself in JSON or YAML (default: the registry's)
  --sign-name NAME         aliyun/tencent: the approved signature (default $ALIYUN_SMS_SIGN_NAME / $TENCENT_SMS_SIGN_NAME)
  --webhook-key KEY        aliyun/tencent: the gateway's WEBHOOK_KEY, put on every callback URL (default $WEBHOOK_KEY);
                           without one nothing is pushed (the gateway pulls Tencent's; Aliyun replies need it)
  --port N                 port to listen on (default 8090)
  --host H                 address to bind (default 127.0.0.1)
  --gateway URL            the gateway's PUBLIC_URL (default $PUBLIC_URL, or http://localhost:8080)
  --reach URL              where the gateway is reached from here, if not at --gateway (port mapping)
  --responders FILE        YAML file of phones and how they answer (format below)
  --reply PHONE=TEXT[@D]   this phone replies TEXT after D (e.g. +8613900000001=1@5s); PHONE=never: never.
                           Repeatable; wins over the file.
  --default never|TEXT@D   how phones without a rule behave (default: never)
  --trigger TEXT           only messages containing TEXT are answered (default 回1, as in every page)
  --registry FILE          registry for names on the page and "who:" entries (default $REGISTRY_FILE, or
                           $DATA_DIR/demo-registry.yaml when it exists)
  --account-sid SID        Twilio account SID to accept (default $TWILIO_ACCOUNT_SID, or a random one)
  --auth-token TOKEN       auth token to accept and sign with (default $TWILIO_AUTH_TOKEN, or a random one)
  --tz ZONE                time zone of the times on the page (default $GATEWAY_TZ, $TZ or Asia/Shanghai)
  --print-templates        print the template catalogue as the text to submit for approval and exit: with
                           --provider aliyun or tencent one tab-separated line per template in that provider's
                           form; otherwise the table of both (--templates, the registry's, or the demo catalogue
                           with the --gateway URL as the fixed link)
  -h, --help               this text

Responder file:
  default: never                     # or { reply: "1", after: 30s }
  trigger: 回1
  phones:
    - { phone: "+8613900000001", reply: "1", after: 5s }
    - { phone: "+8613900000002", reply: never }
    - { who: worker w-03, reply: "2", after: 2s }     # needs a registry; also family r-001, duty andali

Start the gateway with the TWILIO_* lines this command prints, e.g.
  npm run sim:sms -- --reply +8613900000001=1@10s
  TWILIO_API_URL=http://127.0.0.1:8090 TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… TWILIO_FROM=+15005550006 npm start`;

function defaultRegistry(): string | null {
  if (process.env.REGISTRY_FILE) return process.env.REGISTRY_FILE;
  const demo = join(process.env.DATA_DIR ?? './data', 'demo-registry.yaml');
  return existsSync(demo) ? demo : null;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      gateway: { type: 'string' },
      reach: { type: 'string' },
      responders: { type: 'string' },
      reply: { type: 'string', multiple: true },
      default: { type: 'string' },
      trigger: { type: 'string' },
      registry: { type: 'string' },
      'account-sid': { type: 'string' },
      'auth-token': { type: 'string' },
      tz: { type: 'string' },
      provider: { type: 'string' },
      templates: { type: 'string' },
      'sign-name': { type: 'string' },
      'webhook-key': { type: 'string' },
      'print-templates': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}" (see --help)`);
  const port = Number(values.port ?? '8090');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected a port number, got "${values.port}"`);

  const registryPath = values.registry ?? defaultRegistry();
  const registry = registryPath ? await SimRegistry.load(registryPath) : null;
  const config: ResponderConfig = values.responders
    ? parseResponderYaml(readFileSync(values.responders, 'utf8'), values.responders)
    : { phones: [] };
  const set = responderSet(config, registry ? (who) => registry.resolve(who) : null);
  // Flags win over the file: they go first, and the first rule for a phone is the one used.
  const flagRules: ResponderRule[] = (values.reply ?? []).map(parseReplyFlag);
  set.rules = [...flagRules, ...set.rules];
  if (values.default) set.fallback = parseDefaultFlag(values.default);
  if (values.trigger) set.trigger = values.trigger;

  const provider = values.provider ?? 'twilio';
  if (provider !== 'twilio' && provider !== 'aliyun' && provider !== 'tencent')
    throw new Error(`--provider: expected twilio, aliyun or tencent, got "${provider}"`);
  const gatewayUrl = values.gateway ?? process.env.PUBLIC_URL ?? 'http://localhost:8080';
  if (values['print-templates']) {
    const source = values.templates ?? registryPath;
    const catalogue = source ? loadCatalogue(source, '--templates') : defaultCatalogue(gatewayUrl);
    process.stdout.write(`${templateSheet(catalogue, provider === 'twilio' ? 'table' : provider)}
`);
    return 0;
  }
  const env = process.env;
  const signName = values['sign-name'] ?? (provider === 'aliyun' ? env.ALIYUN_SMS_SIGN_NAME : env.TENCENT_SMS_SIGN_NAME) ?? '安达里社区';
  const webhookKey = values['webhook-key'] ?? env.WEBHOOK_KEY ?? null;
  const domestic: DomesticSimSetup | undefined =
    provider === 'twilio'
      ? undefined
      : {
          provider,
          catalogue: loadCatalogue(values.templates ?? registryPath, '--templates'),
          signNames: [signName],
          webhookKey,
          credentials:
            provider === 'aliyun'
              ? {
                  ...(env.ALIYUN_ACCESS_KEY_ID ? { id: env.ALIYUN_ACCESS_KEY_ID } : {}),
                  ...(env.ALIYUN_ACCESS_KEY_SECRET ? { secret: env.ALIYUN_ACCESS_KEY_SECRET } : {}),
                }
              : {
                  ...(env.TENCENT_SECRET_ID ? { id: env.TENCENT_SECRET_ID } : {}),
                  ...(env.TENCENT_SECRET_KEY ? { secret: env.TENCENT_SECRET_KEY } : {}),
                  ...(env.TENCENT_SMS_SDK_APP_ID ? { sdkAppId: env.TENCENT_SMS_SDK_APP_ID } : {}),
                },
        };
  const accountSid = values['account-sid'] ?? process.env.TWILIO_ACCOUNT_SID;
  const authToken = values['auth-token'] ?? process.env.TWILIO_AUTH_TOKEN;
  const label = (phone: string): string | null => {
    const l = registry?.label(phone);
    return l && l !== phone ? l : null;
  };
  const sim = new SmsSimulator({
    host: values.host ?? '127.0.0.1',
    port,
    gatewayUrl,
    ...(values.reach ? { reachGatewayAt: values.reach } : {}),
    ...(accountSid ? { accountSid } : {}),
    ...(authToken ? { authToken } : {}),
    set,
    label,
    knownPhones: set.rules.map((r) => r.phone),
    timeZone: values.tz ?? process.env.GATEWAY_TZ ?? process.env.TZ ?? 'Asia/Shanghai',
    ...(domestic ? { domestic } : {}),
  });
  const { url } = await sim.start();
  const who = (phone: string): string => (label(phone) ? `${phone} (${label(phone)})` : phone);
  if (sim.domestic) sim.domestic.on('message', (m) => process.stdout.write(`-> ${who(m.to)}: ${m.body}\n`));
  else sim.twilio.on('message', (m) => process.stdout.write(`-> ${who(m.to)}: ${m.body}\n`));
  sim.responders.on('reply', (r) => process.stdout.write(`<- ${who(r.from)}: ${r.body}  [${r.error ?? `webhook ${r.httpStatus}`}]\n`));

  const envLine = sim.domestic
    ? Object.entries({
        ...domesticEnv(sim.domestic, signName, url),
        ...(webhookKey ? { WEBHOOK_KEY: webhookKey } : {}),
        PUBLIC_URL: gatewayUrl,
      })
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : `TWILIO_API_URL=${url} TWILIO_ACCOUNT_SID=${sim.twilio.accountSid} TWILIO_AUTH_TOKEN=${sim.twilio.authToken} TWILIO_FROM=+15005550006 PUBLIC_URL=${gatewayUrl}`;
  const replyPath =
    provider === 'aliyun' ? '/webhooks/aliyun/sms-up' : provider === 'tencent' ? '/webhooks/tencent/sms-reply' : '/webhooks/twilio/sms';
  process.stdout.write(
    [
      `SMS simulator (${provider}) on ${url}  (phones: ${url}/)`,
      provider !== 'twilio' && !webhookKey
        ? `no --webhook-key: nothing is pushed${provider === 'tencent' ? ' (the gateway pulls receipts and replies)' : '; Aliyun replies cannot reach the gateway'}`
        : `replies go to ${gatewayUrl}${replyPath}${values.reach ? ` via ${values.reach}` : ''}`,
      `${set.rules.length} phone rules; other phones: ${set.fallback.reply === null ? 'never reply' : `reply "${set.fallback.reply}"`}${registry ? `; names from ${registry.path}` : ''}`,
      '',
      'Start the gateway with:',
      `  ${envLine} npm start`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sim.stop();
  const sent = (sim.domestic?.messages() ?? sim.twilio.messages()).length;
  process.stdout.write(`\nSMS simulator stopped: ${sent} messages received, ${sim.responders.replies().length} replies sent\n`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`sim:sms: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
