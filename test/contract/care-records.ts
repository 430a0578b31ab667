// Store contract, the care records: supervision, visits, accounts and the report read models.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../gateway/storage/ports.js';
import { DAY, HOUR, incident, MIN, occurrence, outage, sms, T0, task, user, WORKER } from './fixtures.js';

/** The cases run against `store()`, a fresh store holding SNAPSHOT. */
export function careRecordsContract(store: () => Store): void {
  describe('supervision', () => {
    it('opens one task per kind, resident and device until it closes, and closes it once', async () => {
      expect(await store().supervision.insertTask(task('t-1'))).toBe(true);
      expect(await store().supervision.insertTask(task('t-2'))).toBe(false);
      expect(await store().supervision.insertTask(task('t-3', { kind: 'low_battery' }))).toBe(true);
      expect((await store().supervision.findOpenTask('device_offline', 'r-1', 'btn-1'))?.id).toBe('t-1');
      const close = { at: T0 + MIN, by: 'system', reason: 'device back online', note: null };
      expect(await store().supervision.closeTask('t-1', close)).toMatchObject({
        id: 't-1',
        state: 'closed',
        closedAt: T0 + MIN,
        closedBy: 'system',
      });
      expect(await store().supervision.closeTask('t-1', close)).toBeNull();
      expect(await store().supervision.findOpenTask('device_offline', 'r-1', 'btn-1')).toBeNull();
      expect(await store().supervision.insertTask(task('t-4', { openedAt: T0 + 2 * MIN }))).toBe(true);
      expect((await store().supervision.listOpenTasks()).map((t) => t.id).sort()).toEqual(['t-3', 't-4']);
    });

    it('keeps at most one open outage per place, and claims a digest run once ever', async () => {
      expect(await store().supervision.insertOutage(outage('o-1'))).toBe(true);
      expect(await store().supervision.insertOutage(outage('o-2'))).toBe(false);
      await store().supervision.saveOutage({ ...outage('o-1'), closedAt: T0 + MIN, summary: '3/3 back', updatedAt: T0 + MIN });
      expect(await store().supervision.listOpenOutages()).toEqual([]);
      expect(await store().supervision.insertOutage(outage('o-3', { openedAt: T0 + 2 * MIN }))).toBe(true);
      expect((await store().supervision.getOutage('o-1'))?.summary).toBe('3/3 back');

      expect(await store().supervision.claimDigestRun('digest:2026-11-03:08:30:w-1', T0)).toBe(true);
      expect(await store().supervision.claimDigestRun('digest:2026-11-03:08:30:w-1', T0 + 1)).toBe(false);
      expect(await store().supervision.hasDigestRun('digest:2026-11-03:08:30:w-1')).toBe(true);
    });
  });

  describe('visits', () => {
    it('reads the registry’s visits as plans and keeps a plan’s coordinator state', async () => {
      const plan = await store().visits.getPlan('vis-1');
      expect(plan).toMatchObject({
        id: 'vis-1',
        volunteer: 'v-1',
        resident: 'r-1',
        cron: '0 9 * * 2',
        durationMinutes: 60,
        pausedSince: null,
      });
      if (!plan) throw new Error('vis-1 missing');
      await store().visits.savePlan({ ...plan, pausedSince: T0, pauses: [[T0 - 7 * DAY, T0 - 6 * DAY]], updatedAt: T0 });
      expect(await store().visits.getPlan('vis-1')).toMatchObject({ pausedSince: T0, pauses: [[T0 - 7 * DAY, T0 - 6 * DAY]] });
      expect((await store().visits.listPlans()).map((p) => p.id)).toEqual(['vis-1']);
      expect(await store().visits.getPlan('nope')).toBeNull();
    });

    it('keeps occurrence records by visit and start, lists them by [from, to), and marks one missed only once', async () => {
      await store().visits.saveRecord(occurrence(T0, { status: 'checked_in', checkedInAt: T0 }));
      await store().visits.saveRecord(occurrence(T0 + DAY));
      await store().visits.saveRecord(occurrence(T0 + DAY, { note: '换了时间' }));
      expect((await store().visits.listRecords(T0, T0 + DAY)).map((r) => r.start)).toEqual([T0]);
      expect(await store().visits.getRecord('vis-1', T0 + DAY)).toMatchObject({ status: 'scheduled', note: '换了时间' });
      expect((await store().visits.listCheckedIn('v-1')).map((r) => r.start)).toEqual([T0]);
      // Something already happened to a checked-in occurrence: it is not missed.
      expect(await store().visits.claimMissed(occurrence(T0, { status: 'missed', missedAt: T0 + HOUR }))).toBe(false);
      const missed = occurrence(T0 + 2 * DAY, { status: 'missed', missedAt: T0 + 2 * DAY + HOUR });
      expect(await store().visits.claimMissed(missed)).toBe(true);
      expect(await store().visits.claimMissed(missed)).toBe(false);
      expect((await store().visits.getRecord('vis-1', T0 + 2 * DAY))?.status).toBe('missed');
    });

    it('appends to the service-hours ledger oldest first, and claims a job run once ever', async () => {
      const entry = {
        volunteerId: 'v-1',
        kind: 'visit' as const,
        visitId: 'vis-1',
        occurrenceStart: T0,
        hours: 1,
        points: 10,
        note: null,
        actor: 'system',
      };
      const first = await store().visits.addLedgerEntry({ ...entry, at: T0 + HOUR, serviceDate: '2026-11-03' });
      await store().visits.addLedgerEntry({ ...entry, at: T0 + 40 * DAY, serviceDate: '2026-12-13', occurrenceStart: T0 + 40 * DAY });
      expect(first.id).toBeTypeOf('number');
      expect((await store().visits.listLedger('v-1')).map((e) => e.serviceDate)).toEqual(['2026-11-03', '2026-12-13']);
      expect((await store().visits.listLedgerForMonth('2026-11')).map((e) => e.id)).toEqual([first.id]);
      expect(await store().visits.claimRun('reminder:2026-11-03:v-1', T0)).toBe(true);
      expect(await store().visits.claimRun('reminder:2026-11-03:v-1', T0 + 1)).toBe(false);
      expect(await store().visits.hasRun('reminder:2026-11-03:v-1')).toBe(true);
      expect(await store().visits.hasRun('reminder:2026-11-04:v-1')).toBe(false);
    });
  });

  describe('accounts', () => {
    it('finds users by lower-cased username and by worker, and counts the admins not disabled', async () => {
      await store().accounts.createUser(user('u-1', { username: 'admin', role: 'admin' }));
      await store().accounts.createUser(
        user('u-2', { username: null, role: 'worker', workerId: 'w-1', community: 'andali', phone: '+8613800000001' }),
      );
      expect((await store().accounts.getUserByUsername('admin'))?.id).toBe('u-1');
      expect((await store().accounts.getUserByWorker('w-1'))?.id).toBe('u-2');
      expect(await store().accounts.countActiveAdmins()).toBe(1);
      await store().accounts.updateUser(user('u-1', { username: 'admin', role: 'admin', disabledAt: T0 + 1 }));
      expect(await store().accounts.countActiveAdmins()).toBe(0);
      expect(await store().accounts.getUser('nope')).toBeNull();
    });

    it('revokes a session once, and lets exactly one caller consume a one-time code', async () => {
      await store().accounts.createUser(user('u-1', { username: 'admin', role: 'admin' }));
      const session = {
        idHash: 'h1',
        userId: 'u-1',
        csrfToken: 'c',
        createdAt: T0,
        lastSeenAt: T0,
        expiresAt: T0 + DAY,
        revokedAt: null,
        ip: null,
      };
      await store().accounts.createSession(session);
      expect(await store().accounts.revokeSession('h1', T0 + 1)).toBe(true);
      expect(await store().accounts.revokeSession('h1', T0 + 2)).toBe(false);
      expect((await store().accounts.getSession('h1'))?.revokedAt).toBe(T0 + 1);

      const code = { phone: '+8613800000001', codeHash: 'x', salt: 's', createdAt: T0, expiresAt: T0 + 5 * MIN, attempts: 0, usedAt: null };
      const old = await store().accounts.replaceOtp(code);
      const id = await store().accounts.replaceOtp({ ...code, codeHash: 'y', createdAt: T0 + 1 });
      expect((await store().accounts.latestOtp('+8613800000001'))?.id).toBe(id);
      expect(await store().accounts.consumeOtp(old, T0 + 2)).toBe(false);
      const claims = await Promise.all([store().accounts.consumeOtp(id, T0 + 2), store().accounts.consumeOtp(id, T0 + 2)]);
      expect(claims.sort()).toEqual([false, true]);
    });

    it('takes a setting only while it still holds the value', async () => {
      await store().accounts.setSetting('setup_token', 'abc');
      expect(await store().accounts.takeSetting('setup_token', 'other')).toBe(false);
      expect(await store().accounts.takeSetting('setup_token', 'abc')).toBe(true);
      expect(await store().accounts.takeSetting('setup_token', 'abc')).toBe(false);
      expect(await store().accounts.getSetting('setup_token')).toBeNull();
    });
  });

  describe('report read models', () => {
    it('counts the incidents opened in [from, to) per community, test presses left out, with the recorded on-site time', async () => {
      await store().incidents.create(incident('in', { openedAt: T0, firstPagedAt: T0 + 1000 }));
      await store().incidents.create(incident('at-end', { openedAt: T0 + 10 * MIN, residentId: 'r-2' }));
      await store().incidents.create(incident('other', { openedAt: T0 + MIN, residentId: 'r-3', communityId: 'baiquan' }));
      await store().incidents.create(incident('test', { openedAt: T0 + 2 * MIN, residentId: 'r-2', state: 'resolved', test: true }));
      await store().incidents.markOnSite('in', T0 + 4 * MIN, WORKER);
      const all = await store().reports.incidentsOpened(T0, T0 + 10 * MIN, null);
      expect(all.map((i) => i.id).sort()).toEqual(['in', 'other']);
      expect(all.find((i) => i.id === 'in')).toEqual({
        id: 'in',
        communityId: 'andali',
        type: 'sos',
        state: 'open',
        openedAt: T0,
        firstPagedAt: T0 + 1000,
        acknowledgedAt: null,
        onSiteAt: T0 + 4 * MIN,
      });
      expect((await store().reports.incidentsOpened(T0, T0 + 10 * MIN, 'baiquan')).map((i) => i.id)).toEqual(['other']);
      expect(await store().reports.communities()).toEqual([
        { id: 'andali', name: '安达里社区' },
        { id: 'baiquan', name: '百泉社区' },
      ]);
    });

    it('counts recorded visit occurrences of a community by status', async () => {
      await store().visits.saveRecord(occurrence(T0, { status: 'done' }));
      await store().visits.saveRecord(occurrence(T0 + DAY, { status: 'missed' }));
      await store().visits.saveRecord(occurrence(T0 + 2 * DAY, { status: 'done' }));
      await store().visits.saveRecord(occurrence(T0 + 40 * DAY, { status: 'done' }));
      const counts = await store().reports.visitOutcomes(T0, T0 + 30 * DAY, 'andali');
      expect([...counts].sort((a, b) => a.status.localeCompare(b.status))).toEqual([
        { status: 'done', count: 2 },
        { status: 'missed', count: 1 },
      ]);
      expect(await store().reports.visitOutcomes(T0, T0 + 30 * DAY, 'baiquan')).toEqual([]);
    });

    it('lists the devices of a community with their stored health state (null before any report)', async () => {
      await store().health.save([
        {
          deviceId: 'btn-1',
          state: 'online',
          lastSeen: T0,
          battery: 90,
          rssi: null,
          lastStatusAt: T0,
          remoteAddress: null,
          lastRejection: null,
          rejectedCount: 0,
        },
      ]);
      const andali = await store().reports.deviceStates('andali');
      expect([...andali].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: 'btn-1', state: 'online' },
        { id: 'fall-1', state: null },
      ]);
      expect((await store().reports.deviceStates(null)).length).toBe(3);
    });

    it('filters the SMS log by text literally (a % matches only a %), and counts the outbox', async () => {
      await store().sms.insert(sms('m-1', { body: '电量 100% 正常', createdAt: T0 }));
      await store().sms.insert(sms('m-2', { body: '电量 1000 正常', createdAt: T0 + 1000, provider: 'outbox', status: 'outbox' }));
      await store().sms.insert(sms('m-3', { body: '另一条', createdAt: T0 + 2000, purpose: 'notice' }));
      await store().sms.recordInbound(
        { provider: 'twilio', from: '+8613800000001', body: '1A', providerSid: 'SMin', receivedAt: T0 + 1500 },
        'ack',
        null,
      );
      const q = { limit: 10 };
      expect((await store().reports.outbound({ ...q, q: '100%' })).map((m) => m.id)).toEqual(['m-1']);
      expect((await store().reports.outbound(q)).map((m) => m.id)).toEqual(['m-3', 'm-2', 'm-1']);
      expect((await store().reports.outbound({ ...q, purpose: 'notice' })).map((m) => m.id)).toEqual(['m-3']);
      expect((await store().reports.outbound({ ...q, from: T0 + 500, to: T0 + 2000 })).map((m) => m.id)).toEqual(['m-2']);
      expect(await store().reports.inbound(q)).toMatchObject([
        { direction: 'in', phone: '+8613800000001', body: '1A', purpose: 'ack', at: T0 + 1500 },
      ]);
      expect((await store().reports.outbound({ ...q, limit: 1 })).map((m) => m.id)).toEqual(['m-3']);
      expect(await store().reports.outboxCount()).toBe(1);
    });
  });
}
