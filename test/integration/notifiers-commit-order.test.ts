// The dispatcher never gets ahead of the database: an SMS enqueued in a transaction is sent only after its COMMIT, never after a rollback,
// and the bookkeeping of a send (hand-over and receipts) costs no synced commit.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { pageSms, startSmsRig, storedSms, type SmsRig } from '../helpers/sms.js';

let rig: SmsRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SmsDispatcher and transactions', () => {
  it('sends an SMS enqueued inside a transaction only after that transaction commits', async () => {
    rig = await startSmsRig();
    const r = rig;
    await r.dispatcher.start();
    let id = '';
    await r.store.transaction(async () => {
      id = (await r.dispatcher.enqueue(pageSms())).id;
      // The transaction stays open across real time: nothing may reach the provider meanwhile.
      await sleep(150);
      expect(r.sim.requests()).toHaveLength(0);
    });
    await waitFor('delivered', async () => (await storedSms(r, id)).status === 'delivered', { timeoutMs: 10_000 });
    expect(r.sim.messages().map((m) => m.to)).toEqual(['+8613800000001']);
  });

  it('never sends an SMS whose transaction rolled back', async () => {
    rig = await startSmsRig();
    const r = rig;
    await r.dispatcher.start();
    let id = '';
    await expect(
      r.store.transaction(async () => {
        id = (await r.dispatcher.enqueue(pageSms())).id;
        throw new Error('the incident could not be opened');
      }),
    ).rejects.toThrow('could not be opened');
    await sleep(300);
    expect(r.sim.requests()).toHaveLength(0);
    expect(await r.store.sms.get(id)).toBeNull();
    expect(r.dispatcher.health().queued).toBe(0);
  });

  it('stores the row before the send, announces the attempt without a write, and records hand-over and receipts unsynced', async () => {
    rig = await startSmsRig();
    const r = rig;
    await r.dispatcher.start();
    const before = r.store.database.commitStats();
    const msg = await r.dispatcher.enqueue(pageSms());
    const afterInsert = r.store.database.commitStats();
    // The row itself is a synced commit: it must survive anything once enqueue has returned.
    expect(afterInsert.synced - before.synced).toBe(1);
    const row = await (async () => {
      await waitFor('delivered', async () => (await storedSms(r, msg.id)).status === 'delivered', { timeoutMs: 10_000 });
      return storedSms(r, msg.id);
    })();
    expect(row).toMatchObject({ attempts: 1, status: 'delivered' });
    expect(row.providerSid).toMatch(/^SM/);
    expect(r.events.filter((e) => e.startsWith(msg.id)).map((e) => e.split(':')[1])).toEqual([
      'queued',
      'sending',
      'accepted',
      'sent',
      'delivered',
    ]);
    const done = r.store.database.commitStats();
    expect(done.synced).toBe(afterInsert.synced);
    // Hand-over plus three receipts, some of them sharing a commit.
    expect(done.unsynced - afterInsert.unsynced).toBeGreaterThanOrEqual(1);
    expect(done.unsynced - afterInsert.unsynced).toBeLessThanOrEqual(4);
  });
});
