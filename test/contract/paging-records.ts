// Store contract, paging records: voice calls and their caps' counts, pages answered, and signals linked to incidents.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../gateway/storage/ports.js';
import { event, incident, MIN, sms, T0, voiceCall as call } from './fixtures.js';

/** The cases run against `store()`, a fresh store holding SNAPSHOT. */
export function pagingRecordsContract(store: () => Store): void {
  describe('voice calls', () => {
    it('moves a call on only from the states named, and finds it by the provider’s id', async () => {
      await store().voice.create(call('call-1'));
      await store().voice.create(call('call-2', { createdAt: T0 + MIN, updatedAt: T0 + MIN }));
      expect((await store().voice.listUnplaced()).map((c) => c.id)).toEqual(['call-1', 'call-2']);
      expect(await store().voice.transition('call-1', ['queued'], { status: 'placing', updatedAt: T0 + 1 })).toBe(true);
      expect(await store().voice.transition('call-1', ['queued'], { status: 'placing', updatedAt: T0 + 2 })).toBe(false);
      expect(await store().voice.transition('call-1', ['placing'], { status: 'ringing', providerCallId: 'CA1', updatedAt: T0 + 3 })).toBe(
        true,
      );
      expect(await store().voice.getByProviderId('twilio', 'CA1')).toMatchObject({ id: 'call-1', status: 'ringing', updatedAt: T0 + 3 });
      expect(await store().voice.getByProviderId('tencent', 'CA1')).toBeNull();
      expect((await store().voice.listUnplaced()).map((c) => c.id)).toEqual(['call-2']);
      expect((await store().voice.listForIncident('inc-1')).map((c) => c.id)).toEqual(['call-1', 'call-2']);
      expect(await store().voice.get('nobody')).toBeNull();
    });

    it('counts the calls placed to a number since an instant, forgetting those before the prune mark', async () => {
      await store().voice.recordPlaced('twilio', '+8613800000001', T0, T0 - MIN);
      await store().voice.recordPlaced('twilio', '+8613800000001', T0 + MIN, T0 - MIN);
      await store().voice.recordPlaced('tencent', '+8613800000001', T0 + MIN, T0 - MIN);
      expect(await store().voice.countPlaced('twilio', '+8613800000001', T0)).toBe(2);
      expect(await store().voice.countPlaced('twilio', '+8613800000001', T0 + 1)).toBe(1);
      await store().voice.recordPlaced('twilio', '+8613800000002', T0 + 2 * MIN, T0 + MIN);
      expect(await store().voice.countPlaced('twilio', '+8613800000001', 0)).toBe(1);
    });
  });

  describe('pages answered', () => {
    it('lists the recent pages to a phone newest first, each with when that phone answered its incident (the latest answer)', async () => {
      await store().sms.insert(sms('m-1', { incidentId: 'inc-1', createdAt: T0 }));
      await store().sms.insert(sms('m-2', { incidentId: 'inc-2', createdAt: T0 + MIN }));
      await store().sms.insert(sms('m-3', { incidentId: null, createdAt: T0 + 2 * MIN }));
      await store().sms.insert(sms('m-4', { incidentId: 'inc-1', purpose: 'notice', createdAt: T0 + 3 * MIN }));
      await store().sms.markAnswered('+8613800000001', 'inc-1', T0 + 5 * MIN);
      await store().sms.markAnswered('+8613800000001', 'inc-1', T0 + 4 * MIN);
      const pages = await store().sms.recentPagesTo('+8613800000001', T0);
      expect(pages.map((p) => [p.sms.id, p.answeredAt])).toEqual([
        ['m-2', null],
        ['m-1', T0 + 5 * MIN],
      ]);
      expect(await store().sms.recentPagesTo('+8613800000001', T0 + 1)).toHaveLength(1);
    });
  });

  describe('signals of an incident', () => {
    it('links a signal to an incident once: linking it again is no error', async () => {
      await store().incidents.create(incident('inc-1'));
      const [id] = (await store().events.recordBatch([event(1)], 0)).ids;
      await store().incidents.linkSignal('inc-1', id as number);
      await store().incidents.linkSignal('inc-1', id as number);
      expect(await store().events.get(id as number)).toMatchObject({ seq: 1 });
    });
  });
}
