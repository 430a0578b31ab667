// `npm run demo -- --provider tencent|aliyun` end to end: a worker paged through the domestic provider's official SDK
// does not answer, is called (Tencent VMS), presses 1 on the phones page's keypad, escalation stops, and the family is
// told who is coming.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_READY, getJson, interruptDemo, startDemo, waitFor, type DemoRun } from '../helpers/demo-run.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'demo-providers-api-token-0123456789';

interface PhoneJson {
  phone: string;
  received: { body: string }[];
  sent: { body: string }[];
  calls?: { id: string; status: string; spoken: string[]; keys: string[]; endedAt: number | null }[];
}

interface PageJson {
  to: string;
  role: string;
  name?: string;
  step: number | null;
  purpose: string;
  status: string;
}

interface IncidentJson {
  id: string;
  state: string;
  step: number;
  acknowledgedBy: { phone: string | null; name: string } | null;
  pages: PageJson[];
  timeline?: { action: string; channel: string }[];
}

const CASES = [
  { provider: 'tencent', banner: 'SMS Tencent Cloud SMS, calls Tencent VMS' },
  { provider: 'aliyun', banner: 'SMS Aliyun SMS, calls Tencent VMS (Aliyun voice is not in this build)' },
] as const;

function runShell(line: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', line], { stdio: 'ignore' });
    p.once('error', reject);
    p.once('close', (code) => resolve(code));
  });
}

async function act(phones: string, callId: string, action: string): Promise<number> {
  const res = await fetch(`${phones}/calls/${encodeURIComponent(callId)}/act`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `action=${encodeURIComponent(action)}`,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('npm run demo on a domestic provider', () => {
  let run: DemoRun | null = null;
  const dirs: { remove: () => void }[] = [];
  afterEach(() => {
    interruptDemo(run);
    run = null;
    for (const d of dirs.splice(0)) d.remove();
  });

  it.each(CASES)(
    '--provider $provider: the unanswered worker is called, presses 1, escalation stops and the family hears who is coming',
    { timeout: 300_000 },
    async ({ provider, banner }) => {
      const dir = tempDir(`care-gw-demo-${provider}-`);
      dirs.push(dir);
      const demo = await startDemo({
        dataDir: dir.path,
        args: ['--provider', provider, '--phones', 'manual', '--stream', 'off', '--seed', '7'],
        // The shortest wait before a call the gateway accepts; the ack timeout (180 s) stays far behind it.
        env: { VOICE_AFTER_SECONDS: '10' },
        token: TOKEN,
      });
      run = demo;
      const { api, phones, output } = demo;
      await waitFor(
        'the demo to be up',
        180_000,
        async () => (demo.stdout().includes(DEMO_READY) ? true : demo.proc.exitCode !== null ? Promise.reject(new Error('exited')) : null),
        output,
      );
      expect(demo.stdout()).toContain(`Providers   ${banner}`);
      const health = await getJson<{ components?: Record<string, unknown> }>(`${api}/healthz`);
      expect(JSON.stringify(health), output()).toContain(`"${provider}"`);

      // Press the demo's own button (the one the fleet leaves to the person watching).
      const press = /^\s*(mosquitto_pub .+?)\s+# \S+$/m.exec(demo.stdout())?.[1];
      expect(press, output()).toBeDefined();
      expect(await runShell(press ?? 'false')).toBe(0);

      // The nearest on-duty worker is paged through the provider (its approved template under the sign name).
      const opened = await waitFor(
        'an incident with a worker page',
        60_000,
        async () => {
          const list = await getJson<IncidentJson[]>(`${api}/api/incidents`, TOKEN);
          const incident = list[0];
          return incident?.pages.some((p) => p.role === 'worker' && p.purpose === 'page') ? incident : null;
        },
        output,
      );
      const worker = opened.pages.find((p) => p.role === 'worker' && p.purpose === 'page');
      if (!worker) throw new Error('no worker page');
      const family = opened.pages.filter((p) => p.role === 'family').map((p) => p.to);
      expect(family.length, output()).toBeGreaterThan(0);
      const paged = await waitFor(
        'the page on the worker phone',
        30_000,
        async () =>
          (await getJson<PhoneJson[]>(`${phones}/phones.json`)).find(
            (p) => p.phone === worker.to && p.received.some((m) => m.body.includes('回1')),
          ) ?? null,
        output,
      );
      expect(
        paged.received.some((m) => m.body.startsWith('【社区关爱】') && m.body.includes('求助')),
        output(),
      ).toBe(true);

      // The worker does not answer the SMS; VOICE_AFTER_SECONDS later the phone rings on the phones page.
      const ringing = await waitFor(
        'a call ringing at the worker',
        90_000,
        async () => {
          const phone = (await getJson<PhoneJson[]>(`${phones}/phones.json`)).find((p) => p.phone === worker.to);
          return phone?.calls?.find((c) => c.status === 'ringing') ?? null;
        },
        output,
      );
      const page = await (await fetch(`${phones}/`)).text();
      expect(page).toContain(`/calls/${ringing.id}/act`);
      expect(await act(phones, ringing.id, 'answer')).toBe(303);
      await waitFor(
        'the page spoken on the call',
        30_000,
        async () => {
          const phone = (await getJson<PhoneJson[]>(`${phones}/phones.json`)).find((p) => p.phone === worker.to);
          return phone?.calls?.find((c) => c.id === ringing.id && c.spoken.length > 0) ?? null;
        },
        output,
      );
      expect(await (await fetch(`${phones}/`)).text()).toContain('value="key:1"');
      expect(await act(phones, ringing.id, 'key:1')).toBe(303);

      // Key 1 acknowledges for that worker, by voice.
      const acked = await waitFor(
        'the incident acknowledged on the call',
        60_000,
        async () => {
          const full = await getJson<IncidentJson>(`${api}/api/incidents/${opened.id}`, TOKEN);
          return full.state === 'acknowledged' && full.timeline?.some((e) => e.action === 'acknowledged' && e.channel === 'voice')
            ? full
            : null;
        },
        output,
      );
      expect(acked.acknowledgedBy?.phone).toBe(worker.to);

      // The family is told who is coming, through the same provider.
      const told = await waitFor(
        'the "who is coming" SMS to the family',
        60_000,
        async () => {
          const all = await getJson<PhoneJson[]>(`${phones}/phones.json`);
          const coming = all.filter(
            (p) => family.includes(p.phone) && p.received.some((m) => m.body.includes(`${worker.name ?? ''}已接单，正赶往`)),
          );
          return coming.length === family.length ? coming : null;
        },
        output,
      );
      expect(told.length).toBe(family.length);

      // Escalation stopped: the only responder paged or called is the first worker, at the first step, and the phone
      // never replied by SMS: the call alone took it.
      const final = await getJson<IncidentJson>(`${api}/api/incidents/${opened.id}`, TOKEN);
      expect(final.step).toBe(1);
      const responders = final.pages.filter((p) => p.role !== 'family');
      expect(
        responders.every((p) => p.to === worker.to && p.step === 1),
        JSON.stringify(final.pages),
      ).toBe(true);
      expect(responders.find((p) => p.purpose === 'call')?.status).toBe('acknowledged');
      const workerPhone = (await getJson<PhoneJson[]>(`${phones}/phones.json`)).find((p) => p.phone === worker.to);
      expect(workerPhone?.sent).toEqual([]);
      expect(workerPhone?.calls?.find((c) => c.id === ringing.id)?.keys).toEqual(['1']);

      // Ctrl-C stops it all.
      if (demo.proc.pid) process.kill(-demo.proc.pid, 'SIGINT');
      const exit = await Promise.race([demo.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
      expect(exit, output()).not.toBeNull();
      expect(demo.stdout()).toContain('demo: stopped');
    },
  );
});
