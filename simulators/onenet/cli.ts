// `npm run sim -- onenet …`: a OneNET-shaped pusher against a running gateway (URL check, heartbeats, SOS presses).
import { parseArgs } from 'node:util';
import { parseDuration, sleep } from '../common/duration.js';
import { OnenetPusher, runOnenetScenario } from './pusher.js';

export const ONENET_HELP = `Usage: npm run sim -- onenet --bridge ID --token TOKEN --dev DEV_ID [options]

Pushes to the gateway's /ingest/v1/<bridge> as China Mobile OneNET does: the URL check, then signed
plaintext pushes (msg, nonce, msg_signature = base64(md5(token + nonce + msg))).

  --url URL          gateway base URL (default http://127.0.0.1:$HTTP_PORT, port 8080)
  --bridge ID        the http bridge's id in the registry (kind http, auth onenet)
  --token TOKEN      the bridge's secret (OneNET's push token)
  --dev DEV_ID       OneNET device id = the device's externalId on that bridge
  --scenario         run the CI scenario once (URL check, online, heartbeat, SOS, a forged push) and exit
  --heartbeat D      heartbeat every D (default 60s)
  --sos-after D      one SOS press after D (default: none)
  --duration D       stop after D (default 5m)`;

export async function onenetMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      bridge: { type: 'string' },
      token: { type: 'string' },
      dev: { type: 'string' },
      scenario: { type: 'boolean' },
      heartbeat: { type: 'string' },
      'sos-after': { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${ONENET_HELP}\n`);
    return 0;
  }
  if (!values.bridge || !values.token || !values.dev) throw new Error('--bridge, --token and --dev are required (see --help)');
  const base = values.url ?? `http://127.0.0.1:${process.env.HTTP_PORT ?? '8080'}`;
  const pusher = new OnenetPusher({ url: `${base.replace(/\/$/, '')}/ingest/v1/${values.bridge}`, token: values.token });
  if (values.scenario) {
    const r = await runOnenetScenario(pusher, values.dev);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.urlCheck && r.online === 200 && r.heartbeat === 200 && r.sos === 200 && r.forged === 403 ? 0 : 1;
  }
  if (!(await pusher.verifyUrl())) throw new Error('the URL check failed: wrong bridge, token or URL');
  const every = parseDuration(values.heartbeat ?? '60s');
  const sosAt = values['sos-after'] ? Date.now() + parseDuration(values['sos-after']) : null;
  const end = Date.now() + parseDuration(values.duration ?? '5m');
  let sosSent = false;
  let failures = 0;
  let battery = 95;
  await pusher.push(pusher.lifecycle(values.dev, true));
  while (Date.now() < end) {
    if (sosAt !== null && !sosSent && Date.now() >= sosAt) {
      const answer = await pusher.pushUntilTaken(pusher.sos(values.dev));
      process.stdout.write(`SOS pushed: HTTP ${answer.status}\n`);
      sosSent = true;
      if (answer.status !== 200) failures++;
    }
    const answer = await pusher.push(pusher.heartbeat(values.dev, Math.round(battery)));
    if (answer.status !== 200) failures++;
    battery = Math.max(1, battery - 0.1);
    await sleep(Math.min(every, Math.max(0, end - Date.now())));
  }
  return failures === 0 ? 0 : 1;
}
