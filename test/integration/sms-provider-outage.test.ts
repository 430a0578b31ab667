// The SMS provider down (5xx) during an alarm storm: the circuit breaker holds the requests down, no page is lost or
// failed, the board and timeline show the pages in trouble, and every page goes out once the provider is back.
// Whole gateway: real aedes + mqtt.js buttons, SQLite, the twilio SDK against the local simulator, a manual clock.
import { writeFileSync } from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { DEFAULT_COOLDOWN_MS, DEFAULT_FAILURE_THRESHOLD } from '../../gateway/notifiers/circuit-breaker.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const RESIDENTS = 12;
const FAMILY_EACH = 2;
/** Each alarm: the worker's page and link, and each family member's page and link. */
const SMS_PER_ALARM = 2 + 2 * FAMILY_EACH;
/** The dispatcher's default: provider calls in flight at once. */
const CONCURRENCY = 16;
const OUTAGE_MS = 60_000;

/** Twelve residents, each with a button and two family members, and three workers on duty around the clock. */
function stormRegistry(): unknown {
  const allWeek = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }];
  const residents = Array.from({ length: RESIDENTS }, (_, i) => ({
    id: `r-${i}`,
    name: `老人${i}`,
    community: 'andali',
    address: `安达里${i}号楼`,
    location: { lat: 39.21 + i * 0.001, lon: 117.13 },
    family: Array.from({ length: FAMILY_EACH }, (_, j) => ({
      name: `家属${i}-${j}`,
      relation: '子女',
      phone: `+86138000${String(i * 10 + j).padStart(5, '0')}`,
    })),
  }));
  return {
    // Nobody acknowledges and nobody new is paged during these tests: the SMS of the first step are all there is.
    escalation: { ackTimeoutSeconds: 3600, fallCancelSeconds: 30, offlineAfterSeconds: 3600 },
    communities: [{ id: 'andali', name: '安达里社区' }],
    residents,
    workers: [1, 2, 3].map((n) => ({
      id: `w-0${n}`,
      name: `网格员${n}`,
      phone: `+861390000000${n}`,
      community: 'andali',
      location: { lat: 39.21 + n * 0.004, lon: 117.131 },
      shifts: allWeek,
    })),
    devices: residents.map((r, i) => ({ id: `btn-${i}`, kind: 'sos_button', resident: r.id, secret: `s3cret-btn-${i}` })),
  };
}

interface Health {
  status: string;
  alarmsOk: boolean;
  components: {
    sms: {
      status: string;
      waiting: number;
      breaker: { state: string; opened: number };
      providers: { name: string; role: string; state: string; status: string }[];
    };
  };
}

describe('SMS provider outage during an alarm storm', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let dir: { path: string; remove: () => void };
  let buttons: MqttClient[] = [];

  beforeEach(async () => {
    // Thursday 2026-11-26 10:00 in Asia/Shanghai.
    clock = new ManualClock(shanghaiLast(4, 10));
    dir = tempDir('care-gw-outage-');
    const registry = join(dir.path, 'registry.json');
    writeFileSync(registry, JSON.stringify(stormRegistry()));
    t = await startTestGateway({ clock, env: { REGISTRY_FILE: registry } });
    buttons = await Promise.all(Array.from({ length: RESIDENTS }, (_, i) => connectDevice(t.mqttUrl, `btn-${i}`, `s3cret-btn-${i}`)));
  });

  afterEach(async () => {
    await Promise.all(buttons.map((b) => b.endAsync()));
    await t.stop();
    dir.remove();
  });

  const api = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const creates = () => t.sms.requests().filter((q) => q.method === 'POST');
  const allSms = () => t.gateway.store.sms.list(10_000);
  /** Moves the manual clock on and waits until the provider calls that started have been answered and recorded. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await waitFor('provider calls answered', () => t.gateway.dispatcher.health().sending === 0, { timeoutMs: 10_000 });
  };

  it('bounds the requests with the breaker, keeps every page, shows the trouble, and delivers all after recovery', async () => {
    t.sms.setOutage(500);
    await Promise.all(buttons.map((b, i) => b.publishAsync(`care/v1/btn-${i}/event`, JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 })));
    await waitFor('every page queued', async () => (await allSms()).length === RESIDENTS * SMS_PER_ALARM, { timeoutMs: 10_000 });
    await waitFor(
      'breaker open',
      () => t.gateway.dispatcher.health().sending === 0 && t.gateway.dispatcher.health().breaker.state === 'open',
      { timeoutMs: 10_000 },
    );

    // The storm's first sends fail; once the breaker opens nothing more starts, so only the calls already in flight add up.
    const beforeOpen = creates().length;
    expect(beforeOpen).toBeGreaterThanOrEqual(DEFAULT_FAILURE_THRESHOLD);
    expect(beforeOpen).toBeLessThanOrEqual(DEFAULT_FAILURE_THRESHOLD + CONCURRENCY - 1);
    const down = await api<Health>('/healthz');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'down',
      alarmsOk: false,
      components: { sms: { status: 'down', breaker: { state: 'open' } } },
    });
    expect(down.body.components.sms.waiting).toBeGreaterThan(0);
    // Each provider is named with its own state (here the only one, the first).
    expect(down.body.components.sms.providers).toEqual([
      expect.objectContaining({ name: 'twilio', role: 'primary', state: 'open', status: 'down' }),
    ]);

    // 60 s of outage, one second at a time: after the breaker opened, only its probes reach the provider.
    for (let elapsed = 1000; elapsed <= OUTAGE_MS; elapsed += 1000) await advance(1000);
    const duringOutage = creates();
    expect(duringOutage.every((q) => q.fault === 500)).toBe(true);
    expect(duringOutage.length - beforeOpen).toBeLessThanOrEqual(Math.ceil(OUTAGE_MS / DEFAULT_COOLDOWN_MS));
    expect(duringOutage.length - beforeOpen).toBeGreaterThanOrEqual(Math.floor(OUTAGE_MS / DEFAULT_COOLDOWN_MS) - 1);

    // Nothing failed for good, and the pages in trouble show on the board and in each incident's timeline.
    expect((await allSms()).filter((m) => m.status === 'failed')).toEqual([]);
    const open = (await api<IncidentView[]>('/api/incidents?state=open')).body;
    expect(open).toHaveLength(RESIDENTS);
    for (const incident of open) {
      const family = incident.pages.filter((p) => p.role === 'family');
      expect(family).toHaveLength(FAMILY_EACH);
      expect(family.every((p) => p.retrying && (p.status === 'queued' || p.status === 'sending'))).toBe(true);
      const { body: detail } = await api<IncidentView>(`/api/incidents/${incident.id}`);
      const delayed = (detail.timeline ?? []).filter((e) => e.action === 'page_delayed').map((e) => e.detail?.sms);
      expect(delayed.sort()).toEqual(incident.pages.map((p) => p.id).sort());
    }
    expect((await api<Health>('/healthz')).status).toBe(503);

    // The provider is back: the next probe closes the breaker and everything waiting goes out.
    t.sms.setOutage(null);
    for (let waited = 0; t.gateway.dispatcher.health().breaker.state !== 'closed'; waited += 1000) {
      expect(waited).toBeLessThanOrEqual(DEFAULT_COOLDOWN_MS);
      await advance(1000);
    }
    await waitFor('every SMS delivered', async () => (await allSms()).every((m) => m.status === 'delivered'), { timeoutMs: 20_000 });

    const rows: OutboundSms[] = await allSms();
    expect(rows).toHaveLength(RESIDENTS * SMS_PER_ALARM);
    // Each stored message reached the provider exactly once.
    const accepted = t.sms.messages();
    expect(accepted).toHaveLength(rows.length);
    expect(new Set(accepted.map((m) => m.sid))).toEqual(new Set(rows.map((m) => m.providerSid)));
    const up = await api<Health>('/healthz');
    expect(up.status).toBe(200);
    expect(up.body.components.sms.breaker).toMatchObject({ state: 'closed', opened: 1 });
    expect(up.body.components.sms.providers).toEqual([expect.objectContaining({ name: 'twilio', state: 'closed' })]);
    const after = (await api<IncidentView[]>('/api/incidents?state=open')).body;
    expect(after.flatMap((i) => i.pages).every((p) => p.status === 'delivered' && !p.retrying)).toBe(true);
  });

  it('keeps the pages of an open incident trying through a ten-minute outage, far past their 7 attempts', async () => {
    t.sms.setOutage(503);
    await buttons[0]!.publishAsync('care/v1/btn-0/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await waitFor('the pages queued', async () => (await allSms()).length === SMS_PER_ALARM, { timeoutMs: 10_000 });
    await waitFor('first tries answered', () => t.gateway.dispatcher.health().sending === 0, { timeoutMs: 10_000 });
    for (let elapsed = 0; elapsed < 10 * 60_000; elapsed += 5000) await advance(5000);

    const during = await allSms();
    expect(during.filter((m) => m.status === 'failed')).toEqual([]);
    // One probe per cooldown, shared among six messages: some have used their 7 attempts many times over.
    expect(Math.max(...during.map((m) => m.attempts))).toBeGreaterThan(10);
    expect(creates().length).toBeLessThanOrEqual(DEFAULT_FAILURE_THRESHOLD + SMS_PER_ALARM + (10 * 60_000) / DEFAULT_COOLDOWN_MS);

    // Back: noticed by the next probe, within one cooldown, although every message has long reached the 60 s backoff.
    t.sms.setOutage(null);
    await advance(DEFAULT_COOLDOWN_MS);
    expect(t.gateway.dispatcher.health().breaker.state).toBe('closed');
    await waitFor('every SMS delivered', async () => (await allSms()).every((m) => m.status === 'delivered'), { timeoutMs: 20_000 });
    expect(t.sms.messages()).toHaveLength(SMS_PER_ALARM);
  });

  it('puts a family page that could not be delivered on the timeline and the board, without moving the escalation on', async () => {
    const [son, daughter] = [0, 1].map((j) => `+86138000${String(j).padStart(5, '0')}`) as [string, string];
    t.sms.setDeliveryOutcome(son, 'undelivered');
    t.sms.setDeliveryOutcome(daughter, 'failed');
    await buttons[0]!.publishAsync('care/v1/btn-0/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const failedPages = async () => {
      const list = (await api<IncidentView[]>('/api/incidents')).body;
      const pages = list[0]?.pages.filter((p) => p.role === 'family' && (p.status === 'undelivered' || p.status === 'failed')) ?? [];
      return pages.length === 2 ? { incident: list[0]!, pages } : null;
    };
    const { incident, pages } = await waitFor('family pages failed', failedPages, { timeoutMs: 10_000 });
    const timeline = await waitFor(
      'page_failed entries',
      async () => {
        const entries = (await api<IncidentView>(`/api/incidents/${incident.id}`)).body.timeline ?? [];
        const failed = entries.filter((e) => e.action === 'page_failed');
        return failed.length === 2 ? failed : null;
      },
      { timeoutMs: 10_000 },
    );
    expect(timeline.map((e) => e.detail?.sms).sort()).toEqual(pages.map((p) => p.id).sort());
    expect(timeline.every((e) => e.detail?.pagedRole === 'family')).toBe(true);
    // Nobody else is paged in a family member's place: the worker's page stands, the duty officer phones the family.
    const now = (await api<IncidentView>(`/api/incidents/${incident.id}`)).body;
    expect(now).toMatchObject({ state: 'open', step: 1 });
  });
});
