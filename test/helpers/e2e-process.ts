// End-to-end helpers: `npm start` as a child process in its own process group, its environment, and the Debian mosquitto clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { IncidentView } from '../../gateway/incidents/views.js';
import type { TestContext } from 'vitest';
import { freePort } from '../../simulators/common/net.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURE_REGISTRY = fileURLToPath(new URL('../fixtures/registry.yaml', import.meta.url));
export const E2E_API_TOKEN = 'e2e-api-token-0123456789abcdef';
export const E2E_SID = `AC${'e'.repeat(32)}`;
export const E2E_AUTH_TOKEN = 'e2e-sim-auth-token';
export const E2E_FROM = '+15005550006';
export const BANNER = 'care gateway is running';
export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
/** coreutils' stdbuf: mosquitto_sub's stdout into a pipe is block-buffered, so its SUBACK line would only show at exit. */
const STDBUF = '/usr/bin/stdbuf';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The ports and addresses one gateway process runs with; a restart on the same DATA_DIR reuses them. */
export interface GatewayAddresses {
  mqttPort: number;
  httpPort: number;
  publicUrl: string;
  mqttUrl: string;
}

export { freePort };

export async function gatewayAddresses(): Promise<GatewayAddresses> {
  const mqttPort = await freePort();
  const httpPort = await freePort();
  return { mqttPort, httpPort, publicUrl: `http://127.0.0.1:${httpPort}`, mqttUrl: `mqtt://127.0.0.1:${mqttPort}` };
}

/** The documented environment for a gateway on loopback, sending SMS to a Twilio-compatible server at `twilioApiUrl`. */
export function gatewayEnv(opts: {
  dataDir: string;
  addresses: GatewayAddresses;
  twilioApiUrl: string;
  registryFile?: string;
}): Record<string, string> {
  const { addresses } = opts;
  return {
    DATA_DIR: opts.dataDir,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(addresses.mqttPort),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(addresses.httpPort),
    PUBLIC_URL: addresses.publicUrl,
    REGISTRY_FILE: opts.registryFile ?? FIXTURE_REGISTRY,
    API_TOKEN: E2E_API_TOKEN,
    TWILIO_ACCOUNT_SID: E2E_SID,
    TWILIO_AUTH_TOKEN: E2E_AUTH_TOKEN,
    TWILIO_FROM: E2E_FROM,
    TWILIO_API_URL: opts.twilioApiUrl,
    TZ: 'Asia/Shanghai',
    LOG_LEVEL: 'warn',
  };
}

/**
 * Lines a process wrote to stderr, without npm's own log lines (`npm warn …` about the machine's npmrc,
 * `npm error …` about the failed script), which say nothing about the gateway.
 */
export function ownStderrLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^npm (warn|notice|error|info|http|verbose|timing|WARN|ERR!)\b/.test(l));
}

/** libfaketime's variables of this process, if it runs under `faketime`. */
function fakeTimeEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k === 'LD_PRELOAD' || k.startsWith('FAKETIME'))) out[k] = v;
  }
  return out;
}

/** What an e2e test runs a gateway process with: a started Twilio-compatible server, a temp dir, and the children. */
export interface E2eFixture {
  children: ChildTracker;
  sim: TwilioSimServer;
  dir: { path: string; remove: () => void };
}

/** An {@link E2eFixture}, all of it ended when the test finishes, pass or fail. */
export async function e2eFixture(prefix: string, onTestFinished: TestContext['onTestFinished']): Promise<E2eFixture> {
  const children = new ChildTracker();
  const sim = new TwilioSimServer({ accountSid: E2E_SID, authToken: E2E_AUTH_TOKEN, callbackDelayMs: 5 });
  const dir = tempDir(prefix);
  onTestFinished(async () => {
    await children.killAll();
    await sim.stop();
    dir.remove();
  });
  await sim.start();
  return { children, sim, dir };
}

/** Every child a test file started, so an afterEach/afterAll can end them all even when a test failed. */
export class ChildTracker {
  private readonly children = new Set<{ kill(): Promise<void> }>();

  add<T extends { kill(): Promise<void> }>(child: T): T {
    this.children.add(child);
    return child;
  }

  async killAll(): Promise<void> {
    const all = [...this.children];
    this.children.clear();
    await Promise.all(all.map((c) => c.kill()));
  }
}

/**
 * `npm start` in the project root. npm runs sh, which runs tsx, which runs node with the gateway: the child leads
 * a process group of its own so a signal (SIGKILL for a crash) reaches every one of them, the gateway included.
 */
export class GatewayProcess {
  stdout = '';
  stderr = '';
  startedAt = 0;
  /** When the banner appeared on stdout, or 0. */
  readyAt = 0;
  /** Called with every chunk the process writes (set before spawn), e.g. to copy its output into a log file. */
  onOutput: ((stream: 'stdout' | 'stderr', chunk: string) => void) | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<Exit> | null = null;
  private exit: Exit | null = null;

  /** `command` replaces `npm start`, e.g. with a fixture that runs gateway/main.ts under `node --import tsx`. */
  constructor(
    private readonly env: Record<string, string>,
    private readonly command: readonly [string, ...string[]] = ['npm', 'start'],
  ) {}

  /** Spawns the process; it has not necessarily finished starting (see waitForBanner). */
  spawn(): this {
    this.startedAt = Date.now();
    const [bin, ...args] = this.command;
    const child = spawn(bin, args, {
      cwd: PROJECT_ROOT,
      // Only what npm needs from the test runner's environment, so no variable of the test process leaks in; and
      // libfaketime's, so that a suite run under a shifted clock (`faketime -f +400d`) shifts the gateway's clock too.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...fakeTimeEnv(), ...this.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.onOutput?.('stdout', chunk);
      if (!this.readyAt && this.stdout.includes(BANNER)) this.readyAt = Date.now();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.onOutput?.('stderr', chunk);
    });
    this.exited = new Promise<Exit>((resolve) => {
      child.once('error', () => resolve({ code: null, signal: null }));
      // 'close' comes after the output pipes are drained, so stdout/stderr are complete by then.
      child.once('close', (code, signal) => resolve({ code, signal }));
    }).then((e) => {
      this.exit = e;
      return e;
    });
    return this;
  }

  get running(): boolean {
    return this.child !== null && this.exit === null;
  }

  /** Resolves when the start banner is on stdout; fails with the output so far if the process ends or is too slow. */
  async waitForBanner(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      () => `the banner\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
      () => {
        if (this.exit)
          throw new Error(
            `gateway exited (${JSON.stringify(this.exit)}) before its banner\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
          );
        return this.readyAt !== 0;
      },
      { timeoutMs },
    );
  }

  async waitForExit(timeoutMs = 20_000): Promise<Exit> {
    if (!this.exited) throw new Error('gateway process was never spawned');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gateway did not exit within ${timeoutMs} ms\nstderr:\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to the whole process group at once: SIGKILL is a crash of the gateway, nothing flushed. */
  signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.exit) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** Ends the process group: SIGTERM (a clean stop), then SIGKILL if it lingers. Safe to call more than once. */
  async kill(): Promise<void> {
    if (!this.child || !this.exited) return;
    if (!this.exit) {
      this.signalGroup('SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) this.signalGroup('SIGKILL');
      await this.exited;
    }
    // npm may have exited while a grandchild lingers; the group id still reaches it.
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Nothing left in the group.
      }
    }
  }
}

// ---- the Debian mosquitto clients --------------------------------------------------------------------------------

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A short-lived command-line tool, killed if it runs past `timeoutMs`. */
export class ToolProcess {
  stdout = '';
  stderr = '';
  private child: ChildProcess | null = null;
  private result: Promise<ToolResult> | null = null;

  constructor(
    private readonly bin: string,
    private readonly args: string[],
    private readonly timeoutMs = 10_000,
  ) {}

  spawn(): this {
    const child = spawn(this.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
    this.result = new Promise<ToolResult>((resolve) => {
      child.once('error', (err) => resolve({ code: null, signal: null, stdout: this.stdout, stderr: `${this.stderr}${err.message}` }));
      child.once('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    }).finally(() => clearTimeout(timer));
    return this;
  }

  done(): Promise<ToolResult> {
    if (!this.result) throw new Error(`${this.bin} was never spawned`);
    return this.result;
  }

  async kill(): Promise<void> {
    if (!this.child || !this.result) return;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.result;
  }
}

export interface DeviceLogin {
  host: string;
  port: number;
  deviceId: string;
  secret: string;
}

function loginArgs(d: DeviceLogin): string[] {
  return ['-h', d.host, '-p', String(d.port), '-V', 'mqttv311', '-i', d.deviceId, '-u', d.deviceId, '-P', d.secret];
}

/** `mosquitto_pub -q 1 … -t care/v1/<id>/event -m <payload>`: a device event, as a fixture (or an installer) would send it. */
export function mosquittoPublishEvent(d: DeviceLogin, payload: string): ToolProcess {
  return new ToolProcess(MOSQUITTO_PUB, [...loginArgs(d), '-q', '1', '-t', `care/v1/${d.deviceId}/event`, '-m', payload]).spawn();
}

/**
 * `mosquitto_sub -d -C 1` on the device's command topic. `-d` prints the SUBACK, so a test knows the subscription is
 * in place before it triggers the command; the command itself is the one stdout line that is JSON. It runs under
 * `stdbuf -oL` (which execs it, same pid) so each line arrives as it is printed.
 */
export function mosquittoSubscribeCommand(d: DeviceLogin, timeoutSeconds = 15): ToolProcess {
  return new ToolProcess(
    STDBUF,
    [
      '-oL',
      MOSQUITTO_SUB,
      ...loginArgs(d),
      '-d',
      '-q',
      '1',
      '-C',
      '1',
      '-W',
      String(timeoutSeconds),
      '-t',
      `care/v1/${d.deviceId}/command`,
    ],
    (timeoutSeconds + 5) * 1000,
  ).spawn();
}

// ---- the registry and the API, from outside -------------------------------------------------------------------------

/** A copy of the test registry in `dir` with some values changed, e.g. `[['escalation', 'ackTimeoutSeconds'], 10]`. */
export function registryVariant(dir: string, name: string, changes: [path: (string | number)[], value: unknown][]): string {
  const doc = parseDocument(readFileSync(FIXTURE_REGISTRY, 'utf8'));
  for (const [path, value] of changes) doc.setIn(path, value);
  const file = join(dir, name);
  writeFileSync(file, doc.toString());
  return file;
}

export interface ApiAnswer<T> {
  status: number;
  contentType: string;
  body: T;
  text: string;
}

/** GET on the gateway's HTTP server; the body is parsed when it is JSON. */
export async function httpGet<T = unknown>(baseUrl: string, path: string, token: string | null = E2E_API_TOKEN): Promise<ApiAnswer<T>> {
  const res = await fetch(baseUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  // The JSON the API documents; the tests check the fields they rely on.
  const body = (contentType.includes('json') ? JSON.parse(text) : text) as T;
  return { status: res.status, contentType, body, text };
}

export async function listIncidents(baseUrl: string): Promise<IncidentView[]> {
  const res = await httpGet<IncidentView[]>(baseUrl, '/api/incidents');
  if (res.status !== 200) throw new Error(`GET /api/incidents answered ${res.status}: ${res.text}`);
  return res.body;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
