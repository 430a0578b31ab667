// `npm run demo` as a child process for end-to-end tests: started in its own process group (as a terminal runs it),
// its output kept, polled through its HTTP addresses, and stopped with SIGINT as Ctrl-C would.
import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT, freePort } from './e2e-process.js';

export const DEMO_READY = 'care gateway live demo is running';

export interface DemoRun {
  api: string;
  phones: string;
  proc: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `npm run demo -- <args>` on free ports with the given environment (plus PATH and HOME); does not wait for it. */
export async function startDemo(opts: { dataDir: string; args: string[]; env: Record<string, string>; token: string }): Promise<DemoRun> {
  const [httpPort, mqttPort, smsPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${httpPort}`;
  let stdout = '';
  let stderr = '';
  const proc = spawn(
    'npm',
    [
      'run',
      'demo',
      '--',
      '--data-dir',
      opts.dataDir,
      '--http-port',
      String(httpPort),
      '--mqtt-port',
      String(mqttPort),
      '--sms-port',
      String(smsPort),
      ...opts.args,
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        API_TOKEN: opts.token,
        MQTT_HOST: '127.0.0.1',
        HTTP_HOST: '127.0.0.1',
        PUBLIC_URL: api,
        TZ: 'Asia/Shanghai',
        ...opts.env,
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    api,
    phones: `http://127.0.0.1:${smsPort}`,
    proc,
    exited,
    stdout: () => stdout,
    output: () => `stdout:\n${stdout.slice(-6000)}\nstderr:\n${stderr.slice(-3000)}`,
  };
}

/** Ctrl-C for a demo still running (a failed test must not leave it, or its detached gateway, behind). */
export function interruptDemo(run: DemoRun | null): void {
  const pid = run?.proc.pid;
  if (!pid || run.proc.exitCode !== null || run.proc.signalCode !== null) return;
  try {
    process.kill(-pid, 'SIGINT');
    // A second SIGINT more than a second later makes the demo kill its gateway at once.
    setTimeout(() => {
      try {
        process.kill(-pid, 'SIGINT');
      } catch {
        // already gone
      }
    }, 1500).unref();
  } catch {
    // already gone
  }
}

export async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Polls `probe` until it gives a value; a generous deadline only turns a hang into a failure with the demo's output. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe().catch(() => null);
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
