// Report arithmetic against hand-computed fixtures in a real SQLite file: percentiles, 60 s/180 s shares, false alarms, devices, visits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { Incident, IncidentState, IncidentType } from '../../gateway/core/types.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { CSV_KEYS, csvCell, reportsCsv } from '../../gateway/reports/csv.js';
import { MonthlyReports } from '../../gateway/reports/monthly.js';
import { bucketize, percentile, share } from '../../gateway/reports/stats.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const TZ = 'Asia/Shanghai';
/** Wall time in Asia/Shanghai (UTC+8) as an instant. */
const local = (mo: number, d: number, h = 0, mi = 0, s = 0, y = 2026): number => Date.UTC(y, mo - 1, d, h - 8, mi, s);
const S = 1000;

describe('report arithmetic', () => {
  it('takes nearest-rank percentiles, so every figure is one that happened', () => {
    expect(percentile([40, 10, 30, 20], 0.5)).toBe(20);
    expect(percentile([40, 10, 30, 20], 0.9)).toBe(40);
    expect(percentile([7], 0.9)).toBe(7);
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
  });

  it('has no share of nothing, and rounds to four decimals', () => {
    expect(share(0, 0)).toBeNull();
    expect(share(1, 6)).toBe(0.1667);
    expect(share(3, 5)).toBe(0.6);
  });

  it('buckets on the 60 s and 180 s bounds inclusively', () => {
    const b = bucketize([60, 60.1, 180, 181, 5000]);
    expect(b.map((x) => [x.label, x.count])).toEqual([
      ['0–30 s', 0],
      ['30–60 s', 1],
      ['60–120 s', 1],
      ['120–180 s', 1],
      ['180–300 s', 1],
      ['300–600 s', 0],
      ['> 600 s', 1],
    ]);
  });

  it('quotes CSV cells and defuses formulas', () => {
    expect(csvCell('安达里社区')).toBe('安达里社区');
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell(null)).toBe('');
    expect(csvCell(0.5)).toBe('0.5');
  });
});

describe('monthly report from SQLite (hand-computed fixture, November 2026, Asia/Shanghai)', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let reports: MonthlyReports;
  const clock = new ManualClock(local(11, 27, 10, 0));

  let n = 0;
  async function incident(p: {
    community?: string;
    resident?: string;
    type: IncidentType;
    state: IncidentState;
    openedAt: number;
    pagedAfter?: number;
    ackAfter?: number;
    onSiteAfter?: number;
    /** Recorded the board's way: the incident's own on-site column. */
    markedOnSiteAfter?: number;
  }): Promise<void> {
    n++;
    const o = p.openedAt;
    const inc: Incident = {
      id: `inc-${n}`,
      code: `c${n}`,
      residentId: p.resident ?? 'r-001',
      communityId: p.community ?? 'andali',
      type: p.type,
      state: p.state,
      step: p.pagedAfter === undefined ? 0 : 1,
      unassigned: false,
      plan: { frozenAt: o, ackTimeoutSeconds: 180, fallCancelSeconds: 30, responders: [], family: [] },
      openedAt: o,
      firstPagedAt: p.pagedAfter === undefined ? null : o + p.pagedAfter * S,
      acknowledgedAt: p.ackAfter === undefined ? null : o + p.ackAfter * S,
      acknowledgedBy: null,
      resolvedAt: null,
      cancelledAt: p.state === 'cancelled' ? o + 10 * S : null,
      signalCount: 1,
      lastSignalAt: o,
      nextStepAt: null,
    };
    await store.incidents.create(inc);
    if (p.onSiteAfter !== undefined) {
      await store.incidents.appendAudit({
        incidentId: inc.id,
        at: o + p.onSiteAfter * S,
        action: 'on_site',
        actor: '李明',
        channel: 'dashboard',
        detail: null,
      });
    }
    if (p.markedOnSiteAfter !== undefined) {
      expect(
        await store.incidents.markOnSite(inc.id, o + p.markedOnSiteAfter * S, { role: 'worker', id: 'w-01', name: '李明', phone: null }),
      ).toBe(true);
    }
  }

  beforeAll(async () => {
    dir = tempDir('care-gw-reports-');
    store = openSqliteStore(join(dir.path, 'gateway.db'));
    const doc = parseYaml(readFileSync(TEST_REGISTRY, 'utf8')) as Record<string, unknown[]>;
    await importRegistryDocument(
      { store, log: silentLogger() },
      {
        ...doc,
        communities: [...(doc.communities ?? []), { id: 'baiquan', name: '拜泉里社区' }],
        residents: [...(doc.residents ?? []), { id: 'r-101', name: '刘秀英', community: 'baiquan', address: '拜泉里1号楼1门101' }],
        devices: [...(doc.devices ?? []), { id: 'btn-101', kind: 'sos_button', resident: 'r-101', secret: 's3cret-btn-101' }],
      },
    );
    reports = new MonthlyReports({ reads: store.reports, clock, timeZone: TZ });

    // andali, November: six alarms.
    await incident({ type: 'sos', state: 'resolved', openedAt: local(11, 2, 9), pagedAfter: 2, ackAfter: 40, onSiteAfter: 300 });
    await incident({ type: 'sos', state: 'resolved', openedAt: local(11, 5, 9), pagedAfter: 3, ackAfter: 90, markedOnSiteAfter: 600 });
    await incident({ type: 'fall', state: 'acknowledged', openedAt: local(11, 9, 9), pagedAfter: 31, ackAfter: 170, resident: 'r-002' });
    await incident({ type: 'fall', state: 'cancelled', openedAt: local(11, 12, 9) });
    await incident({ type: 'door_unanswered', state: 'open', openedAt: local(11, 20, 9), pagedAfter: 1 });
    // The last second of the month is still November.
    await incident({ type: 'sos', state: 'resolved', openedAt: local(11, 30, 23, 59, 59), pagedAfter: 4, ackAfter: 400 });
    // Outside the month on both sides.
    await incident({ type: 'sos', state: 'resolved', openedAt: local(10, 31, 23, 59, 59), pagedAfter: 1, ackAfter: 5 });
    await incident({ type: 'sos', state: 'resolved', openedAt: local(12, 1, 0, 0, 0), pagedAfter: 1, ackAfter: 5 });
    // Another community.
    await incident({
      type: 'sos',
      state: 'resolved',
      openedAt: local(11, 15, 9),
      pagedAfter: 10,
      ackAfter: 20,
      community: 'baiquan',
      resident: 'r-101',
    });

    const health = (deviceId: string, state: 'online' | 'offline') => ({
      deviceId,
      state,
      lastSeen: clock.now(),
      battery: 80,
      rssi: -60,
      lastStatusAt: clock.now(),
      remoteAddress: null,
      lastRejection: null,
      rejectedCount: 0,
    });
    await store.health.save([health('btn-001', 'online'), health('fall-001', 'offline'), health('btn-101', 'online')]);

    const visit = async (day: number, status: 'done' | 'missed' | 'checked_in' | 'cancelled', month = 11) => {
      const start = local(month, day, 11);
      await store.visits.saveRecord({
        visitId: 'vis-01',
        start,
        end: start + 90 * 60 * S,
        volunteerId: 'v-01',
        residentId: 'r-001',
        status,
        reassignedFrom: null,
        checkedInAt: status === 'done' || status === 'checked_in' ? start : null,
        checkedOutAt: status === 'done' ? start + 3600 * S : null,
        doorUnansweredAt: null,
        missedAt: status === 'missed' ? start + 1800 * S : null,
        cancelledAt: status === 'cancelled' ? start : null,
        creditedHours: status === 'done' ? 1 : 0,
        note: null,
        updatedAt: start,
      });
    };
    await visit(3, 'done');
    await visit(5, 'missed');
    await visit(10, 'done');
    await visit(12, 'checked_in');
    await visit(17, 'cancelled');
    await visit(29, 'done', 10);
  });

  afterAll(async () => {
    await store.close();
    dir.remove();
  });

  it('counts one community: alarms by type, response times, shares, false alarms, devices and visits', async () => {
    const r = await reports.monthly('2026-11', 'andali');
    expect(r.communityName).toBe('安达里社区');
    expect(r.from).toBe('2026-10-31T16:00:00.000Z');
    expect(r.to).toBe('2026-11-30T16:00:00.000Z');
    expect(r.alarms).toEqual({ total: 6, byType: { sos: 3, fall: 2, door_unanswered: 1, inactivity: 0 } });
    // First pages 2, 3, 31, 1, 4 s → sorted 1 2 3 4 31: p50 = 3rd, p90 = 5th.
    expect(r.firstPage).toEqual({ count: 5, p50: 3, p90: 31 });
    // Acks 40, 90, 170, 400 s of five paged alarms (the door alarm is still open).
    expect(r.acknowledge).toMatchObject({ paged: 5, acknowledged: 4, count: 4, p50: 90, p90: 400, within60s: 0.2, within180s: 0.6 });
    expect(r.acknowledge.distribution.map((b) => b.count)).toEqual([0, 1, 1, 1, 0, 1, 0]);
    // On site after 300 s (audit entry) and 600 s (on_site_at): p50 = 1st, p90 = 2nd.
    expect(r.onSite).toEqual({ count: 2, p50: 300, p90: 600 });
    expect(r.falseAlarms).toEqual({ cancelled: 1, share: 0.1667 });
    expect(r.devices).toMatchObject({ total: 3, online: 1, share: 0.3333 });
    expect(r.visits).toEqual({ done: 2, missed: 1, checkedIn: 1, cancelled: 1 });
  });

  it('adds every community together when none is named', async () => {
    const r = await reports.monthly('2026-11', null);
    expect(r.alarms.total).toBe(7);
    // First pages 1 2 3 4 10 31: p50 = 3rd (3), p90 = 6th (31). Acks 20 40 90 170 400 of six paged.
    expect(r.firstPage).toEqual({ count: 6, p50: 3, p90: 31 });
    expect(r.acknowledge).toMatchObject({ paged: 6, acknowledged: 5, p50: 90, p90: 400, within60s: 0.3333, within180s: 0.6667 });
    expect(r.devices).toMatchObject({ total: 4, online: 2, share: 0.5 });
    const rows = await reports.monthlyByCommunity('2026-11');
    expect(rows.map((x) => [x.community, x.alarms.total])).toEqual([
      ['andali', 6],
      ['baiquan', 1],
    ]);
  });

  it('reports no on-site time rather than inventing one, and null shares for a month without alarms', async () => {
    const r = await reports.monthly('2026-11', 'baiquan');
    expect(r.onSite).toBeNull();
    const empty = await reports.monthly('2026-06', 'andali');
    expect(empty.alarms.total).toBe(0);
    expect(empty.acknowledge).toMatchObject({ paged: 0, p50: null, within60s: null, within180s: null });
    expect(empty.falseAlarms.share).toBeNull();
  });

  it('gives a 12-month trend ending with the current month, oldest first, without device snapshots', async () => {
    const t = await reports.trend('andali');
    expect(t).toHaveLength(12);
    expect(t[0]?.month).toBe('2025-12');
    expect(t[11]?.month).toBe('2026-11');
    expect(t[10]).toMatchObject({ month: '2026-10', alarms: { total: 1 }, visits: { done: 1 }, devices: null });
    expect(t[11]?.alarms.total).toBe(6);
    const later = await reports.trend(null, 2, '2026-12');
    expect(later.map((x) => [x.month, x.alarms.total])).toEqual([
      ['2026-11', 7],
      ['2026-12', 1],
    ]);
  });

  it('writes the CSV with Chinese headers, one row per report, percentages with one decimal', async () => {
    const csv = reportsCsv([await reports.monthly('2026-11', 'andali')]);
    const [header, row] = csv.split('\r\n');
    expect(header?.split(',')[0]).toBe('月份');
    expect(header?.split(',')).toHaveLength(CSV_KEYS.length);
    const cells = row?.split(',') ?? [];
    const at = (key: string) => cells[CSV_KEYS.indexOf(key)];
    expect(at('community_name')).toBe('安达里社区');
    expect(at('alarms')).toBe('6');
    expect(at('ack_within_60s_pct')).toBe('20.0');
    expect(at('ack_within_180s_pct')).toBe('60.0');
    expect(at('false_alarm_pct')).toBe('16.7');
    expect(at('on_site_p50_s')).toBe('300');
    expect(at('on_site_p90_s')).toBe('600');
    expect(reportsCsv([], 'en').startsWith('month,community,')).toBe(true);
  });
});
