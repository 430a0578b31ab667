// The live demo: `npm start` as a child, the Twilio-compatible SMS simulator with answering phones, the whole demo fleet, and a slow stream of events.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Random } from '../common/random.js';
import { SimRegistry } from '../common/registry.js';
import { Fleet, QUIET_PLAN, type FleetPlan } from '../fleet/fleet.js';
import { FleetStats, progressLine } from '../fleet/stats.js';
import { GatewayChild, describeExit } from '../scenarios/gateway-child.js';
import { DEFAULT_TRIGGER, NEVER, type ResponderSet } from '../sms/responders.js';
import { SmsSimulator } from '../sms/sms-simulator.js';
import { TencentVmsSimServer } from '../voice/tencent-vms-server.js';
import { demoResponderRules } from './phones.js';
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
    const sms = this.sim ? `${this.sim.twilio.messages().length} SMS, ${this.sim.responders.replies().length} replies` : '';
    return [s ? `${s.sos} SOS, ${s.fall} falls (${s.cancelled} cancelled), ${s.battery} dying batteries, ${s.power} power cuts` : '', sms, fleet]
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
    });
    this.sim = sim;
    const { url: smsUrl } = await sim.start();
    this.checkNotStopped();
    sim.twilio.on('message', (m) => opts.say(`SMS   -> ${this.who(m.to)}: ${oneLine(m.body)}`));
    sim.responders.on('reply', (r) => opts.say(`REPLY <- ${this.who(r.from)}: "${r.body}"${r.error ? `  [${r.error}]` : ''}`));
    sim.twilio.calls.on('call', (c) => opts.say(`CALL  -> ${this.who(c.to)} (Twilio Voice; answer it on the phones page)`));
    const voiceEnv = opts.env.VOICE_PROVIDER === 'tencent' ? await this.startVms(sim, reach, opts.env.WEBHOOK_KEY) : {};

    opts.say(`demo: starting the gateway (npm start, DATA_DIR=${opts.dataDir}); the first start builds the dashboard and hashes the demo devices' secrets…`);
    const gateway = new GatewayChild({
      cwd: opts.projectRoot,
      env: {
        ...opts.env,
        DATA_DIR: opts.dataDir,
        HTTP_PORT: String(opts.httpPort),
        MQTT_PORT: String(opts.mqttPort),
        PUBLIC_URL: opts.publicUrl,
        API_TOKEN: opts.apiToken,
        TWILIO_ACCOUNT_SID: sim.twilio.accountSid,
        TWILIO_AUTH_TOKEN: sim.twilio.authToken,
        TWILIO_FROM: FROM_NUMBER,
        TWILIO_API_URL: smsUrl,
        ...voiceEnv,
      },
    });
    this.gateway = gateway;
    await gateway.start(180_000);
    this.checkNotStopped();

    const registry = await SimRegistry.load(join(opts.dataDir, 'demo-registry.yaml'));
    this.checkNotStopped();
    this.registry = registry;
    this.responders.rules = demoResponderRules(registry.phones, { speed: opts.speed });
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
    this.stream = new DemoStream({ fleet, registry, random, timing, fallCancelMs: registry.escalation.fallCancelSeconds * 1000, say: opts.say });
    this.stream.start();
    this.status = setInterval(() => opts.say(`fleet: ${progressLine(stats.snapshot(), stats.rate())}`), 60_000);

    return {
      dashboard: `${opts.publicUrl}/`,
      api: `${opts.publicUrl}/api/incidents`,
      phones: `${smsUrl}/`,
      mqtt: `mqtt://127.0.0.1:${opts.mqttPort}`,
      pressButton: yours && press ? pressLine(press[0], yours) : null,
      registry: registry.path,
      devices: fleet.onlineCount(),
    };
  }

  /** VOICE_PROVIDER=tencent: a local VMS the gateway calls through, its calls on the phones page, and its settings. */
  private async startVms(sim: SmsSimulator, reach: string, webhookKey: string | undefined): Promise<Record<string, string>> {
    const vms = new TencentVmsSimServer({ ringMs: 30_000, keyWaitMs: 10_000 });
    this.vms = vms;
    await vms.start();
    const key = webhookKey ?? randomBytes(16).toString('hex');
    vms.callbackUrl = `${reach}/webhooks/tencent/voice?key=${key}`;
    sim.addCallSource(vms);
    vms.on('call', (c) => this.opts.say(`CALL  -> ${this.who(c.to)} (Tencent VMS; answer it on the phones page)`));
    return {
      TENCENT_SECRET_ID: vms.secretId,
      TENCENT_SECRET_KEY: vms.secretKey,
      TENCENT_VMS_SDK_APP_ID: vms.sdkAppId,
      TENCENT_VMS_TEMPLATE_ID: vms.template.id,
      TENCENT_VMS_ENDPOINT: vms.url,
      WEBHOOK_KEY: key,
    };
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
