// Alarm pages before routine SMS: through the real twilio SDK to a slowed simulator, over real SQLite, after a restart and on retry.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import type { NewOutboundSms } from '../../gateway/notifiers/dispatcher.js';
import { intentOf } from '../../gateway/notifiers/kinds.js';
import { pageSms, startSmsRig, storedSms, type SmsRig } from '../helpers/sms.js';
import { waitFor } from '../helpers/wait.js';

let rig: SmsRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

const ALARM_PHONE = '+8613900000009';

/** A visit reminder to volunteer n: routine traffic, as a morning's reminders or a digest run queue it. */
function reminder(n: number): NewOutboundSms {
  const intent = intentOf('visit_reminder', { day: '周二', list: `11:00 张桂兰${n}` });
  return {
    to: `+86137000001${String(n).padStart(2, '0')}`,
    intent,
    priority: 'routine',
    purpose: 'notice',
    incidentId: null,
    step: null,
    role: null,
    personId: `v-${n}`,
    context: null,
  };
}

/** The numbers the simulator's requests came for, in the order the requests arrived. */
function arrivalOrder(r: SmsRig): string[] {
  return r.sim
    .messages()
    .sort((a, b) => a.receivedHr - b.receivedHr)
    .map((m) => m.to);
}

/** The stored row once the provider's answer is recorded (the simulator has the message a moment before that). */
async function handedOver(r: SmsRig, id: string): Promise<OutboundSms> {
  await waitFor(`SMS ${id} to be recorded as handed over`, async () => (await storedSms(r, id)).providerSid !== null, {
    timeoutMs: 10_000,
  });
  return storedSms(r, id);
}

async function waitAccepted(r: SmsRig, count: number): Promise<void> {
  await waitFor(`${count} messages at the simulator`, () => r.sim.messages().length >= count, { timeoutMs: 20_000 });
}

describe('SMS send queue: alarm before routine', () => {
  it('hands an alarm page queued after a burst of routine SMS to a slow provider before the routine ones still waiting', async () => {
    // Four calls at once, one kept for alarms; each provider answer takes 1.2 s (the rig's SDK timeout is 2 s), so the first routine
    // sends still hold their slots when the page is queued.
    rig = await startSmsRig({ concurrency: 4 });
    const r = rig;
    r.sim.setLatency(1200);
    await r.dispatcher.start();
    const routine = [];
    for (let n = 1; n <= 6; n++) routine.push(await r.dispatcher.enqueue(reminder(n)));
    const page = await r.dispatcher.enqueue(pageSms(ALARM_PHONE));
    // The premise: no routine send has been answered yet (else the page would simply take a freed slot).
    expect(r.sim.messages()).toHaveLength(0);
    await waitAccepted(r, 7);

    const order = arrivalOrder(r);
    // Three routine sends were already in flight; the page took the slot they cannot take, before the other three.
    expect(order.indexOf(ALARM_PHONE)).toBe(3);
    expect(order.filter((to) => to !== ALARM_PHONE)).toEqual(routine.map((m) => m.to));
    expect((await handedOver(r, page.id)).attempts).toBe(1);
  });

  it('sends a page recovered from the database after a restart before the routine SMS queued ahead of it', async () => {
    rig = await startSmsRig({ concurrency: 1 });
    const r = rig;
    // Queued by a process that died before it could send them: the rows wait in SQLite.
    const routine = [];
    for (let n = 1; n <= 4; n++) routine.push(await r.dispatcher.enqueue(reminder(n)));
    await r.dispatcher.enqueue(pageSms(ALARM_PHONE));
    await r.dispatcher.stop();
    await r.store.close();
    r.reopenStore();

    const next = r.newDispatcher({ concurrency: 1 });
    await next.start();
    await waitAccepted(r, 5);
    expect(arrivalOrder(r)).toEqual([ALARM_PHONE, ...routine.map((m) => m.to)]);
  });

  it('sends a waiting page before a routine SMS whose retry came due first', async () => {
    const clock = new ManualClock();
    rig = await startSmsRig({ concurrency: 1, clock, backoffMs: () => 1000 });
    const r = rig;
    await r.dispatcher.start();
    // The first reminder fails once and waits out its backoff.
    r.sim.failNext(1, { status: 503 });
    const first = await r.dispatcher.enqueue(reminder(1));
    await waitFor(
      'the first reminder to back off',
      async () => (await storedSms(r, first.id)).attempts === 1 && r.dispatcher.health().queued === 1,
      { timeoutMs: 10_000 },
    );

    // A second reminder holds the only slot at a slow provider; meanwhile the first one's retry comes due, then a page is queued.
    r.sim.setLatency(1200);
    const second = await r.dispatcher.enqueue(reminder(2));
    await waitFor('the second reminder at the simulator', () => r.sim.requests().length === 2, { timeoutMs: 10_000 });
    clock.advance(1000);
    expect(r.dispatcher.health()).toMatchObject({ queued: 2, sending: 1 });
    await r.dispatcher.enqueue(pageSms(ALARM_PHONE));
    // The premise: the second reminder still holds the slot, with the retry and the page both waiting.
    expect(r.dispatcher.health()).toMatchObject({ queued: 3, sending: 1 });
    await waitAccepted(r, 3);

    expect(arrivalOrder(r)).toEqual([second.to, ALARM_PHONE, first.to]);
    expect((await handedOver(r, first.id)).attempts).toBe(2);
  });
});
