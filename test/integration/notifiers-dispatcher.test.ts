// SmsDispatcher sending through the real twilio SDK to the simulator: durable enqueue, retries, failures, concurrency.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { defaultBackoffMs } from '../../gateway/notifiers/send-gate.js';
import type { SmsProvider } from '../../gateway/notifiers/provider.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { pageSms, startSmsRig, type SmsRig, storedSms } from '../helpers/sms.js';

let rig: SmsRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

const stored = storedSms;

async function waitForStatus(r: SmsRig, id: string, status: OutboundSms['status'], timeoutMs = 15000): Promise<OutboundSms> {
  await waitFor(`SMS ${id} to become ${status}`, async () => (await stored(r, id)).status === status, { timeoutMs });
  return stored(r, id);
}

describe('SmsDispatcher sending', () => {
  it('stores the message first, returns, then sends it and follows receipts to delivered', async () => {
    const sent: number[] = [];
    rig = await startSmsRig({ onSent: (_m, latencyMs) => sent.push(latencyMs) });
    const r = rig;
    r.sim.setLatency(100);
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    expect(msg).toMatchObject({
      status: 'queued',
      provider: 'twilio',
      attempts: 0,
      providerSid: null,
      purpose: 'page',
      incidentId: 'inc-test',
    });
    expect(msg.id).toMatch(/^sms-/);
    // Durable before any provider answer: the row exists while the simulator is still sitting on the request.
    expect((await stored(r, msg.id)).to).toBe('+8613800000001');
    expect(r.sim.messages()).toHaveLength(0);

    const delivered = await waitForStatus(r, msg.id, 'delivered');
    expect(delivered.providerSid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(delivered.attempts).toBe(1);
    expect(delivered.sentAt).not.toBeNull();
    const simMsg = await r.sim.waitForMessage((m) => m.sid === delivered.providerSid, 100);
    expect(simMsg.statusCallback).toBe(`${r.receiver.url}/webhooks/twilio/status`);
    expect(r.receiver.received.every((h) => h.valid)).toBe(true);
    expect(r.events).toEqual(['queued', 'sending', 'accepted', 'sent', 'delivered'].map((s) => `${msg.id}:${s}`));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeGreaterThanOrEqual(90);
    expect(r.dispatcher.health()).toEqual({
      provider: 'twilio',
      degraded: false,
      lastError: null,
      consecutiveFailures: 0,
      queued: 0,
      sending: 0,
      waiting: 0,
      breaker: { state: 'closed', consecutiveFailures: 0, openedAt: null, nextProbeAt: null, opened: 0 },
      sender: { sender: 'thread', senderRestarts: 0, problem: null },
      providers: [
        {
          name: 'twilio',
          role: 'primary',
          state: 'closed',
          degraded: false,
          consecutiveFailures: 0,
          lastError: null,
          breaker: { state: 'closed', consecutiveFailures: 0, openedAt: null, nextProbeAt: null, opened: 0 },
          sender: { sender: 'thread', senderRestarts: 0, problem: null },
        },
      ],
    });
  });

  it('retries through two 503s and then succeeds, recording every attempt', async () => {
    rig = await startSmsRig();
    const r = rig;
    r.sim.failNext(2, { status: 503 });
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    const accepted = await waitForStatus(r, msg.id, 'delivered');
    expect(accepted.attempts).toBe(3);
    expect(accepted.errorCode).toBeNull();
    expect(accepted.error).toBeNull();
    expect(
      r.sim
        .requests()
        .filter((q) => q.method === 'POST')
        .map((q) => q.fault),
    ).toEqual([503, 503, null]);
    expect(r.sim.messages()).toHaveLength(1);
    expect(r.dispatcher.health().consecutiveFailures).toBe(0);
  });

  it('gives up after maxAttempts with status failed', async () => {
    const failed: OutboundSms[] = [];
    rig = await startSmsRig({ maxAttempts: 4, onFailed: (m) => failed.push(m) });
    const r = rig;
    r.sim.failNext(10, { status: 500 });
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    const row = await waitForStatus(r, msg.id, 'failed');
    expect(row.attempts).toBe(4);
    expect(row.errorCode).toBe('20500');
    expect(row.error).toMatch(/500/);
    expect(r.sim.requests()).toHaveLength(4);
    expect(failed.map((m) => m.id)).toEqual([msg.id]);
    const health = r.dispatcher.health();
    expect(health.degraded).toBe(true);
    expect(health.consecutiveFailures).toBe(4);
    expect(health.lastError).toMatch(/500/);
    expect(r.events.at(-1)).toBe(`${msg.id}:failed`);
  });

  it('fails at once on an invalid number (21211) without blaming the provider', async () => {
    rig = await startSmsRig();
    const r = rig;
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms('+86-not-a-number'));
    const row = await waitForStatus(r, msg.id, 'failed');
    expect(row.attempts).toBe(1);
    expect(row.errorCode).toBe('21211');
    expect(r.sim.requests()).toHaveLength(1);
    expect(r.dispatcher.health()).toMatchObject({ degraded: false, consecutiveFailures: 0 });
  });

  it('keeps trying while the provider is down and delivers once it is back', async () => {
    rig = await startSmsRig({ backoffMs: () => 30 });
    const r = rig;
    await r.sim.setDown(true);
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    await waitFor('three attempts', async () => (await stored(r, msg.id)).attempts >= 3, { timeoutMs: 3000 });
    const during = await stored(r, msg.id);
    expect(during.status).toBe('sending');
    expect(during.errorCode).toMatch(/^ECONN/);
    expect(r.dispatcher.health().degraded).toBe(true);
    expect(r.dispatcher.health().queued).toBe(1);
    await r.sim.setDown(false);
    const row = await waitForStatus(r, msg.id, 'delivered');
    expect(row.attempts).toBeGreaterThanOrEqual(4);
    expect(row.attempts).toBeLessThanOrEqual(7);
    expect(r.dispatcher.health().degraded).toBe(false);
  });

  it('waits 0.5 s then 1 s (with jitter) between tries by default, on the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    rig = await startSmsRig({ clock, backoffMs: undefined });
    const r = rig;
    r.sim.failNext(2, { status: 503 });
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    const posts = () => r.sim.requests().length;
    // After a failure the message holds two timers: its retry, and the watch that reports it if it is still unsent at 30 s.
    await waitFor('first failure', () => posts() === 1 && clock.pendingTimers() === 2, { timeoutMs: 10000 });
    clock.advance(399);
    await new Promise((res) => setTimeout(res, 50));
    expect(posts()).toBe(1);
    clock.advance(202); // 601 ms: past 0.5 s + 20 %
    await waitFor('second attempt', () => posts() === 2 && clock.pendingTimers() === 2, { timeoutMs: 10000 });
    clock.advance(799);
    await new Promise((res) => setTimeout(res, 50));
    expect(posts()).toBe(2);
    clock.advance(402); // 1201 ms: past 1 s + 20 %
    // Handed over on the third try. The simulator's receipts may already have moved it past `accepted`.
    await waitFor('third attempt accepted', async () => (await stored(r, msg.id)).providerSid !== null, { timeoutMs: 15000 });
    const row = await stored(r, msg.id);
    expect(['accepted', 'sent', 'delivered']).toContain(row.status);
    expect(row.attempts).toBe(3);
    expect(posts()).toBe(3);
  });

  it('default backoff doubles from 0.5 s to 16 s with ±20 % jitter', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => defaultBackoffMs(a, () => 0.5))).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
    expect(defaultBackoffMs(1, () => 0)).toBe(400);
    expect(defaultBackoffMs(6, () => 1)).toBe(19200);
  });

  it('never lets one slow send hold up the others beyond the concurrency bound', async () => {
    let inFlight = 0;
    let peak = 0;
    rig = await startSmsRig();
    const r = rig;
    // Counts calls around the real provider; the sends themselves still go through the SDK to the simulator.
    const counting: SmsProvider = {
      name: 'twilio',
      send: async (m) => {
        peak = Math.max(peak, ++inFlight);
        try {
          return await r.twilioProvider.send(m);
        } finally {
          inFlight--;
        }
      },
    };
    const d = r.newDispatcher({ provider: counting, concurrency: 3 });
    r.sim.setLatency(80);
    await d.start();
    const msgs = await Promise.all(Array.from({ length: 9 }, (_, i) => d.enqueue(pageSms(`+861380000010${i}`))));
    expect(d.health().queued).toBe(9);
    await waitFor('all sent', async () => (await Promise.all(msgs.map((m) => stored(r, m.id)))).every((m) => m.providerSid !== null));
    expect(peak).toBe(3);
    expect(r.sim.messages()).toHaveLength(9);
  });

  it('holds messages enqueued before start() and sends them once started; stop() lets the call in flight finish', async () => {
    rig = await startSmsRig();
    const r = rig;
    const early = await r.dispatcher.enqueue(pageSms());
    await new Promise((res) => setTimeout(res, 50));
    expect(r.sim.requests()).toHaveLength(0);
    await r.dispatcher.start();
    await waitForStatus(r, early.id, 'delivered');

    r.sim.setLatency(150);
    const late = await r.dispatcher.enqueue(pageSms('+8613800000002'));
    await waitFor('second request', () => r.sim.requests().length === 2, { timeoutMs: 2000 });
    await r.dispatcher.stop();
    const row = await stored(r, late.id);
    expect(row.providerSid).toMatch(/^SM/);
    expect(row.attempts).toBe(1);
  });
});
