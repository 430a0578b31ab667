// An incident's pages never fail on a long provider outage while the incident needs them (attempts persisted across a
// restart); routine SMS still fail after their attempts; the circuit breaker lets one probe through at a time.
// The dispatcher over real SQLite, the twilio SDK against the local simulator, the incident rules of PageDelivery.
import { intentOf } from '../../gateway/notifiers/kinds.js';
import { waitFor } from '../helpers/wait.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { IncidentState, OutboundSms } from '../../gateway/core/types.js';
import { PageDelivery, keepsTryingFor } from '../../gateway/incidents/page-delivery.js';
import type { IncidentEvents } from '../../gateway/incidents/service.js';
import type { SmsDispatcher } from '../../gateway/notifiers/dispatcher.js';
import { makeIncident } from '../helpers/http-fixture.js';
import { pageSms, startSmsRig, storedSms, type SmsRig } from '../helpers/sms.js';

let rig: SmsRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

const MAX_ATTEMPTS = 7;
const BACKOFF_MS = 100;

describe('SMS of an incident that still needs them', () => {
  it('keep trying past maxAttempts while the incident is open, across a restart; routine SMS fail; closing the incident lets them fail', async () => {
    const clock = new ManualClock(Date.now());
    const bus = new EventBus<IncidentEvents>(silentLogger());
    const holder: { delivery: PageDelivery | null } = { delivery: null };
    const deps = {
      clock,
      backoffMs: () => BACKOFF_MS,
      maxAttempts: MAX_ATTEMPTS,
      // The breaker is not what this test is about: it stays closed so that every retry reaches the provider.
      breaker: { failureThreshold: 1_000_000 },
      keepTrying: (msg: OutboundSms) => holder.delivery?.keepTrying(msg) ?? Promise.resolve(false),
    };
    rig = await startSmsRig(deps);
    const r = rig;
    holder.delivery = new PageDelivery({ incidents: r.store.incidents, bus, clock });
    await r.store.incidents.create(makeIncident({ id: 'inc-test', openedAt: clock.now(), state: 'open' }));
    r.sim.setOutage(503);
    await r.dispatcher.start();

    const worker = await r.dispatcher.enqueue(pageSms('+8613900000001'));
    const family = await r.dispatcher.enqueue({ ...pageSms('+8613800000001'), role: 'family', personId: 'family:r-001:0' });
    const help = await r.dispatcher.enqueue({
      to: '+8613700000001',
      intent: intentOf('reply_help'),
      priority: 'routine',
      purpose: 'help',
      incidentId: null,
      step: null,
      role: null,
      personId: null,
      context: null,
    });
    const run = async (d: SmsDispatcher, rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        clock.advance(BACKOFF_MS);
        await waitFor('provider calls answered', () => d.health().sending === 0, { timeoutMs: 10_000 });
      }
    };
    await waitFor('first tries', () => r.dispatcher.health().sending === 0 && r.sim.requests().length === 3, { timeoutMs: 10_000 });
    await run(r.dispatcher, MAX_ATTEMPTS + 3);

    expect((await storedSms(r, help.id)).status).toBe('failed');
    expect((await storedSms(r, help.id)).attempts).toBe(MAX_ATTEMPTS);
    for (const id of [worker.id, family.id]) {
      const row = await storedSms(r, id);
      expect(row.status).toBe('sending');
      expect(row.attempts).toBeGreaterThan(MAX_ATTEMPTS);
    }

    // A restart carries on from the stored attempts; the pages keep trying there too.
    const before = (await storedSms(r, family.id)).attempts;
    await r.dispatcher.stop();
    const again = r.newDispatcher({});
    await again.start();
    await waitFor('resumed try', async () => (await storedSms(r, family.id)).attempts === before + 1 && again.health().sending === 0, {
      timeoutMs: 10_000,
    });
    expect((await storedSms(r, family.id)).status).toBe('sending');

    // Taken: the worker's page no longer matters and fails at its next try; the family's still does.
    await r.store.incidents.update(makeIncident({ id: 'inc-test', openedAt: clock.now(), state: 'acknowledged' }));
    await run(again, 2);
    expect((await storedSms(r, worker.id)).status).toBe('failed');
    expect((await storedSms(r, family.id)).status).toBe('sending');

    // Resolved: nothing of it keeps trying any more.
    await r.store.incidents.update(makeIncident({ id: 'inc-test', openedAt: clock.now(), state: 'resolved' }));
    await run(again, 2);
    expect((await storedSms(r, family.id)).status).toBe('failed');
    expect(r.sim.messages()).toHaveLength(0);
  });

  it('keeps trying: everything while nobody has taken it, the family after, nothing once closed', () => {
    const states: IncidentState[] = ['pending', 'open', 'acknowledged', 'resolved', 'cancelled'];
    expect(states.map((s) => [keepsTryingFor({ role: 'worker' }, s), keepsTryingFor({ role: 'family' }, s)])).toEqual([
      [true, true],
      [true, true],
      [false, true],
      [false, false],
      [false, false],
    ]);
  });
});

describe('SMS circuit breaker', () => {
  it('opens after the threshold, sends one probe per cooldown while the provider is down, and closes on its success', async () => {
    const clock = new ManualClock(Date.now());
    rig = await startSmsRig({ clock, backoffMs: () => 50, breaker: { failureThreshold: 3, cooldownMs: 1000 }, concurrency: 1 });
    const r = rig;
    r.sim.setOutage(500);
    await r.dispatcher.start();
    const msgs: OutboundSms[] = [];
    for (let i = 0; i < 6; i++) msgs.push(await r.dispatcher.enqueue(pageSms(`+861380000010${i}`)));
    const settled = () => waitFor('provider calls answered', () => r.dispatcher.health().sending === 0, { timeoutMs: 10_000 });
    // One call at a time: three failures in a row open it, and the other three messages wait without a try.
    await waitFor('breaker open', () => r.dispatcher.health().breaker.state === 'open' && r.dispatcher.health().sending === 0, {
      timeoutMs: 10_000,
    });
    expect(r.sim.requests()).toHaveLength(3);
    expect((await Promise.all(msgs.slice(3).map((m) => storedSms(r, m.id)))).map((m) => [m.status, m.attempts])).toEqual([
      ['queued', 0],
      ['queued', 0],
      ['queued', 0],
    ]);
    expect(r.dispatcher.health()).toMatchObject({
      degraded: true,
      waiting: 6,
      breaker: { state: 'open', consecutiveFailures: 3, opened: 1 },
    });

    // Backoffs end, but nothing goes until the cooldown is over; then exactly one probe per cooldown.
    for (let t = 0; t < 950; t += 50) {
      clock.advance(50);
      await settled();
    }
    expect(r.sim.requests()).toHaveLength(3);
    clock.advance(50);
    expect(r.dispatcher.health().breaker.state).toBe('half-open');
    await settled();
    expect(r.sim.requests()).toHaveLength(4);
    expect(r.dispatcher.health().breaker.state).toBe('open');
    for (let t = 0; t < 1000; t += 50) {
      clock.advance(50);
      await settled();
    }
    expect(r.sim.requests()).toHaveLength(5);

    // Back up: the next probe succeeds, the breaker closes and every waiting message goes, none failed.
    r.sim.setOutage(null);
    for (let t = 0; t < 1000; t += 50) {
      clock.advance(50);
      await settled();
    }
    await waitFor('all sent', async () => (await Promise.all(msgs.map((m) => storedSms(r, m.id)))).every((m) => m.providerSid !== null), {
      timeoutMs: 10_000,
    });
    expect(r.dispatcher.health().breaker).toMatchObject({ state: 'closed', consecutiveFailures: 0, opened: 1 });
    expect(r.sim.messages()).toHaveLength(6);
    expect(r.sim.requests().filter((q) => q.fault === null)).toHaveLength(6);
  });

  it('counts a refusal of one message (bad number) as the provider answering, not as an outage', async () => {
    rig = await startSmsRig({ breaker: { failureThreshold: 2 } });
    const r = rig;
    await r.dispatcher.start();
    const bad = await Promise.all([1, 2, 3].map(() => r.dispatcher.enqueue(pageSms('+86-not-a-number'))));
    await waitFor('refused', async () => (await Promise.all(bad.map((m) => storedSms(r, m.id)))).every((m) => m.status === 'failed'));
    expect(r.dispatcher.health().breaker).toMatchObject({ state: 'closed', opened: 0 });
  });
});
