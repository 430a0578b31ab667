// Failover and caps, through the real Twilio SDK against the Twilio simulator: a page the first provider fails goes
// to the fallback at once, a page over a cap goes the other way (or fails loudly), and a phone holding a page
// unanswered is not sent it again.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { SendCaps, type CapRule } from '../../gateway/notifiers/caps.js';
import { CAPPED_CODE, DIVERTED_CODE } from '../../gateway/notifiers/dispatcher.js';
import { OutboxProvider } from '../../gateway/notifiers/outbox.js';
import { Pager } from '../../gateway/paging/pager.js';
import { systemClock } from '../../gateway/core/clock.js';
import { RESIDENT, makeIncident } from '../helpers/http-fixture.js';
import { pageSms, startSmsRig, storedSms, type SmsRig } from '../helpers/sms.js';

let rig: SmsRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const outbox = () => new OutboxProvider({ log: silentLogger() });
const DAY = 24 * 60 * 60 * 1000;
/** One message a day to a number through Twilio: small enough to reach in a test, counted like the real caps. */
const ONE_A_DAY: CapRule = { provider: 'twilio', scope: 'number', limit: 1, windowMs: DAY, label: 'test: one a day to a number' };

async function settled(r: SmsRig, id: string, statuses: OutboundSms['status'][]): Promise<OutboundSms> {
  await waitFor(`SMS ${id} to settle`, async () => statuses.includes((await storedSms(r, id)).status), { timeoutMs: 10_000 });
  return storedSms(r, id);
}

describe('failover to SMS_FALLBACK_PROVIDER', () => {
  it('hands a page the first provider fails with 5xx to the fallback at once, and names both in health', async () => {
    rig = await startSmsRig({ fallback: outbox() });
    const r = rig;
    r.sim.setOutage(503);
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms('+8613800000001'));
    const taken = await settled(r, msg.id, ['outbox']);
    // One try: Twilio's 503, then the outbox on the same attempt, without waiting out a backoff.
    expect(taken).toMatchObject({ status: 'outbox', provider: 'outbox', attempts: 1, error: null });
    expect(r.sim.requests().filter((q) => q.path.endsWith('/Messages.json'))).toHaveLength(1);
    const health = r.dispatcher.health();
    expect(health.providers.map((p) => [p.name, p.role, p.state])).toEqual([
      ['twilio', 'primary', 'closed'],
      ['outbox', 'fallback', 'closed'],
    ]);
    expect(health.providers[0]).toMatchObject({ degraded: true, consecutiveFailures: 1 });
    expect(health.providers[0]?.lastError).toMatch(/503/);
    expect(health.waiting).toBe(0);
  });

  it('sends straight to the fallback while the first provider is held open by its breaker', async () => {
    rig = await startSmsRig({ fallback: outbox(), breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    const r = rig;
    r.sim.setOutage(500);
    await r.dispatcher.start();
    for (const phone of ['+8613800000001', '+8613800000002']) await settled(r, (await r.dispatcher.enqueue(pageSms(phone))).id, ['outbox']);
    expect(r.dispatcher.health().providers[0]?.state).toBe('open');
    const before = r.sim.requests().length;
    const later = await r.dispatcher.enqueue(pageSms('+8613800000003'));
    expect(await settled(r, later.id, ['outbox'])).toMatchObject({ provider: 'outbox', attempts: 1 });
    // The open breaker keeps Twilio out of it: no request at all for the third page.
    expect(r.sim.requests().length).toBe(before);
  });

  it('without a fallback, keeps retrying the same provider (the control case)', async () => {
    rig = await startSmsRig();
    const r = rig;
    r.sim.failNext(1, { status: 503 });
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms('+8613800000001'));
    expect(await settled(r, msg.id, ['delivered', 'sent', 'accepted'])).toMatchObject({ provider: 'twilio', attempts: 2 });
  });
});

describe('per-recipient caps', () => {
  it('sends a page that would pass the cap through the fallback, counted durably', async () => {
    rig = await startSmsRig({ fallback: outbox() });
    const r = rig;
    const caps = () => new SendCaps({ repo: r.store.smsCaps, clock: systemClock, rules: [ONE_A_DAY] });
    r.newDispatcher({ fallback: outbox(), caps: caps() });
    await r.dispatcher.start();
    const first = await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001'))).id, ['delivered']);
    expect(first.provider).toBe('twilio');
    const second = await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001', '王淑珍'))).id, ['outbox']);
    expect(second).toMatchObject({ provider: 'outbox', attempts: 1 });
    // Another number is under its own count.
    expect((await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000002'))).id, ['delivered'])).provider).toBe('twilio');
    expect(r.sim.messages().filter((m) => m.to === '+8613800000001')).toHaveLength(1);
    // The count is in the database: a new process (new SendCaps over the same store) still sees the cap reached.
    expect(caps().exceeded('twilio', { to: '+8613800000001', intent: null, body: '' })).toEqual(ONE_A_DAY);
    expect(caps().exceeded('twilio', { to: '+8613800000003', intent: null, body: '' })).toBeNull();
  });

  it('with nowhere else to go, fails the page at once and loudly instead of sending it into a rejection', async () => {
    const failed: OutboundSms[] = [];
    rig = await startSmsRig();
    const r = rig;
    r.newDispatcher({
      caps: new SendCaps({ repo: r.store.smsCaps, clock: systemClock, rules: [ONE_A_DAY] }),
      onFailed: (m) => failed.push(m),
    });
    await r.dispatcher.start();
    await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001'))).id, ['delivered']);
    const capped = await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001', '王淑珍'))).id, ['failed']);
    expect(capped).toMatchObject({ status: 'failed', errorCode: CAPPED_CODE, attempts: 1 });
    expect(capped.error).toContain('test: one a day to a number');
    // Failed pages are what the incident timeline, the board and the next responder react to (app.ts → onPageFailed).
    expect(failed.map((m) => m.id)).toEqual([capped.id]);
    expect(r.events).toContain(`${capped.id}:failed`);
    expect(r.sim.messages().filter((m) => m.to === '+8613800000001')).toHaveLength(1);
  });

  it('lets another channel take a capped page (the voice hook), marked as diverted, not failed', async () => {
    const diverted: string[] = [];
    const failed: OutboundSms[] = [];
    rig = await startSmsRig();
    const r = rig;
    r.newDispatcher({
      caps: new SendCaps({ repo: r.store.smsCaps, clock: systemClock, rules: [ONE_A_DAY] }),
      divert: async (msg, reason) => {
        diverted.push(`${msg.to} ${reason}`);
        return true;
      },
      onFailed: (m) => failed.push(m),
    });
    await r.dispatcher.start();
    await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001'))).id, ['delivered']);
    const second = await settled(r, (await r.dispatcher.enqueue(pageSms('+8613800000001', '王淑珍'))).id, ['failed']);
    expect(second.errorCode).toBe(DIVERTED_CODE);
    expect(diverted).toEqual([expect.stringContaining('+8613800000001 not sent: over the per-recipient cap of twilio: test: one a day')]);
    expect(failed).toEqual([]);
  });
});

describe('duplicate pages', () => {
  it('does not send a page again to a phone that holds it unanswered, and does once it was answered', async () => {
    rig = await startSmsRig({ provider: outbox() });
    const r = rig;
    await r.dispatcher.start();
    const pager = new Pager({ sms: r.dispatcher, timeZone: 'Asia/Shanghai', publicUrl: 'http://localhost:8080', pages: r.store.sms });
    const incident = makeIncident({ id: 'inc-dup', openedAt: Date.now() - 60_000 });
    const worker = { role: 'worker' as const, id: 'w-01', name: '李明', phone: '+8613900000001', distanceM: 80 };
    const repeat = await pager.pageResponder(incident, RESIDENT, worker, 2);
    expect(repeat.map((m) => m.intent?.kind)).toEqual(['page_repeat', 'page_link']);
    // The same round again (a redelivered timer), and a later round with the very same page: nothing new.
    expect(await pager.pageResponder(incident, RESIDENT, worker, 2)).toEqual([]);
    expect(await pager.pageResponder(incident, RESIDENT, worker, 4)).toEqual([]);
    expect((await r.store.sms.listForIncident('inc-dup')).filter((m) => m.purpose === 'page')).toHaveLength(1);
    // Another person is paged as usual; and once the worker answered (e.g. "2"), a later page reaches them again.
    expect(await pager.pageResponder(incident, RESIDENT, { ...worker, id: 'w-02', phone: '+8613900000002' }, 4)).toHaveLength(2);
    await r.store.sms.markAnswered(worker.phone, incident.id, Date.now() + 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await pager.pageResponder(incident, RESIDENT, worker, 6)).toHaveLength(2);
  });
});
