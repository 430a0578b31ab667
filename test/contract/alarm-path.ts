// Store contract, the alarm path: registry, events, incidents, messages, timers and transactions.
import { describe, expect, it } from 'vitest';
import type { OutboundSms } from '../../gateway/core/types.js';
import type { NewEvent, Store } from '../../gateway/storage/ports.js';
import { event, incident, MIN, sms, SNAPSHOT, T0, WORKER } from './fixtures.js';

/** The cases run against `store()`, a fresh store holding SNAPSHOT. */
export function alarmPathContract(store: () => Store): void {
  describe('registry', () => {
    it('upserts by id: importing the same snapshot again changes nothing, an edited entity replaces the old one', async () => {
      const counts = { communities: 2, residents: 3, workers: 1, devices: 3, volunteers: 1, visits: 1 };
      expect(await store().registry.counts()).toEqual(counts);
      expect(await store().registry.upsert(SNAPSHOT)).toEqual(counts);
      const renamed = { ...SNAPSHOT, residents: SNAPSHOT.residents.map((r) => (r.id === 'r-2' ? { ...r, name: '王秀英（新）' } : r)) };
      await store().registry.upsert(renamed);
      expect(await store().registry.counts()).toEqual(counts);
      expect((await store().registry.getResident('r-2'))?.name).toBe('王秀英（新）');
    });

    it('reads back what it stored, and null for an unknown id', async () => {
      expect(await store().registry.getCommunity('andali')).toMatchObject({ id: 'andali', name: '安达里社区' });
      expect(await store().registry.getResident('r-1')).toMatchObject({
        name: '张桂兰',
        community: 'andali',
        address: '安达里3号楼2门301',
      });
      expect(await store().registry.getWorker('w-1')).toMatchObject({ phone: '+8613800000001', community: 'andali' });
      expect(await store().registry.getDevice('fall-1')).toMatchObject({ kind: 'fall_sensor', resident: 'r-1', secretHash: 'scrypt$b' });
      expect((await store().registry.listDevicesOfResident('r-1')).map((d) => d.id).sort()).toEqual(['btn-1', 'fall-1']);
      expect((await store().registry.listVolunteers()).map((v) => v.id)).toEqual(['v-1']);
      expect(await store().registry.getResident('nobody')).toBeNull();
      expect(await store().registry.getDevice('nobody')).toBeNull();
    });

    it('keeps settings by key, the last write winning', async () => {
      expect(await store().registry.getSetting('registry_digest')).toBeNull();
      await store().registry.setSetting('registry_digest', 'a');
      await store().registry.setSetting('registry_digest', 'b');
      expect(await store().registry.getSetting('registry_digest')).toBe('b');
    });
  });

  describe('events', () => {
    it('answers ids in input order and lists the unprocessed oldest first until they are marked', async () => {
      const { ids, durable } = await store().events.recordBatch([event(1), event(2), event(3)], 0);
      await durable;
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      expect(new Set(ids).size).toBe(3);
      expect((await store().events.listUnprocessed()).map((e) => e.seq)).toEqual([1, 2, 3]);
      const [a, b, c] = ids as number[];
      await store().events.markProcessed(a as number);
      await store().events.markProcessedMany([b as number, c as number]);
      expect(await store().events.listUnprocessed()).toEqual([]);
      expect(await store().events.get(a as number)).toMatchObject({ seq: 1, processed: true, payload: '{"seq":1}' });
      expect(await store().events.get(-1)).toBeNull();
    });

    it('lists the unprocessed received before a time, oldest first, up to a limit; answers which of a batch were already acted on', async () => {
      const { ids } = await store().events.recordBatch([event(1), event(2), event(3), event(4)], 0);
      const [a, b, c, d] = ids as number[];
      expect((await store().events.listUnprocessed({ receivedBefore: T0 + 3 })).map((e) => e.seq)).toEqual([1, 2]);
      expect((await store().events.listUnprocessed({ limit: 3 })).map((e) => e.seq)).toEqual([1, 2, 3]);
      await store().events.markProcessedMany([b as number, d as number]);
      const taken = await store().transaction(() => store().events.alreadyTaken([a as number, b as number, c as number, d as number, -1]));
      expect(taken.sort((x, y) => x - y)).toEqual([b, d]);
      expect(await store().events.alreadyTaken([])).toEqual([]);
    });

    it('takes a resend of the same bytes on the same connection, or flagged DUP, within the window for a redelivery', async () => {
      const on = (session: string, dup = false) => ({ delivery: { session, dup } });
      const [first] = (await store().events.recordBatch([event(7, on('c1'))], 0)).ids;
      expect(first).toBeTypeOf('number');
      expect((await store().events.recordBatch([event(7, { receivedAt: T0 + 100, ...on('c1') })], T0)).ids).toEqual([null]);
      expect((await store().events.recordBatch([event(7, { receivedAt: T0 + 100, ...on('c2', true) })], T0)).ids).toEqual([null]);
      // A reused seq on a new connection without DUP is a device that rebooted: a new event.
      expect((await store().events.recordBatch([event(7, { receivedAt: T0 + 100, ...on('c2') })], T0)).ids[0]).toBeTypeOf('number');
      // Outside the window the same bytes are new again.
      expect((await store().events.recordBatch([event(7, { receivedAt: T0 + 10 * MIN, ...on('c1', true) })], T0 + MIN)).ids[0]).toBeTypeOf(
        'number',
      );
    });

    it('takes a resend within one group for a redelivery of the earlier message, recorded or not, and keeps the group’s order', async () => {
      const on = (session: string, dup = false) => ({ delivery: { session, dup } });
      const other = (seq: number, extra: Partial<NewEvent>) => event(seq, { deviceId: 'fall-1', ...extra });
      const { ids } = await store().events.recordBatch(
        [
          event(3, on('c1')),
          // The same bytes again on the same connection, and flagged DUP after a reconnect.
          event(3, on('c1')),
          event(3, on('c2', true)),
          // Resent on that new connection without the flag: the same message as the DUP before it, though that was not recorded.
          event(3, on('c2')),
          // The same seq with other bytes, on a new connection without DUP, from a relay (no connection): new events.
          event(3, { payload: '{"type":"sos","seq":3,"x":1}', payloadHash: 'h-other', ...on('c1') }),
          event(3, on('c3')),
          event(3),
          other(3, on('c1', true)),
          event(4, on('c1')),
        ],
        0,
      );
      const [a, b, c, d, e, f, g, h, i] = ids;
      expect([b, c, d]).toEqual([null, null, null]);
      const recorded = [a, e, f, g, h, i];
      for (const id of recorded) expect(id).toBeTypeOf('number');
      // Ids in the group's order.
      expect([...(recorded as number[])].sort((x, y) => x - y)).toEqual(recorded);
      const stored = await store().events.listUnprocessed();
      expect(stored.map((s) => [s.deviceId, s.seq])).toEqual([
        ['btn-1', 3],
        ['btn-1', 3],
        ['btn-1', 3],
        ['btn-1', 3],
        ['fall-1', 3],
        ['btn-1', 4],
      ]);
    });
  });

  describe('incidents', () => {
    it('stores an incident whole and finds it by id, by code, and as the resident’s active one', async () => {
      const inc = incident('inc-1', {
        plan: {
          frozenAt: T0,
          ackTimeoutSeconds: 90,
          fallCancelSeconds: 30,
          responders: [{ role: 'worker', id: 'w-1', name: '李红', phone: '+8613800000001', distanceM: 40 }],
          family: [],
        },
      });
      await store().incidents.create(inc);
      expect(await store().incidents.get('inc-1')).toMatchObject(inc);
      expect((await store().incidents.getByCode('Cinc-1'))?.id).toBe('inc-1');
      expect((await store().incidents.findActiveForResident('r-1'))?.id).toBe('inc-1');
      await store().incidents.update({ ...inc, state: 'resolved', resolvedAt: T0 + MIN });
      expect(await store().incidents.findActiveForResident('r-1')).toBeNull();
      expect(await store().incidents.get('inc-1')).toMatchObject({ state: 'resolved', resolvedAt: T0 + MIN });
      expect(await store().incidents.get('nope')).toBeNull();
      expect(await store().incidents.getByCode('nope')).toBeNull();
    });

    it('counts the active incidents no responder was found for, tests and ended ones aside', async () => {
      expect(await store().incidents.countUnassigned()).toBe(0);
      await store().incidents.create(incident('inc-old', { unassigned: true, state: 'resolved', resolvedAt: T0 }));
      await store().incidents.create(incident('inc-1', { unassigned: true, state: 'pending' }));
      await store().incidents.create(incident('inc-2', { residentId: 'r-2', unassigned: true, test: true }));
      await store().incidents.create(incident('inc-3', { residentId: 'r-3' }));
      expect(await store().incidents.countUnassigned()).toBe(1);
      const first = await store().incidents.get('inc-1');
      await store().incidents.update({ ...first!, state: 'acknowledged', acknowledgedAt: T0 + MIN });
      await store().incidents.create(incident('inc-4', { residentId: 'r-3', unassigned: true, state: 'cancelled', cancelledAt: T0 }));
      expect(await store().incidents.countUnassigned()).toBe(1);
      await store().incidents.update({ ...first!, state: 'resolved', resolvedAt: T0 + 2 * MIN });
      expect(await store().incidents.countUnassigned()).toBe(0);
    });

    it('keeps a test press marked as a test, and an alarm not, through create and update', async () => {
      await store().incidents.create(incident('inc-test', { residentId: 'r-1', test: true }));
      await store().incidents.create(incident('inc-real', { residentId: 'r-2' }));
      expect((await store().incidents.get('inc-test'))?.test).toBe(true);
      expect((await store().incidents.get('inc-real'))?.test ?? false).toBe(false);
      const test = await store().incidents.get('inc-test');
      if (!test) throw new Error('no test incident');
      await store().incidents.update({ ...test, state: 'resolved', resolvedAt: T0 + MIN });
      expect((await store().incidents.list({ state: 'resolved' })).map((i) => [i.id, i.test])).toEqual([['inc-test', true]]);
    });

    it('refuses a second active incident for the same resident, and allows one once the first is over', async () => {
      await store().incidents.create(incident('first'));
      await expect(store().incidents.create(incident('second', { openedAt: T0 + MIN }))).rejects.toThrow();
      expect(await store().incidents.get('second')).toBeNull();
      await store().incidents.update({ ...incident('first'), state: 'cancelled', cancelledAt: T0 + 1000 });
      await store().incidents.create(incident('second', { openedAt: T0 + MIN }));
      expect((await store().incidents.findActiveForResident('r-1'))?.id).toBe('second');
    });

    it('lists newest first with filters and a limit, and the active ones oldest first', async () => {
      await store().incidents.create(incident('a', { openedAt: T0, state: 'resolved' }));
      await store().incidents.create(incident('b', { openedAt: T0 + MIN, residentId: 'r-2' }));
      await store().incidents.create(
        incident('c', { openedAt: T0 + 2 * MIN, residentId: 'r-3', communityId: 'baiquan', state: 'acknowledged' }),
      );
      expect((await store().incidents.list({})).map((i) => i.id)).toEqual(['c', 'b', 'a']);
      expect((await store().incidents.list({ communityId: 'andali' })).map((i) => i.id)).toEqual(['b', 'a']);
      expect((await store().incidents.list({ state: 'resolved' })).map((i) => i.id)).toEqual(['a']);
      expect((await store().incidents.list({ residentId: 'r-2' })).map((i) => i.id)).toEqual(['b']);
      expect((await store().incidents.list({ limit: 1 })).map((i) => i.id)).toEqual(['c']);
      expect((await store().incidents.listActive()).map((i) => i.id)).toEqual(['b', 'c']);
    });

    it('records the on-site time once', async () => {
      await store().incidents.create(incident('inc-1'));
      expect(await store().incidents.markOnSite('inc-1', T0 + 5 * MIN, WORKER)).toBe(true);
      expect(await store().incidents.markOnSite('inc-1', T0 + 9 * MIN, { ...WORKER, name: '别人' })).toBe(false);
      expect(await store().incidents.get('inc-1')).toMatchObject({ onSiteAt: T0 + 5 * MIN, onSiteBy: WORKER });
      expect(await store().incidents.markOnSite('nope', T0, WORKER)).toBe(false);
    });

    it('keeps the audit log in the order it was written, with ids', async () => {
      await store().incidents.create(incident('inc-1'));
      const first = await store().incidents.appendAudit({
        incidentId: 'inc-1',
        at: T0,
        action: 'opened',
        actor: 'system',
        channel: 'system',
        detail: null,
      });
      await store().incidents.appendAudit({
        incidentId: 'inc-1',
        at: T0,
        action: 'paged',
        actor: 'system',
        channel: 'sms',
        detail: { to: 'w-1' },
      });
      expect(first).toMatchObject({ incidentId: 'inc-1', action: 'opened' });
      expect(first.id).toBeTypeOf('number');
      // Several at once: ids in the order given, after those before, and the log in that order.
      const [created, opened] = await store().incidents.appendAudits([
        { incidentId: 'inc-1', at: T0, action: 'created', actor: 'device:b', channel: 'device', detail: { n: 1 } },
        { incidentId: 'inc-1', at: T0, action: 'reopened', actor: 'system', channel: 'system', detail: null },
      ]);
      expect(created).toMatchObject({ action: 'created', detail: { n: 1 } });
      expect(opened).toMatchObject({ action: 'reopened' });
      expect(created!.id).toBeGreaterThan(first.id);
      expect(opened!.id).toBeGreaterThan(created!.id);
      expect(await store().incidents.appendAudits([])).toEqual([]);
      // The row and entries in one write: both land.
      const [stepped] = await store().incidents.updateWithAudits({ ...incident('inc-1'), step: 2, nextStepAt: T0 + 9 * MIN }, [
        { incidentId: 'inc-1', at: T0, action: 'stepped', actor: 'system', channel: 'system', detail: { step: 2 } },
      ]);
      expect(stepped!.id).toBeGreaterThan(opened!.id);
      expect(await store().incidents.get('inc-1')).toMatchObject({ step: 2, nextStepAt: T0 + 9 * MIN });
      expect(await store().incidents.updateWithAudits({ ...incident('inc-1'), step: 3 }, [])).toEqual([]);
      expect(await store().incidents.get('inc-1')).toMatchObject({ step: 3 });
      expect((await store().incidents.listAudit('inc-1')).map((a) => [a.id, a.action, a.detail])).toEqual([
        [first.id, 'opened', null],
        [expect.any(Number), 'paged', { to: 'w-1' }],
        [created!.id, 'created', { n: 1 }],
        [opened!.id, 'reopened', null],
        [stepped!.id, 'stepped', { step: 2 }],
      ]);
    });
  });

  describe('sms', () => {
    it('stores an outbound message, updates its status, and finds it by the provider’s id', async () => {
      await store().incidents.create(incident('inc-1'));
      await store().sms.insert(sms('m-1', { incidentId: 'inc-1', context: { kind: 'incident', incidentId: 'inc-1', replyCode: 'A' } }));
      const updated = await store().sms.update('m-1', {
        status: 'accepted',
        providerSid: 'SM1',
        attempts: 1,
        sentAt: T0 + 1000,
        at: T0 + 1000,
      });
      expect(updated).toMatchObject({ id: 'm-1', status: 'accepted', providerSid: 'SM1', attempts: 1, sentAt: T0 + 1000 });
      expect((await store().sms.getBySid('SM1'))?.id).toBe('m-1');
      expect(await store().sms.get('m-1')).toMatchObject({ context: { kind: 'incident', incidentId: 'inc-1', replyCode: 'A' } });
      expect(await store().sms.update('nope', { status: 'sent', at: T0 })).toBeNull();
      expect(await store().sms.getBySid('nope')).toBeNull();
    });

    it('lists an incident’s messages oldest first, the unsent ones, and the latest with a reply context', async () => {
      await store().incidents.create(incident('inc-1'));
      await store().sms.insert(
        sms('m-2', { incidentId: 'inc-1', createdAt: T0 + 2000, context: { kind: 'incident', incidentId: 'inc-1' } }),
      );
      await store().sms.insert(sms('m-1', { incidentId: 'inc-1', createdAt: T0 + 1000, status: 'delivered' }));
      await store().sms.insert(sms('m-3', { createdAt: T0 + 3000, status: 'sending', purpose: 'notice' }));
      expect((await store().sms.listForIncident('inc-1')).map((m) => m.id)).toEqual(['m-1', 'm-2']);
      expect((await store().sms.listUnsent()).map((m) => m.id)).toEqual(['m-2', 'm-3']);
      expect((await store().sms.latestWithContextTo('+8613800000001'))?.id).toBe('m-2');
      expect(await store().sms.latestWithContextTo('+8613899999999')).toBeNull();
      expect((await store().sms.list(2)).map((m) => m.id)).toEqual(['m-3', 'm-2']);
    });

    it('reads the reply codes of a phone’s recent pages, newest first, from the same pages as recentPagesTo', async () => {
      // Resolved ones: a resident has one active incident at a time.
      for (const id of ['inc-1', 'inc-2', 'inc-3']) await store().incidents.create(incident(id, { state: 'resolved' }));
      const page = (id: string, incidentId: string, createdAt: number, replyCode?: string, over: Partial<OutboundSms> = {}): OutboundSms =>
        sms(id, {
          incidentId,
          createdAt,
          context: { kind: 'incident', incidentId, ...(replyCode === undefined ? {} : { replyCode }) },
          ...over,
        });
      await store().sms.insert(page('m-old', 'inc-1', T0 - MIN, 'Z'));
      await store().sms.insert(page('m-1', 'inc-1', T0 + 1000, 'A'));
      await store().sms.insert(page('m-2', 'inc-2', T0 + 2000, 'B'));
      // A page without a code (pages of a gateway without reply codes), an empty code, a link, another phone: none counts.
      await store().sms.insert(page('m-3', 'inc-3', T0 + 3000));
      await store().sms.insert(page('m-4', 'inc-3', T0 + 3500, ''));
      await store().sms.insert(page('m-5', 'inc-3', T0 + 4000, 'Q', { purpose: 'page_link' }));
      await store().sms.insert(page('m-6', 'inc-3', T0 + 5000, 'R', { to: '+8613899999999' }));
      // Same instant as m-2: the later insert is the newer one.
      await store().sms.insert(page('m-7', 'inc-1', T0 + 2000, 'A'));
      expect(await store().sms.recentReplyCodesTo('+8613800000001', T0)).toEqual([
        { incidentId: 'inc-1', replyCode: 'A' },
        { incidentId: 'inc-2', replyCode: 'B' },
        { incidentId: 'inc-1', replyCode: 'A' },
      ]);
      const pages = await store().sms.recentPagesTo('+8613800000001', T0);
      expect(pages.map((p) => p.sms.id)).toEqual(['m-4', 'm-3', 'm-7', 'm-2', 'm-1']);
      expect(await store().sms.recentReplyCodesTo('+8613800000002', T0)).toEqual([]);
    });

    it('claims a provider’s inbound message id once, and again after a release', async () => {
      expect(await store().sms.claimInbound('twilio', 'SMin1', T0)).toBe(true);
      expect(await store().sms.claimInbound('twilio', 'SMin1', T0 + 1)).toBe(false);
      // The same id from another provider is another message.
      expect(await store().sms.claimInbound('aliyun', 'SMin1', T0)).toBe(true);
      await store().sms.releaseInbound('twilio', 'SMin1');
      expect(await store().sms.claimInbound('twilio', 'SMin1', T0 + 2)).toBe(true);
    });

    it('lists what awaits a receipt: taken by that provider since the instant, oldest first', async () => {
      await store().sms.insert(sms('m-1', { provider: 'aliyun', status: 'accepted', providerSid: 'B1', sentAt: T0 + 1000 }));
      await store().sms.insert(sms('m-2', { provider: 'aliyun', status: 'delivered', providerSid: 'B2', sentAt: T0 + 2000 }));
      await store().sms.insert(sms('m-3', { provider: 'tencent', status: 'sent', providerSid: 'S3', sentAt: T0 + 3000 }));
      await store().sms.insert(sms('m-0', { provider: 'aliyun', status: 'sent', providerSid: 'B0', sentAt: T0 - MIN }));
      expect((await store().sms.listAwaitingReceipt('aliyun', T0, 10)).map((m) => m.id)).toEqual(['m-1']);
    });
  });

  describe('timers', () => {
    it('schedules by key once, lets exactly one caller claim it, and cancels an incident’s pending ones', async () => {
      const step = { key: 'inc-1:step:1', kind: 'escalation_step' as const, incidentId: 'inc-1', dueAt: T0 + MIN, payload: { step: 1 } };
      await store().timers.schedule(step);
      await store().timers.schedule({ ...step, dueAt: T0 + 9 * MIN });
      await store().timers.schedule({
        key: 'inc-1:fall',
        kind: 'fall_cancel_window',
        incidentId: 'inc-1',
        dueAt: T0 + 30_000,
        payload: {},
      });
      await store().timers.schedule({
        key: 'inc-2:step:1',
        kind: 'escalation_step',
        incidentId: 'inc-2',
        dueAt: T0 + 2 * MIN,
        payload: {},
      });
      expect((await store().timers.listPending()).map((t) => [t.key, t.dueAt])).toEqual([
        ['inc-1:fall', T0 + 30_000],
        ['inc-1:step:1', T0 + MIN],
        ['inc-2:step:1', T0 + 2 * MIN],
      ]);
      const claims = await Promise.all([store().timers.claim('inc-1:fall', T0 + 30_000), store().timers.claim('inc-1:fall', T0 + 30_000)]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await store().timers.cancelForIncident('inc-1', T0 + 40_000)).toBe(1);
      expect(await store().timers.claim('inc-1:step:1', T0 + MIN)).toBe(false);
      expect((await store().timers.listPending()).map((t) => t.key)).toEqual(['inc-2:step:1']);
    });

    it('schedules several timers in one call, each key once, an existing key left as it is', async () => {
      const timer = (key: string, dueAt: number, payload: Record<string, unknown> = {}) => ({
        key,
        kind: 'escalation_step' as const,
        incidentId: 'inc-1',
        dueAt,
        payload,
      });
      await store().timers.schedule(timer('inc-1:step:2', T0 + MIN, { first: true }));
      await store().timers.scheduleAll([
        timer('inc-1:family:1', T0),
        timer('inc-1:step:2', T0 + 9 * MIN),
        timer('inc-1:call:1', T0 + 30_000, { step: 1 }),
      ]);
      await store().timers.scheduleAll([]);
      expect((await store().timers.listPending()).map((t) => [t.key, t.dueAt, t.payload])).toEqual([
        ['inc-1:family:1', T0, {}],
        ['inc-1:call:1', T0 + 30_000, { step: 1 }],
        ['inc-1:step:2', T0 + MIN, { first: true }],
      ]);
    });

    it('lists the pending timers due by an instant, soonest first and up to a limit, and claims a due one once', async () => {
      const at = (key: string, dueAt: number) => ({
        key,
        kind: 'escalation_step' as const,
        incidentId: key.split(':')[0] ?? key,
        dueAt,
        payload: {},
      });
      await store().timers.schedule(at('inc-3:step:2', T0 + 3 * MIN));
      await store().timers.schedule(at('inc-1:step:2', T0 + MIN));
      await store().timers.schedule(at('inc-2:step:2', T0 + MIN));
      await store().timers.schedule(at('inc-4:step:2', T0 + 10 * MIN));
      await store().timers.cancelForIncident('inc-3', T0);
      expect((await store().timers.listDue(T0 + 5 * MIN, 10)).map((t) => t.key)).toEqual(['inc-1:step:2', 'inc-2:step:2']);
      expect((await store().timers.listDue(T0 + 10 * MIN, 2)).map((t) => t.key)).toEqual(['inc-1:step:2', 'inc-2:step:2']);
      expect(await store().timers.listDue(T0, 10)).toEqual([]);
      expect(await store().timers.claimDue('inc-1:step:2', T0 + MIN)).toBe(true);
      expect(await store().timers.claimDue('inc-1:step:2', T0 + MIN)).toBe(false);
      expect(await store().timers.claimDue('inc-3:step:2', T0 + 3 * MIN)).toBe(false);
      expect((await store().timers.listDue(T0 + 10 * MIN, 10)).map((t) => t.key)).toEqual(['inc-2:step:2', 'inc-4:step:2']);
    });
  });

  describe('transactions', () => {
    it('rolls every repository’s writes back together when the work throws', async () => {
      await expect(
        store().transaction(async () => {
          await store().incidents.create(incident('inc-1'));
          await store().sms.insert(sms('m-1', { incidentId: 'inc-1' }));
          await store().timers.schedule({ key: 'inc-1:step:1', kind: 'escalation_step', incidentId: 'inc-1', dueAt: T0, payload: {} });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store().incidents.get('inc-1')).toBeNull();
      expect(await store().sms.get('m-1')).toBeNull();
      expect(await store().timers.listPending()).toEqual([]);
    });

    it('joins a nested transaction to the outer one: the outer failure undoes the inner work too', async () => {
      await expect(
        store().transaction(async () => {
          await store().transaction(async () => store().incidents.create(incident('inner')));
          throw new Error('outer fails');
        }),
      ).rejects.toThrow('outer fails');
      expect(await store().incidents.get('inner')).toBeNull();
      expect(await store().transaction(async () => store().transaction(async () => 42))).toBe(42);
    });

    it('runs after-commit work only once the transaction committed, never after a rollback, and at once outside one', async () => {
      const ran: string[] = [];
      await store().transaction(async () => {
        store().afterCommit(() => ran.push('committed'));
        await store().incidents.create(incident('inc-1'));
        expect(ran).toEqual([]);
      });
      expect(ran).toEqual(['committed']);
      await expect(
        store().transaction(async () => {
          store().afterCommit(() => ran.push('rolled back'));
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      store().afterCommit(() => ran.push('outside'));
      expect(ran).toEqual(['committed', 'outside']);
    });

    it('answers ping while open', async () => {
      expect(await store().ping()).toBe(true);
    });
  });
}
