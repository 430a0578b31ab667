// Responder selection: haversine distance, nearest on-duty worker first, and the frozen escalation plan.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ESCALATION,
  type Community,
  type EscalationPlan,
  type GeoPoint,
  type Resident,
  type Shift,
  type Worker,
} from '../../gateway/core/types.js';
import {
  WORKERS_BEFORE_STATION,
  buildEscalationPlan,
  distanceM,
  rankOnDutyWorkers,
  responderForStep,
} from '../../gateway/paging/selection.js';

const TZ = 'Asia/Shanghai'; // UTC+8, no DST
// 2026-11-26T02:00Z = Thursday 10:00 in Shanghai.
const THURSDAY_10 = Date.UTC(2026, 10, 26, 2, 0);
// 2026-11-29T06:00Z = Sunday 14:00 in Shanghai: nobody with a weekday shift is on duty.
const SUNDAY_14 = Date.UTC(2026, 10, 29, 6, 0);

const HOME: GeoPoint = { lat: 39.2101, lon: 117.1302 };
const WEEKDAYS_8_TO_20: Shift = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '20:00' };

function resident(over: Partial<Resident> = {}): Resident {
  return {
    id: 'r-001',
    name: '张桂兰',
    community: 'andali',
    address: '安达里3号楼2门401',
    location: HOME,
    family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }],
    ...over,
  };
}

/** A worker `dLat` degrees north of the resident's home (no location when dLat is null). */
function worker(id: string, dLat: number | null, shifts: Shift[] = [WEEKDAYS_8_TO_20], phone = `tel:${id}`): Worker {
  return {
    id,
    name: `网格员${id}`,
    phone,
    community: 'andali',
    ...(dLat === null ? {} : { location: { lat: HOME.lat + dLat, lon: HOME.lon } }),
    shifts,
  };
}

const community: Community = {
  id: 'andali',
  name: '安达里社区',
  dutyContacts: [
    { name: '值班室', phone: '+862200000001' },
    { name: '站长', phone: '+862200000002' },
  ],
};

function plan(workers: Worker[], now = THURSDAY_10, c: Community | null = community, r: Resident = resident()): EscalationPlan {
  return buildEscalationPlan({ resident: r, community: c, workers, settings: DEFAULT_ESCALATION, now, timeZone: TZ });
}

describe('distanceM', () => {
  it('gives about 1111.95 m for 0.01 degrees of latitude', () => {
    expect(distanceM(HOME, { lat: HOME.lat + 0.01, lon: HOME.lon })).toBeCloseTo(1111.95, 1);
  });

  it('gives a quarter of the mean circumference from the equator to the pole', () => {
    expect(distanceM({ lat: 0, lon: 0 }, { lat: 90, lon: 0 })).toBeCloseTo((Math.PI / 2) * 6_371_008.8, 0);
  });

  it('shrinks a degree of longitude with the cosine of latitude', () => {
    const atEquator = distanceM({ lat: 0, lon: 0 }, { lat: 0, lon: 1 });
    const at60 = distanceM({ lat: 60, lon: 0 }, { lat: 60, lon: 1 });
    expect(atEquator).toBeCloseTo(111_195, -1);
    expect(at60 / atEquator).toBeCloseTo(0.5, 3);
  });

  it('is zero for the same point and symmetric', () => {
    const other = { lat: 39.22, lon: 117.14 };
    expect(distanceM(HOME, HOME)).toBe(0);
    expect(distanceM(HOME, other)).toBeCloseTo(distanceM(other, HOME), 9);
  });
});

describe('rankOnDutyWorkers', () => {
  it('keeps only workers on duty in the gateway zone, nearest first, unlocated last', () => {
    const workers = [
      worker('w-far', 0.01),
      worker('w-noloc', null),
      worker('w-near', 0.001),
      worker('w-weekend', 0.0001, [{ days: ['sat', 'sun'], from: '00:00', to: '00:00' }]),
      worker('w-nolist', 0.0001, []),
      // 01:00-03:00 Thursday would cover 02:00 UTC, but in Shanghai it is 10:00: off duty.
      worker('w-utc', 0.0001, [{ days: ['thu'], from: '01:00', to: '03:00' }]),
      worker('w-mid', 0.005),
    ];
    const ranked = rankOnDutyWorkers(resident(), workers, THURSDAY_10, TZ);
    expect(ranked.map((r) => r.id)).toEqual(['w-near', 'w-mid', 'w-far', 'w-noloc']);
    expect(ranked.map((r) => r.distanceM)).toEqual([111, 556, 1112, null]);
    expect(ranked[0]).toEqual({ role: 'worker', id: 'w-near', name: '网格员w-near', phone: workers[2]?.phone, distanceM: 111 });
  });

  it('breaks equal distances by id, whatever the input order', () => {
    // North and south by the same latitude step: exactly the same haversine distance.
    const b = worker('w-b', 0.002);
    const a = worker('w-a', -0.002);
    const c = worker('w-c', 0.002);
    const y = worker('w-y', null);
    const x = worker('w-x', null);
    const expected = ['w-a', 'w-b', 'w-c', 'w-x', 'w-y'];
    expect(rankOnDutyWorkers(resident(), [b, y, c, x, a], THURSDAY_10, TZ).map((r) => r.id)).toEqual(expected);
    expect(rankOnDutyWorkers(resident(), [x, a, y, c, b], THURSDAY_10, TZ).map((r) => r.id)).toEqual(expected);
  });

  it('orders by id alone when the resident has no location', () => {
    const r = resident({ location: undefined });
    const ranked = rankOnDutyWorkers(r, [worker('w-3', 0.001), worker('w-1', 0.01), worker('w-2', null)], THURSDAY_10, TZ);
    expect(ranked.map((x) => [x.id, x.distanceM])).toEqual([
      ['w-1', null],
      ['w-2', null],
      ['w-3', null],
    ]);
  });

  it('returns nobody when nobody is on duty', () => {
    expect(rankOnDutyWorkers(resident(), [worker('w-1', 0.001)], SUNDAY_14, TZ)).toEqual([]);
  });
});

describe('buildEscalationPlan', () => {
  it(`pages the station after the first ${WORKERS_BEFORE_STATION} workers, then the rest`, () => {
    expect(WORKERS_BEFORE_STATION).toBe(3);
    const workers = [1, 2, 3, 4, 5].map((i) => worker(`w-${i}`, i * 0.001)).reverse();
    const p = plan(workers);
    expect(p.responders.map((r) => r.id)).toEqual(['w-1', 'w-2', 'w-3', 'duty:andali:0', 'duty:andali:1', 'w-4', 'w-5']);
    expect(p.responders[3]).toEqual({ role: 'duty_contact', id: 'duty:andali:0', name: '值班室', phone: '+862200000001', distanceM: null });
  });

  it('freezes the settings and the moment it was built', () => {
    const settings = { ackTimeoutSeconds: 60, fallCancelSeconds: 0, offlineAfterSeconds: 300 };
    const p = buildEscalationPlan({ resident: resident(), community, workers: [], settings, now: THURSDAY_10, timeZone: TZ });
    expect(p.frozenAt).toBe(THURSDAY_10);
    expect(p.ackTimeoutSeconds).toBe(60);
    expect(p.fallCancelSeconds).toBe(0);
  });

  it('puts the station first when no worker is on duty', () => {
    const p = plan([worker('w-1', 0.001), worker('w-2', 0.002)], SUNDAY_14);
    expect(p.responders.map((r) => r.id)).toEqual(['duty:andali:0', 'duty:andali:1']);
  });

  it('puts the station after all workers when fewer than the threshold are on duty', () => {
    const p = plan([worker('w-2', 0.002), worker('w-1', 0.001)]);
    expect(p.responders.map((r) => r.id)).toEqual(['w-1', 'w-2', 'duty:andali:0', 'duty:andali:1']);
  });

  it('has only workers without a community, and nobody at all when none is on duty', () => {
    expect(plan([worker('w-1', 0.001)], THURSDAY_10, null).responders.map((r) => r.id)).toEqual(['w-1']);
    expect(plan([worker('w-1', 0.001)], SUNDAY_14, null).responders).toEqual([]);
  });

  it('pages each phone once, keeping its first place', () => {
    const shared = '+8613900009999';
    const workers = [worker('w-1', 0.001, undefined, shared), worker('w-2', 0.002, undefined, shared), worker('w-3', 0.003)];
    const c: Community = {
      ...community,
      dutyContacts: [{ name: '值班室', phone: shared }, community.dutyContacts[1] ?? { name: '', phone: '' }],
    };
    const p = plan(workers, THURSDAY_10, c);
    expect(p.responders.map((r) => r.id)).toEqual(['w-1', 'w-3', 'duty:andali:1']);
    expect(new Set(p.responders.map((r) => r.phone)).size).toBe(p.responders.length);
  });

  it('copies the family, so a later registry edit cannot change the plan', () => {
    const r = resident({
      family: [
        { name: '张伟', relation: '儿子', phone: '+8613800000001' },
        { name: '张丽', phone: '+8613800000002' },
      ],
    });
    const p = plan([], THURSDAY_10, community, r);
    expect(p.family).toEqual(r.family);
    expect(p.family).not.toBe(r.family);
    const first = r.family[0];
    if (first) first.phone = '+8600000000000';
    r.family.push({ name: '新人', phone: '+8613800000003' });
    expect(p.family.map((f) => f.phone)).toEqual(['+8613800000001', '+8613800000002']);
  });
});

describe('responderForStep', () => {
  const p = plan([worker('w-1', 0.001)]); // w-1, duty:andali:0, duty:andali:1

  it('pages step n from the top and wraps around after the last', () => {
    expect([1, 2, 3, 4, 5, 7].map((s) => responderForStep(p, s)?.id)).toEqual([
      'w-1',
      'duty:andali:0',
      'duty:andali:1',
      'w-1',
      'duty:andali:0',
      'w-1',
    ]);
  });

  it('has nobody before step 1 or in an empty plan', () => {
    expect(responderForStep(p, 0)).toBeNull();
    expect(responderForStep(p, -1)).toBeNull();
    expect(responderForStep({ ...p, responders: [] }, 1)).toBeNull();
  });
});
