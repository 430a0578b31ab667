// Runs one scenario end to end: its registry, an SMS simulator with answering phones, `npm start` as a child, the device fleet, the timed steps, then the checks.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { supportsEvent } from '../../devices/kinds.js';
import { formatDuration, sleep } from '../common/duration.js';
import { Random } from '../common/random.js';
import { SimRegistry } from '../common/registry.js';
import { Fleet, QUIET_PLAN } from '../fleet/fleet.js';
import { FleetStats } from '../fleet/stats.js';
import { Responders, responderSet } from '../sms/responders.js';
import { TwilioSimServer } from '../sms/twilio-server.js';
import { GatewayApi } from './api.js';
import { checkAgainstRegistry, checkSms, isSmsExpectation, probeState, type ExpectationResult, type SmsRecord } from './expectations.js';
import { GatewayChild, describeExit, freePort } from './gateway-child.js';
import { ScenarioError } from './parse.js';
import { prepareRegistry } from './registry-prep.js';
import { ScenarioChirpstack } from '../bridges/scenario-chirpstack.js';
import type { Expectation, Scenario, Step } from './schema.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunOptions {
  /** Where `npm start` runs and relative registry paths are read from (default: this project). */
  root?: string;
  /** Progress lines: readiness, each step, the settle phase. */
  log?: (line: string) => void;
  /** Keep the temporary DATA_DIR and registry copy, for a look afterwards. */
  keepData?: boolean;
  startTimeoutMs?: number;
  /** Aborting it ends the run early (its report fails with "interrupted") and stops the gateway. */
  signal?: AbortSignal;
}

export interface ScenarioReport {
  name: string;
  source: string;
  description: string;
  passed: boolean;
  /** Wall time of the whole run, set-up included. */
  durationMs: number;
  /** Time zero (first step) to the end of the checks. */
  runMs: number;
  /** The run could not happen (the gateway did not start, devices could not connect). */
  setupError: string | null;
  /** Stopped from outside (RunOptions.signal) before it was over: its results are incomplete. */
  interrupted: boolean;
  stepErrors: string[];
  results: ExpectationResult[];
  smsCount: number;
  devices: number;
  /** How the gateway ended when it died during the run. */
  gatewayExit: string | null;
  /** The gateway's own stderr, last lines, when the scenario failed. */
  gatewayStderr: string;
  /** The kept data directory (keepData), else null. */
  dataDir: string | null;
}

const POLL_MS = 250;
const HEALTH_EVERY_MS = 1000;
const SMS_WEBHOOK = '/webhooks/twilio/sms';

/** Runs `scenario`; resolves with its report. Throws ScenarioError when the scenario does not fit its registry. */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioReport> {
  return new ScenarioRun(scenario, opts).run();
}

class ScenarioRun {
  private readonly root: string;
  private readonly log: (line: string) => void;
  private readonly smsLog: SmsRecord[] = [];
  private readonly healthSamples: { atMs: number; status: number }[] = [];
  private readonly stepErrors: string[] = [];
  private t0 = 0;
  /** When the waiting for expectations ends; Infinity until the last window has closed. */
  private finalDeadline = Infinity;
  private gateway: GatewayChild | null = null;
  /** The ChirpStack side of the run, when its registry has ChirpStack bridges. */
  private lora: ScenarioChirpstack | null = null;
  /** Aborted when the run must wind down at once: interrupted from outside, or the gateway died. */
  private readonly halt = new AbortController();

  constructor(
    private readonly scenario: Scenario,
    private readonly opts: RunOptions,
  ) {
    this.root = opts.root ?? PROJECT_ROOT;
    this.log = opts.log ?? (() => undefined);
    // Every step and watched expectation sleeps on this signal at once; a long scenario has more than Node's default of 10.
    setMaxListeners(0, this.halt.signal);
  }

  private get halted(): boolean {
    return this.halt.signal.aborted;
  }

  private get elapsed(): number {
    return Date.now() - this.t0;
  }

  async run(): Promise<ScenarioReport> {
    const started = Date.now();
    const scenario = this.scenario;
    const dir = await mkdtemp(join(tmpdir(), `scenario-${scenario.name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
    const cleanups: (() => Promise<unknown>)[] = [];
    const report: ScenarioReport = {
      name: scenario.name,
      source: scenario.source,
      description: scenario.description,
      passed: false,
      durationMs: 0,
      runMs: 0,
      setupError: null,
      interrupted: false,
      stepErrors: this.stepErrors,
      results: [],
      smsCount: 0,
      devices: 0,
      gatewayExit: null,
      gatewayStderr: '',
      dataDir: this.opts.keepData === true ? dir : null,
    };
    this.opts.signal?.addEventListener('abort', () => this.halt.abort(), { once: true });
    try {
      const registryFile = await prepareRegistry(scenario, dir, this.root);
      // LoRaWAN devices: mosquitto as ChirpStack's broker, the registry copy pointed at it.
      const lora = await ScenarioChirpstack.prepare(registryFile);
      if (lora) cleanups.unshift(() => lora.stop());
      this.lora = lora;
      const registry = await SimRegistry.load(registryFile);
      const problems = checkAgainstRegistry(scenario, registry);
      if (problems.length > 0) throw new ScenarioError(scenario.source, problems);
      const set = responderSet(scenario.responders, (who) => registry.resolve(who));
      report.devices = registry.devices.length;

      const sim = new TwilioSimServer({ callbackDelayMs: 20 });
      await sim.start();
      cleanups.unshift(() => sim.stop());
      sim.on('message', (m) => this.smsLog.push({ to: m.to, body: m.body, atMs: m.receivedAt - this.t0 }));

      const [mqttPort, httpPort] = [await freePort(), await freePort()];
      const publicUrl = `http://127.0.0.1:${httpPort}`;
      const token = randomBytes(16).toString('hex');
      const gateway = new GatewayChild({
        cwd: this.root,
        env: {
          DATA_DIR: join(dir, 'data'),
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(mqttPort),
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(httpPort),
          PUBLIC_URL: publicUrl,
          REGISTRY_FILE: registryFile,
          API_TOKEN: token,
          TWILIO_ACCOUNT_SID: sim.accountSid,
          TWILIO_AUTH_TOKEN: sim.authToken,
          TWILIO_FROM: '+15005550006',
          TWILIO_API_URL: sim.url,
          TZ: scenario.timeZone,
          LOG_LEVEL: 'warn',
        },
      });
      this.gateway = gateway;
      cleanups.unshift(() => gateway.stop());
      const bootAt = Date.now();
      await gateway.start(this.opts.startTimeoutMs ?? 60_000);
      // A gateway that dies ends the run: nothing after that could pass.
      void gateway.whenExited().then(() => this.halt.abort());
      this.log(`gateway ready in ${formatDuration(Date.now() - bootAt)} (mqtt :${mqttPort}, http :${httpPort})`);

      const responders = new Responders({ sim, set, webhookUrl: publicUrl + SMS_WEBHOOK });
      responders.start();
      cleanups.unshift(() => responders.stop());

      const stats = new FleetStats(registry.devices.length);
      const fleet = new Fleet({
        url: `mqtt://127.0.0.1:${mqttPort}`,
        devices: registry.devices,
        plan: QUIET_PLAN,
        random: new Random(1),
        stats,
        timeZone: scenario.timeZone,
        reconnectMs: 1000,
        ackTimeoutMs: 20_000,
      });
      cleanups.unshift(() => fleet.stop());
      await fleet.start();
      const connected = fleet.onlineCount();
      if (connected < registry.devices.length) {
        throw new Error(`only ${connected} of ${registry.devices.length} devices could connect: ${stats.snapshot().lastErrors.join('; ')}`);
      }
      this.log(`${connected} devices connected`);

      const api = new GatewayApi({ baseUrl: publicUrl, token });
      await lora?.ready(async (id) => (await api.devices()).some((d) => d.id === id && d.state === 'online'));
      if (this.halted) throw new Error('interrupted before the first step');
      this.t0 = Date.now();
      report.results = await this.timeline(fleet, responders, registry, api);
      report.runMs = this.elapsed;
    } catch (err) {
      if (err instanceof ScenarioError) {
        await runAll(cleanups);
        if (!report.dataDir) await rm(dir, { recursive: true, force: true });
        throw err;
      }
      report.setupError = err instanceof Error ? err.message : String(err);
    } finally {
      report.interrupted = this.opts.signal?.aborted === true;
      report.smsCount = this.smsLog.length;
      const exit = this.gateway?.exit;
      if (exit) report.gatewayExit = describeExit(exit);
    }
    report.passed =
      !report.interrupted &&
      report.setupError === null &&
      report.stepErrors.length === 0 &&
      report.gatewayExit === null &&
      report.results.every((r) => r.passed);
    if (!report.passed) report.gatewayStderr = this.gateway?.stderrTail(30) ?? '';
    await runAll(cleanups);
    if (!report.dataDir) await rm(dir, { recursive: true, force: true });
    report.durationMs = Date.now() - started;
    return report;
  }

  /** Runs the steps on time, watches the expectations, and evaluates them once every window has closed. */
  private async timeline(fleet: Fleet, responders: Responders, registry: SimRegistry, api: GatewayApi): Promise<ExpectationResult[]> {
    const scenario = this.scenario;
    const sampling = new Set<Promise<void>>();
    const sample = (): void => {
      const atMs = this.elapsed;
      const p = api.health().then((status) => void this.healthSamples.push({ atMs, status }));
      sampling.add(p);
      void p.finally(() => sampling.delete(p));
    };
    sample();
    const health = setInterval(sample, HEALTH_EVERY_MS);
    try {
      const steps = scenario.steps.map((s) => this.runStep(s, fleet, responders, registry));
      // Watched while the run goes on, so the settle phase ends as soon as they all hold. Exact SMS counts, noSms
      // and health can only be judged once the run is over.
      const watches = scenario.expect
        .filter((e) => (e.kind === 'sms' && e.count === null) || (!isSmsExpectation(e) && e.kind !== 'healthy'))
        .map((e) => this.watch(e, api, registry));
      await Promise.all(steps);
      // Watched expectations end on their own (they hold, or their window closes); the others need their whole window.
      const fullWindow = scenario.expect.filter((e) =>
        isSmsExpectation(e) ? e.kind === 'noSms' || e.count !== null : e.kind === 'healthy',
      );
      const windowsEnd = Math.max(0, ...scenario.expect.map((e) => e.afterMs), ...fullWindow.map((e) => e.afterMs + (e.withinMs ?? 0)));
      while (this.elapsed < windowsEnd && !this.halted) await sleep(Math.min(POLL_MS, windowsEnd - this.elapsed), this.halt.signal);
      this.finalDeadline = this.halted ? Date.now() : Date.now() + scenario.settleMs;
      this.log(`last window closed at ${formatDuration(this.elapsed)}; settling (up to ${formatDuration(scenario.settleMs)})`);
      const watched = new Map((await Promise.all(watches)).map((r) => [r.index, r]));
      clearInterval(health);
      // One last look, so even a short run has its health judged at its end.
      if (!this.gateway?.exit) sample();
      await Promise.all([...sampling]);
      const runMs = this.elapsed;
      return scenario.expect.map((e) =>
        isSmsExpectation(e)
          ? checkSms(e, this.smsLog, registry, runMs)
          : e.kind === 'healthy'
            ? this.healthResult(e)
            : (watched.get(e.index) ?? this.missing(e)),
      );
    } finally {
      clearInterval(health);
    }
  }

  private missing(e: Expectation): ExpectationResult {
    return { index: e.index, label: e.label, passed: false, detail: 'not checked' };
  }

  /** Waits for the window to open, then looks until the expectation holds or its window (or the run) is over. */
  private async watch(e: Expectation, api: GatewayApi, registry: SimRegistry): Promise<ExpectationResult> {
    const deadline = (): number => (this.halted ? 0 : e.withinMs === null ? this.finalDeadline : this.t0 + e.afterMs + e.withinMs);
    while (this.elapsed < e.afterMs && !this.halted) await sleep(Math.min(POLL_MS, e.afterMs - this.elapsed), this.halt.signal);
    let seen = 'not looked at yet';
    for (;;) {
      if (isSmsExpectation(e)) {
        // Only the moment matters here; the verdict comes from the whole log at the end.
        if (checkSms(e, this.smsLog, registry, this.elapsed).passed) return { index: e.index, label: e.label, passed: true, detail: '' };
      } else if (e.kind !== 'healthy') {
        try {
          const probe = await probeState(e, api, registry);
          seen = probe.seen;
          if (probe.ok) return { index: e.index, label: e.label, passed: true, detail: `${seen} at ${formatDuration(this.elapsed)}` };
        } catch (err) {
          seen = `API error: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
      if (Date.now() >= deadline())
        return { index: e.index, label: e.label, passed: false, detail: `saw ${seen} at ${formatDuration(this.elapsed)}` };
      await sleep(POLL_MS, this.halt.signal);
    }
  }

  /** Healthy: every /healthz sample in the window answered 200, and the process is still running. */
  private healthResult(e: Expectation): ExpectationResult {
    const end = e.withinMs === null ? Infinity : e.afterMs + e.withinMs;
    const samples = this.healthSamples.filter((s) => s.atMs >= e.afterMs && s.atMs <= end);
    const bad = samples.filter((s) => s.status !== 200);
    const exit = this.gateway?.exit;
    const passed = !exit && samples.length > 0 && bad.length === 0;
    const detail = exit
      ? `the gateway exited (${describeExit(exit)})`
      : bad.length > 0
        ? `${bad.length} of ${samples.length} /healthz answers were not 200 (first: ${bad[0]?.status ?? '?'} at ${formatDuration(bad[0]?.atMs ?? 0)})`
        : `${samples.length} /healthz answers, all 200`;
    return { index: e.index, label: e.label, passed, detail };
  }

  private async runStep(step: Step, fleet: Fleet, responders: Responders, registry: SimRegistry): Promise<void> {
    await sleep(Math.max(0, step.atMs - this.elapsed), this.halt.signal);
    if (this.halted) {
      this.stepErrors.push(`${step.label}: not run, the run was stopped`);
      return;
    }
    const say = (what: string): void => this.log(`[${formatDuration(this.elapsed).padStart(6)}] ${step.label}: ${what}`);
    try {
      switch (step.kind) {
        case 'event':
          if (this.lora?.has(step.device)) await this.lora.send(step.device, step.event);
          else await fleet.send(step.device, step.event, step.payload);
          say(`${step.event} acknowledged`);
          return;
        case 'powerCut': {
          say(`${fleet.powerCut(step.building)} devices lost power`);
          if (step.restoreAfterMs !== null) {
            await sleep(step.restoreAfterMs, this.halt.signal);
            say(`power back: ${await fleet.powerRestore(step.building)} devices reconnecting`);
          }
          return;
        }
        case 'dyingBattery':
          await fleet.dyingBattery(step.device);
          say('battery died');
          return;
        case 'bad':
          await fleet.badInput(step.input, step.device);
          say(`${step.input} sent; the gateway reacted as it should`);
          return;
        case 'reply': {
          const phone = registry.resolve(step.from)[0] ?? step.from;
          const sent = await responders.reply(phone, step.body);
          if (sent.error) throw new Error(sent.error);
          say(`"${step.body}" from ${phone} delivered`);
          return;
        }
        case 'storm':
          return await this.storm(step, fleet, registry, say);
        default: {
          const never: never = step;
          throw new Error(`unknown step ${JSON.stringify(never)}`);
        }
      }
    } catch (err) {
      const message = `${step.label}: ${err instanceof Error ? err.message : String(err)}`;
      this.stepErrors.push(message);
      this.log(`[${formatDuration(this.elapsed).padStart(6)}] FAILED ${message}`);
    }
  }

  /** Alarms from many devices, spread evenly over the step's duration; each must be acknowledged. */
  private async storm(
    step: Extract<Step, { kind: 'storm' }>,
    fleet: Fleet,
    registry: SimRegistry,
    say: (what: string) => void,
  ): Promise<void> {
    const able = registry.devices.filter(
      (d) => supportsEvent(d.kind, step.event) && (!step.deviceKinds || step.deviceKinds.includes(d.kind)),
    );
    const chosen = able.slice(0, step.count ?? able.length);
    const gap = chosen.length > 1 ? step.overMs / chosen.length : 0;
    const start = this.elapsed;
    const failures: string[] = [];
    await Promise.all(
      chosen.map(async (d, i) => {
        await sleep(Math.max(0, start + i * gap - this.elapsed), this.halt.signal);
        if (this.halted) return void failures.push('the run was stopped');
        await fleet.send(d.id, step.event).catch((err: unknown) => failures.push(err instanceof Error ? err.message : String(err)));
      }),
    );
    if (failures.length > 0)
      throw new Error(`${failures.length} of ${chosen.length} ${step.event} not acknowledged; first: ${failures[0] ?? ''}`);
    say(`${chosen.length} ${step.event} sent and acknowledged in ${formatDuration(this.elapsed - start)}`);
  }
}

/** Runs clean-ups in order; one failing does not keep the others from running. */
async function runAll(cleanups: (() => Promise<unknown>)[]): Promise<void> {
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
}
