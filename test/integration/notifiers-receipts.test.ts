// SmsDispatcher delivery receipts, crash resume and outbox mode, over a real SQLite file and the Twilio simulator.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { OutboxProvider } from '../../gateway/notifiers/outbox.js';
import type { SmsProvider } from '../../gateway/notifiers/provider.js';
import { pageSms, startSmsRig, type SmsRig, storedSms } from '../helpers/sms.js';

let rig: SmsRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

const stored = storedSms;

/** The stored message once `check` holds for it. */
function storedWhen(r: SmsRig, id: string, check: (m: OutboundSms) => boolean, what: string): Promise<OutboundSms> {
  return waitFor(`message ${id} ${what}`, async () => {
    const m = await stored(r, id);
    return check(m) ? m : null;
  });
}

describe('SmsDispatcher delivery receipts', () => {
  it('applies receipts by provider SID and never moves a message backwards', async () => {
    // Receipts from the simulator go nowhere here (publicUrl is a closed port), so only ours count.
    rig = await startSmsRig({ publicUrl: 'http://127.0.0.1:9' });
    const r = rig;
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    const accepted = await storedWhen(r, msg.id, (m) => m.status === 'accepted', 'accepted');
    const sid = accepted.providerSid ?? '';
    expect(sid).toMatch(/^SM/);

    expect(await r.dispatcher.handleStatusCallback({ MessageSid: sid, MessageStatus: 'delivered' })).toBe(true);
    expect((await stored(r, msg.id)).status).toBe('delivered');
    // Late, out-of-order receipts are acknowledged but change nothing.
    expect(await r.dispatcher.handleStatusCallback({ MessageSid: sid, MessageStatus: 'sent' })).toBe(true);
    expect(await r.dispatcher.handleStatusCallback({ MessageSid: sid, MessageStatus: 'queued' })).toBe(true);
    expect(await r.dispatcher.handleStatusCallback({ MessageSid: sid, MessageStatus: 'undelivered', ErrorCode: '30003' })).toBe(true);
    const row = await stored(r, msg.id);
    expect(row.status).toBe('delivered');
    expect(row.errorCode).toBeNull();
    expect(r.events.filter((e) => e.startsWith(msg.id)).map((e) => e.split(':')[1])).toEqual([
      'queued',
      'sending',
      'accepted',
      'delivered',
    ]);

    expect(await r.dispatcher.handleStatusCallback({ MessageSid: `SM${'0'.repeat(32)}`, MessageStatus: 'delivered' })).toBe(false);
    expect(await r.dispatcher.handleStatusCallback({ MessageSid: sid, MessageStatus: 'receiving' })).toBe(false);
  });

  it('records a failed delivery with the provider error code from the signed callback', async () => {
    rig = await startSmsRig();
    const r = rig;
    r.sim.setDeliveryOutcome('+8613800000007', 'undelivered');
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms('+8613800000007'));
    const row = await storedWhen(r, msg.id, (m) => m.status === 'undelivered', 'undelivered');
    expect(row.errorCode).toBe('30003');
    expect(row.error).toMatch(/undelivered/);
    expect(r.receiver.received.map((h) => [h.params.MessageStatus, h.valid])).toEqual([
      ['queued', true],
      ['sent', true],
      ['undelivered', true],
    ]);
  });

  it('keeps receipts that overtake the answer to the send and applies them once the SID is known', async () => {
    rig = await startSmsRig();
    const r = rig;
    // The provider's answer reaches us only after Twilio already called back with sent and delivered.
    const slowAnswer: SmsProvider = {
      name: 'twilio',
      send: async (m) => {
        const result = await r.twilioProvider.send(m);
        await r.sim.waitForCallback((c) => c.messageSid === result.sid && c.status === 'delivered', 3000);
        return result;
      },
    };
    const d = r.newDispatcher({ provider: slowAnswer });
    await d.start();
    const msg = await d.enqueue(pageSms());
    const row = await storedWhen(r, msg.id, (m) => m.status === 'delivered', 'delivered');
    expect(row.providerSid).toMatch(/^SM/);
    expect(r.events.filter((e) => e.startsWith(msg.id)).map((e) => e.split(':')[1])).toEqual([
      'queued',
      'sending',
      'accepted',
      'sent',
      'delivered',
    ]);
  });
});

describe('SmsDispatcher resume after a crash', () => {
  it('sends messages a previous process left queued or half sent', async () => {
    rig = await startSmsRig({ backoffMs: () => 60_000 });
    const r = rig;
    await r.sim.setDown(true);
    await r.dispatcher.start();
    const halfSent = await r.dispatcher.enqueue(pageSms('+8613800000001'));
    await storedWhen(r, halfSent.id, (m) => m.attempts === 1, 'first attempt');
    // A row that never got a send attempt at all.
    const queued: OutboundSms = {
      ...halfSent,
      ...pageSms('+8613800000002'),
      id: 'sms-left-queued',
      status: 'queued',
      attempts: 0,
      errorCode: null,
      error: null,
    };
    await r.store.sms.insert(queued);
    // The "crash": the process goes away without sending; only the database file survives.
    await r.dispatcher.stop();
    await r.store.close();
    await r.sim.setDown(false);

    r.reopenStore();
    const before = await r.store.sms.listUnsent();
    expect(before.map((m) => [m.id, m.status])).toEqual([
      [halfSent.id, 'sending'],
      ['sms-left-queued', 'queued'],
    ]);
    const next = r.newDispatcher({ backoffMs: () => 20 });
    await next.start();
    const a = await storedWhen(r, halfSent.id, (m) => m.status === 'delivered', 'resumed delivered');
    const b = await storedWhen(r, 'sms-left-queued', (m) => m.status === 'delivered', 'queued delivered');
    expect(a.attempts).toBe(2);
    expect(b.attempts).toBe(1);
    expect(
      r.sim
        .messages()
        .map((m) => m.to)
        .sort(),
    ).toEqual(['+8613800000001', '+8613800000002']);
    expect(await r.store.sms.listUnsent()).toEqual([]);
  });
});

describe('SmsDispatcher in outbox mode', () => {
  it('stores messages as outbox, sends nothing and reports the provider as degraded', async () => {
    rig = await startSmsRig({ provider: new OutboxProvider({ log: silentLogger() }) });
    const r = rig;
    await r.dispatcher.start();
    const msg = await r.dispatcher.enqueue(pageSms());
    expect(msg.provider).toBe('outbox');
    const row = await storedWhen(r, msg.id, (m) => m.status === 'outbox', 'outbox');
    expect(row.providerSid).toMatch(/^OB[0-9a-f]{32}$/);
    expect(row.attempts).toBe(1);
    expect(r.sim.requests()).toHaveLength(0);
    expect(r.dispatcher.health()).toMatchObject({
      provider: 'outbox',
      degraded: true,
      lastError: null,
      consecutiveFailures: 0,
      queued: 0,
      waiting: 0,
      sender: null,
    });
    expect(await r.store.sms.listUnsent()).toEqual([]);
  });
});
