// `npm run demo` end to end: gateway, SMS simulator, fleet and event stream come up with one command, an SOS pages by SMS, a simulated "1" acknowledges, Ctrl-C stops it all.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, freePort } from '../helpers/e2e-process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'demo-e2e-api-token-0123456789';
const READY = 'care gateway live demo is running';

interface PhoneJson {
  phone: string;
  received: { body: string }[];
  sent: { body: string; httpStatus: number | null }[];
}

interface IncidentJson {
  id: string;
  state: string;
  acknowledgedBy: { phone: string | null; name: string } | null;
  timeline?: { action: string; channel: string }[];
}

async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', () => {
  const dir = tempDir('care-gw-demo-');
  let child: ChildProcess | null = null;
  afterAll(() => {
    // A failed test must not leave the demo (or its detached gateway) running: the demo kills its gateway on a late second signal.
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGINT');
        setTimeout(() => {
          if (child?.pid) process.kill(-child.pid, 'SIGINT');
        }, 1500).unref();
      } catch {
        // already gone
      }
    }
    dir.remove();
  });

  it(
    'pages by SMS for an SOS, a simulated responder acknowledges with "1", and Ctrl-C stops everything cleanly',
    { timeout: 240_000 },
    async () => {
      const [httpPort, mqttPort, smsPort] = [await freePort(), await freePort(), await freePort()];
      const api = `http://127.0.0.1:${httpPort}`;
      const sms = `http://127.0.0.1:${smsPort}`;
      let stdout = '';
      let stderr = '';
      const proc = spawn(
        'npm',
        [
          'run',
          'demo',
          '--',
          '--data-dir',
          dir.path,
          '--http-port',
          String(httpPort),
          '--mqtt-port',
          String(mqttPort),
          '--sms-port',
          String(smsPort),
          '--speed',
          '30',
          '--seed',
          '11',
        ],
        {
          cwd: PROJECT_ROOT,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: process.env.HOME ?? '/tmp',
            API_TOKEN: TOKEN,
            MQTT_HOST: '127.0.0.1',
            HTTP_HOST: '127.0.0.1',
            PUBLIC_URL: api,
            TZ: 'Asia/Shanghai',
          },
          // Its own process group, so SIGINT reaches npm, tsx and the demo together, as Ctrl-C in a terminal does.
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = proc;
      proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      proc.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        proc.once('close', (code, signal) => resolve({ code, signal })),
      );
      const output = (): string => `stdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-2000)}`;

      const poll = { intervalMs: 250, retryErrors: true };
      await waitFor(
        () => `the demo to be up\n${output()}`,
        async () => (stdout.includes(READY) ? true : proc.exitCode !== null ? Promise.reject(new Error('exited')) : null),
        { ...poll, timeoutMs: 180_000 },
      );
      expect(stdout).toContain(`Dashboard   ${api}/`);
      expect(stdout).toContain(`Phones      ${sms}/`);
      expect(stdout).toContain(`Authorization: Bearer ${TOKEN}`);
      expect(stdout).toMatch(/mosquitto_pub -h 127\.0\.0\.1 -p \d+ -q 1 -i \S+ -u \S+ -P '[^']+' -t care\/v1\/\S+\/event -m /);

      // An SOS from the stream reached a phone as a page, through the gateway's twilio SDK and the simulator.
      const paged = await waitFor(
        () => `an SOS page at the SMS simulator\n${output()}`,
        async () => {
          const phones = await getJson<PhoneJson[]>(`${sms}/phones.json`);
          return phones.find((p) => p.received.some((m) => m.body.includes('【求助】'))) ?? null;
        },
        { ...poll, timeoutMs: 60_000 },
      );
      expect(paged.phone).toMatch(/^\+\d+$/);

      // A simulated responder's "1" went through the signed webhook and acknowledged an incident.
      const acked = await waitFor(
        () => `an incident acknowledged by SMS\n${output()}`,
        async () => {
          const list = await getJson<IncidentJson[]>(`${api}/api/incidents?state=acknowledged`, TOKEN);
          for (const incident of list) {
            const full = await getJson<IncidentJson>(`${api}/api/incidents/${incident.id}`, TOKEN);
            if (full.timeline?.some((e) => e.action === 'acknowledged' && e.channel === 'sms')) return full;
          }
          return null;
        },
        { ...poll, timeoutMs: 60_000 },
      );
      const phones = await getJson<PhoneJson[]>(`${sms}/phones.json`);
      const responder = phones.find((p) => p.phone === acked.acknowledgedBy?.phone);
      expect(
        responder?.sent.some((r) => r.body === '1' && r.httpStatus === 200),
        output(),
      ).toBe(true);
      expect(await reachable(`${api}/healthz`)).toBe(true);

      // Ctrl-C: everything stops, cleanly (15 s is a deadline for the exit, not a speed: a stop that hangs never exits).
      if (proc.pid) process.kill(-proc.pid, 'SIGINT');
      const exit = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      expect(exit, `the demo did not exit within 15 s of SIGINT\n${output()}`).not.toBeNull();
      // The demo itself exits 0 after "demo: stopped"; npm, which got the same SIGINT, re-raises it for the shell (status 130 in a terminal).
      expect(exit?.code === 0 || exit?.signal === 'SIGINT', `${JSON.stringify(exit)}\n${output()}`).toBe(true);
      expect(stdout).toContain('demo: stopped');
      expect(stdout).not.toContain('unexpectedly');
      expect(groupAlive(proc.pid ?? 0), 'a process of the demo group is still running').toBe(false);
      // The gateway (its own process group) and the simulator are gone too.
      expect(await reachable(`${api}/healthz`)).toBe(false);
      expect(await reachable(`${sms}/phones.json`)).toBe(false);
    },
  );
});
