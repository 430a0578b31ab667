// The live demo: `npm start` as a child, a Twilio-, Aliyun- or Tencent-compatible SMS simulator with answering phones, a
// voice simulator, the whole demo fleet, and a slow stream of events.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PhoneAction } from '../common/phone-calls.js';
import { Random } from '../common/random.js';
import { SimRegistry } from '../common/registry.js';
import { Fleet, QUIET_PLAN, type FleetPlan } from '../fleet/fleet.js';
import { FleetStats, progressLine } from '../fleet/stats.js';
import { GatewayChild, describeExit } from '../scenarios/gateway-child.js';
import { DEFAULT_TRIGGER, NEVER, type ResponderSet } from '../sms/responders.js';
import { domesticEnv } from '../sms/domestic-network.js';
import { SmsSimulator } from '../sms/sms-simulator.js';
import { TencentVmsSimServer } from '../voice/tencent-vms-server.js';
import { demoCallAnswers, demoResponderRules, type CallAnswer } from './phones.js';
import {
  demoCatalogue,
  describeProviders,
  domesticSetup,
  randomTencentKeys,
  type DemoSmsProvider,
  type DemoVoiceProvider,
  type TencentKeys,
} from './providers.js';
import { DEMO_TIMING, DemoStream, scaledTiming } from './stream.js';

export interface LiveDemoOptions {
  /** Where `npm start` runs. */
  projectRoot: string;
  /** The demo's own DATA_DIR (its demo neighbourhood and database survive between runs). */
  dataDir: string;
  httpPort: number;
  mqttPort: number;
  smsPort: number;
  smsHost: string;
  /** The gateway's PUBLIC_URL: links in SMS, webhook signatures. */
  publicUrl: string;
  apiToken: string;
  /** Everything in the stream, and the phones' reply delays, come this many times sooner. */
  speed: number;
  seed: number;
  timeZone: string;
  /** Who carries the SMS (its compatible simulator is started), and who places the calls. */
  provider: DemoSmsProvider;
  voice: DemoVoiceProvider;
  /** The approved signature the domestic simulator accepts (ALIYUN_SMS_SIGN_NAME / TENCENT_SMS_SIGN_NAME). */
  signName: string;
  /** `auto`: simulated people answer texts and calls by the demo's rules; `manual`: nobody does, you answer on the phones page. */
  phones: 'auto' | 'manual';
  /** Whether the stream of simulated alarms runs; without it only the buttons you press raise alarms. */
  stream: boolean;
  /** Environment for the gateway (PATH, HOME, LOG_LEVEL, TZ, INFLUX_*, …); the demo sets the rest. */
  env: Record<string, string>;
  say: (line: string) => void;
}

/** Where everything runs, once started. */
export interface DemoAddresses {
  dashboard: string;
  api: string;
  phones: string;
  mqtt: string;
  /** A shell line that presses the demo button (not simulated by the fleet, so it is yours). */
  pressButton: string | null;
  registry: string;
  devices: number;
  /** What carries the SMS and places the calls, in words. */
  providers: string;
}

const FROM_NUMBER = '+15005550006';

// Everyday traffic of the fleet; alarms come from the stream, not at random.
const DEMO_PLAN: FleetPlan = { ...QUIET_PLAN, heartbeatMs: 60_000, telemetryMs: 300_000, motionPerHour: 12, drainPerHour: 0.5 };

export class LiveDemo {
  private sim: SmsSimulator | null = null;
  /** The Tencent VMS simulator, when the demo runs with VOICE_PROVIDER=tencent. */
  private vms: TencentVmsSimServer | null = null;
  private gateway: GatewayChild | null = null;
  private fleet: Fleet | null = null;
  private stream: DemoStream | null = null;
  private status: NodeJS.Timeout | null = null;
  private stats: FleetStats | null = null;
  private registry: SimRegistry | null = null;
  private stopping = false;
  // Filled once the gateway has written the demo neighbourhood; the simulator reads both live.
  private readonly responders: ResponderSet = { rules: [], fallback: { ...NEVER }, trigger: DEFAULT_TRIGGER };
  private readonly knownPhones: string[] = [];
  private callAnswers: ReadonlyMap<string, CallAnswer> = new Map();
  private readonly callTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: LiveDemoOptions) {}

  /** Starts every part in order; on any failure stops what had started and throws. */
  async start(): Promise<DemoAddresses> {
    try {
      return await this.startParts();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Resolves when the gateway process ends by itself (a crash): the demo should stop then. */
  async gatewayExited(): Promise<string> {
    const gateway = this.gateway;
    // Only called once start() succeeded; without a gateway there is no process to wait for.
    if (!gateway) return 'not running';
    const exit = await gateway.whenExited();
    return `${describeExit(exit)}\n${gateway.stderrTail()}`;
  }

  /** Stops the stream, the fleet (each device says goodbye), the gateway (SIGTERM) and the simulator. Safe to call again: it stops what started since. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.status) clearInterval(this.status);
    this.status = null;
    for (const t of this.callTimers) clearTimeout(t);
    this.callTimers.clear();
    const { stream, fleet, gateway, sim, vms } = this;
    this.vms = null;
    this.stream = null;
    this.fleet = null;
    this.gateway = null;
    this.sim = null;
    await stream?.stop();
    await fleet?.stop();
    await gateway?.stop();
    await sim?.stop();
    await vms?.stop();
  }

  /** Kills the gateway's process group at once, for a demo that must exit now (a second Ctrl-C). */
  killNow(): void {
    this.gateway?.killNow();
  }

  /** One line on what the stream and the fleet did. */
  summary(): string {
    const s = this.stream?.stats();
    const fleet = this.stats ? progressLine(this.stats.snapshot(), this.stats.rate()) : '';
    const sent = this.sim ? (this.sim.domestic?.messages() ?? this.sim.twilio.messages()).length : 0;
    const calls = (this.sim?.twilio.calls.list().length ?? 0) + (this.vms?.list().length ?? 0);
    const sms = this.sim ? `${sent} SMS, ${this.sim.responders.replies().length} replies, ${calls} calls` : '';
    return [
      s ? `${s.sos} SOS, ${s.fall} falls (${s.cancelled} cancelled), ${s.battery} dying batteries, ${s.power} power cuts` : '',
      sms,
      fleet,
    ]
      .filter(Boolean)
      .join('; ');
  }

  /** A stop during start-up ends the start at the next step; start() then stops what had been started. */
  private checkNotStopped(): void {
    if (this.stopping) throw new Error('the demo was stopped while starting');
  }

  private async startParts(): Promise<DemoAddresses> {
    const { opts } = this;
    const random = new Random(opts.seed);
    const reach = `http://127.0.0.1:${opts.httpPort}`;
    // Every unsigned provider callback (Aliyun, Tencent SMS and VMS) carries this key; the gateway refuses any other.
    const webhookKey = opts.env.WEBHOOK_KEY ?? randomBytes(16).toString('hex');
    const tencentKeys = randomTencentKeys();
    const catalogue = demoCatalogue(join(opts.dataDir, 'demo-registry.yaml'), opts.publicUrl);
    const domestic = domesticSetup(opts.provider, catalogue, opts.signName, webhookKey, tencentKeys);
    const sim = new SmsSimulator({
      host: opts.smsHost,
      port: opts.smsPort,
      accountSid: `AC${randomBytes(16).toString('hex')}`,
      authToken: randomBytes(16).toString('hex'),
      gatewayUrl: opts.publicUrl,
      ...(reach === opts.publicUrl.replace(/\/+$/, '') ? {} : { reachGatewayAt: reach }),
      set: this.responders,
      label: (phone) => {
        const l = this.registry?.label(phone);
        return l && l !== phone ? l : null;
      },
      knownPhones: this.knownPhones,
      timeZone: opts.timeZone,
      ...(domestic ? { domestic } : {}),
    });
    this.sim = sim;
    const { url: smsUrl } = await sim.start();
    this.checkNotStopped();
    const via = sim.domestic ? (sim.domestic.provider === 'aliyun' ? 'Aliyun' : 'Tencent') : 'Twilio';
    if (sim.domestic) sim.domestic.on('message', (m) => opts.say(`SMS   -> ${this.who(m.to)} (${via}): ${oneLine(m.body)}`));
    else sim.twilio.on('message', (m) => opts.say(`SMS   -> ${this.who(m.to)}: ${oneLine(m.body)}`));
    sim.responders.on('reply', (r) => opts.say(`REPLY <- ${this.who(r.from)}: "${r.body}"${r.error ? `  [${r.error}]` : ''}`));
    sim.twilio.calls.on('call', (c) => {
      opts.say(`CALL  -> ${this.who(c.to)} (Twilio Voice; answer it on the phones page)`);
      this.answerLater(c.id, c.to, (id, action) => sim.twilio.calls.act(id, action));
    });

    const smsEnv: Record<string, string> = sim.domestic
      ? { ...domesticEnv(sim.domestic, opts.signName, smsUrl), WEBHOOK_KEY: webhookKey, SMS_RECEIPTS: opts.env.SMS_RECEIPTS ?? 'push' }
      : { SMS_PROVIDER: 'twilio' };
    const twilioEnv: Record<string, string> =
      opts.provider === 'twilio' || opts.voice === 'twilio'
        ? {
            TWILIO_ACCOUNT_SID: sim.twilio.accountSid,
            TWILIO_AUTH_TOKEN: sim.twilio.authToken,
            TWILIO_FROM: FROM_NUMBER,
            TWILIO_API_URL: smsUrl,
          }
        : {};
    const voiceEnv =
      opts.voice === 'tencent'
        ? await this.startVms(sim, reach, webhookKey, tencentKeys)
        : opts.voice === 'twilio'
          ? { VOICE_PROVIDER: 'twilio' }
          : {};
    this.checkNotStopped();

    opts.say(`demo: ${describeProviders(opts.provider, opts.voice)}`);
    opts.say(
      `demo: starting the gateway (npm start, DATA_DIR=${opts.dataDir}); the first start builds the dashboard and hashes the demo devices' secrets…`,
    );
    const gateway = new GatewayChild({
      cwd: opts.projectRoot,
      env: {
        ...opts.env,
        DATA_DIR: opts.dataDir,
        HTTP_PORT: String(opts.httpPort),
        MQTT_PORT: String(opts.mqttPort),
        PUBLIC_URL: opts.publicUrl,
        API_TOKEN: opts.apiToken,
        ...twilioEnv,
        ...smsEnv,
        ...voiceEnv,
      },
    });
    this.gateway = gateway;
    await gateway.start(180_000);
    this.checkNotStopped();

    const registry = await SimRegistry.load(join(opts.dataDir, 'demo-registry.yaml'));
    this.checkNotStopped();
    this.registry = registry;
    // Manual phones: no rule and a fallback that never answers, so every reply and every key on a call is yours.
    if (opts.phones === 'auto') {
      this.responders.rules = demoResponderRules(registry.phones, { speed: opts.speed });
      this.callAnswers = demoCallAnswers(registry.phones, { speed: opts.speed });
    }
    this.knownPhones.push(...registry.phones.filter((p) => p.role === 'worker').map((p) => p.phone));

    // The button in the gateway's banner is left to the person watching, so their press is not taken over by a simulated one.
    const press = /mosquitto_pub .* -i (\S+) .*/.exec(gateway.stdout);
    const yours = press?.[1] ?? null;
    const devices = registry.devices.filter((d) => d.id !== yours);
    const stats = new FleetStats(devices.length);
    this.stats = stats;
    const fleet = new Fleet({
      url: `mqtt://127.0.0.1:${opts.mqttPort}`,
      devices,
      plan: DEMO_PLAN,
      random,
      stats,
      timeZone: opts.timeZone,
      connectConcurrency: 16,
    });
    this.fleet = fleet;
    opts.say(`demo: connecting ${devices.length} simulated devices…`);
    await fleet.start();
    this.checkNotStopped();

    const timing = scaledTiming(DEMO_TIMING, opts.speed);
    if (opts.stream) {
      this.stream = new DemoStream({
        fleet,
        registry,
        random,
        timing,
        fallCancelMs: registry.escalation.fallCancelSeconds * 1000,
        say: opts.say,
      });
      this.stream.start();
    }
    this.status = setInterval(() => opts.say(`fleet: ${progressLine(stats.snapshot(), stats.rate())}`), 60_000);

    return {
      dashboard: `${opts.publicUrl}/`,
      api: `${opts.publicUrl}/api/incidents`,
      phones: `${smsUrl}/`,
      mqtt: `mqtt://127.0.0.1:${opts.mqttPort}`,
      pressButton: yours && press ? pressLine(press[0], yours) : null,
      registry: registry.path,
      devices: fleet.onlineCount(),
      providers: describeProviders(opts.provider, opts.voice),
    };
  }

  /** Tencent VMS for the calls: a local VMS the gateway calls through (same Tencent key pair as its SMS), its calls on the phones page, and its settings. */
  private async startVms(sim: SmsSimulator, reach: string, webhookKey: string, keys: TencentKeys): Promise<Record<string, string>> {
    const vms = new TencentVmsSimServer({ secretId: keys.id, secretKey: keys.secret, ringMs: 30_000, keyWaitMs: 10_000 });
    this.vms = vms;
    await vms.start();
    vms.callbackUrl = `${reach}/webhooks/tencent/voice?key=${encodeURIComponent(webhookKey)}`;
    sim.addCallSource(vms);
    vms.on('call', (c) => {
      this.opts.say(`CALL  -> ${this.who(c.to)} (Tencent VMS; answer it on the phones page)`);
      this.answerLater(c.id, c.to, (id, action) => vms.act(id, action));
    });
    return {
      VOICE_PROVIDER: 'tencent',
      TENCENT_SECRET_ID: vms.secretId,
      TENCENT_SECRET_KEY: vms.secretKey,
      TENCENT_VMS_SDK_APP_ID: vms.sdkAppId,
      TENCENT_VMS_TEMPLATE_ID: vms.template.id,
      TENCENT_VMS_ENDPOINT: vms.url,
      WEBHOOK_KEY: webhookKey,
    };
  }

  /**
   * A simulated person who picks up: after their delay they answer, and a moment later press their key. Whoever acts
   * first on the phones page wins; an action on a call that has ended is simply refused by the simulator.
   */
  private answerLater(callId: string, phone: string, act: (id: string, action: PhoneAction) => boolean): void {
    const answer = this.callAnswers.get(phone);
    if (!answer) return;
    const at = (ms: number, action: PhoneAction): void => {
      const t = setTimeout(() => {
        this.callTimers.delete(t);
        if (!this.stopping) act(callId, action);
      }, ms);
      this.callTimers.add(t);
    };
    at(answer.answerAfterMs, { kind: 'answer' });
    at(answer.answerAfterMs + answer.keyAfterMs, { kind: 'key', key: answer.key });
  }

  private who(phone: string): string {
    const l = this.registry?.label(phone);
    return l && l !== phone ? `${phone} (${l})` : phone;
  }
}

/** The banner's mosquitto_pub line with a fresh `seq` per press, so pressing twice is two presses and not a redelivery. */
function pressLine(bannerLine: string, deviceId: string): string {
  const trimmed = bannerLine.trim();
  const withoutMessage = trimmed.replace(/ -m '.*'$/, '');
  return `${withoutMessage} -m '{"type":"sos","seq":'$(date +%s)'}'  # ${deviceId}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 110 ? `${flat.slice(0, 107)}…` : flat;
}
