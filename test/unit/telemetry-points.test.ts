// Telemetry mapping: gateway events become points with id-only tags, numeric fields and the event's own time; and the bounded queue under them.
import { describe, expect, it } from 'vitest';
import type { Device, Resident } from '../../gateway/core/types.js';
import { BoundedQueue } from '../../gateway/telemetry/buffer.js';
import { downsamples } from '../../gateway/telemetry/downsampling.js';
import {
  careTaskPoint,
  deviceStatusPoint,
  deviceTags,
  eventPoint,
  incidentPoint,
  outagePoint,
  pagePoint,
  residentTags,
  telemetryPoint,
  toLineProtocol,
  type TelemetryPoint,
} from '../../gateway/telemetry/points.js';
import { careTaskOf, lifecycleOf, outageOf, PERSONAL_VALUES, signalOf, smsOf } from '../helpers/telemetry-fixtures.js';

const T0 = Date.UTC(2026, 10, 26, 2, 0, 0);

const resident: Resident = {
  id: 'r-001',
  name: '张桂兰',
  community: 'andali',
  address: '安达里3号楼2门401',
  building: '安达里3号楼',
  location: { lat: 39.2101, lon: 117.1302 },
  family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }],
};
const device: Device = { id: 'btn-001', kind: 'sos_button', resident: 'r-001', secretHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' };
const where = deviceTags(device, resident);

function expectNoPersonalData(p: TelemetryPoint): void {
  const values = [...Object.values(p.tags), ...Object.keys(p.tags), ...Object.values(p.fields).map(String)];
  for (const personal of PERSONAL_VALUES) {
    for (const v of values) expect(v, `"${personal}" leaked into ${p.measurement}`).not.toContain(personal);
  }
}

describe('telemetry points', () => {
  it('maps a device event with placement tags, seq, value=1 and battery', () => {
    const p = eventPoint(signalOf({ type: 'heartbeat', seq: 41, at: T0, battery: 87 }), where);
    expect(p).toEqual({
      measurement: 'event',
      tags: { device: 'btn-001', kind: 'sos_button', resident: 'r-001', community: 'andali', building: '安达里3号楼', type: 'heartbeat' },
      fields: { seq: 41, value: 1, battery: 87 },
      time: T0,
      micro: 0,
    });
    expect(eventPoint(signalOf({ type: 'sos', seq: 42, at: T0 }), where).fields).toEqual({ seq: 42, value: 1 });
    expectNoPersonalData(p);
  });

  it('writes telemetry as the message reported it, and nothing for a message without readings', () => {
    const t = { deviceId: 'btn-001', battery: 90, rssi: -71, at: T0, payload: { rssi: -71 } };
    expect(telemetryPoint(t, where)).toMatchObject({ measurement: 'telemetry', fields: { rssi: -71 }, time: T0 });
    expect(telemetryPoint({ ...t, payload: { battery: 55, rssi: -80 } }, where)?.fields).toEqual({ battery: 55, rssi: -80 });
    expect(telemetryPoint({ ...t, payload: {} }, where)).toBeNull();
  });

  it('maps device status to online 0/1 and skips unknown', () => {
    expect(deviceStatusPoint({ deviceId: 'btn-001', state: 'offline', at: T0 }, where)?.fields).toEqual({ online: 0 });
    expect(deviceStatusPoint({ deviceId: 'btn-001', state: 'online', at: T0 }, where)?.fields).toEqual({ online: 1 });
    expect(deviceStatusPoint({ deviceId: 'btn-001', state: 'unknown', at: T0 }, where)).toBeNull();
  });

  it('writes each incident duration once, on the change that reached it', () => {
    const points = lifecycleOf(T0).map(([incident, entry]) => incidentPoint(incident, entry, residentTags(resident)));
    expect(points.map((p) => p.tags.state)).toEqual(['open', 'open', 'acknowledged', 'resolved']);
    expect(points[0]?.tags).toEqual({ resident: 'r-001', community: 'andali', building: '安达里3号楼', type: 'sos', state: 'open' });
    expect(points.map((p) => p.fields.time_to_first_page_s)).toEqual([undefined, 2, undefined, undefined]);
    expect(points.map((p) => p.fields.time_to_ack_s)).toEqual([undefined, undefined, 95, undefined]);
    expect(points.map((p) => p.fields.time_to_resolve_s)).toEqual([undefined, undefined, undefined, 1500]);
    expect(points[2]?.time).toBe(T0 + 95_000);
    for (const p of points) expectNoPersonalData(p);
  });

  it('maps a page without its phone number or text', () => {
    const p = pagePoint(smsOf({ status: 'delivered', at: T0, attempts: 2 }));
    expect(p).toMatchObject({ measurement: 'page', tags: { role: 'worker', status: 'delivered', purpose: 'page' }, time: T0 });
    expect(p.fields).toMatchObject({ attempts: 2, step: 1 });
    expectNoPersonalData(p);
  });

  it("tags a page with its incident's resident, community and building, or with the recipient's community alone", () => {
    const p = pagePoint(smsOf({ status: 'sent', at: T0 }), residentTags(resident));
    expect(p.tags).toEqual({
      role: 'worker',
      status: 'sent',
      purpose: 'page',
      resident: 'r-001',
      community: 'andali',
      building: '安达里3号楼',
    });
    expectNoPersonalData(p);
    expect(
      pagePoint({ ...smsOf({ status: 'sent', at: T0 }), purpose: 'digest', incidentId: null, step: null }, { community: 'andali' }).tags,
    ).toEqual({
      role: 'worker',
      status: 'sent',
      purpose: 'digest',
      community: 'andali',
    });
  });

  it('maps a care task opening (open = 1) and closing (open = 0, how long, by whom) with id tags and the task id as a field', () => {
    const opened = careTaskPoint(careTaskOf({ at: T0 }), 'opened', residentTags(resident));
    expect(opened).toMatchObject({
      measurement: 'care_task',
      tags: {
        type: 'low_battery',
        action: 'opened',
        resident: 'r-001',
        community: 'andali',
        building: '安达里3号楼',
        device: 'btn-001',
        kind: 'sos_button',
      },
      fields: { task: 'task-20261126-0001', open: 1 },
      time: T0,
    });
    expect(opened.fields.open_s).toBeUndefined();
    const closed = careTaskPoint(
      { ...careTaskOf({ at: T0, closedAfterS: 5400 }), closedBy: '李明', closeReason: 'closed by hand' },
      'closed',
      residentTags(resident),
    );
    expect(closed).toMatchObject({ tags: { action: 'closed' }, fields: { open: 0, open_s: 5400, by_hand: 1 }, time: T0 + 5_400_000 });
    expectNoPersonalData(closed);
    const wellness = careTaskPoint({ ...careTaskOf({ at: T0 }), kind: 'wellness_check', deviceId: null, detail: { hours: 12 } }, 'opened', {
      resident: 'r-001',
      community: 'andali',
    });
    expect(wellness.tags).toEqual({ type: 'wellness_check', action: 'opened', resident: 'r-001', community: 'andali' });
  });

  it('maps an outage opening and closing with its place, a safe building only, and the close reason', () => {
    const opened = outagePoint(outageOf({ at: T0 }), 'opened', '安达里3号楼');
    expect(opened).toMatchObject({
      measurement: 'outage',
      tags: { place: 'building', action: 'opened', community: 'andali', building: '安达里3号楼' },
      fields: { outage: 'out-20261126-0001', open: 1, devices: 5 },
      time: T0,
    });
    const closed = outagePoint({ ...outageOf({ at: T0, closedAfterS: 21_600 }), closeReason: 'partially_recovered' }, 'closed', undefined);
    expect(closed).toMatchObject({
      tags: { place: 'building', action: 'closed', community: 'andali', reason: 'partially_recovered' },
      fields: { open: 0, devices: 5, back: 4, open_s: 21_600 },
    });
    // Not given as safe (derived from an address): left out, not indexed.
    expect(closed.tags.building).toBeUndefined();
    const community = outagePoint(
      { ...outageOf({ at: T0 }), place: { kind: 'community', key: 'community:andali', communityId: 'andali', building: null } },
      'opened',
      '安达里3号楼',
    );
    expect(community.tags).toEqual({ place: 'community', action: 'opened', community: 'andali' });
  });

  it('leaves out a building that is really the address, or carries a name or a phone number', () => {
    expect(residentTags({ ...resident, building: resident.address }).building).toBeUndefined();
    expect(residentTags({ ...resident, building: '张桂兰家' }).building).toBeUndefined();
    expect(residentTags({ ...resident, building: '联系 138-0000-0001' }).building).toBeUndefined();
    expect(residentTags({ ...resident, building: undefined })).toEqual({ resident: 'r-001', community: 'andali' });
    expect(deviceTags(device, null)).toEqual({ device: 'btn-001', kind: 'sos_button', resident: 'r-001', community: 'unknown' });
  });

  it('renders line protocol with escaping and microsecond time', () => {
    const p: TelemetryPoint = {
      measurement: 'event',
      tags: { device: 'a b,c=d', type: 'sos' },
      fields: { value: 1, note: 'say "hi"\\' },
      time: 1_700_000_000_123,
      micro: 7,
    };
    expect(toLineProtocol(p)).toBe('event,device=a\\ b\\,c\\=d,type=sos value=1,note="say \\"hi\\"\\\\" 1700000000123007');
  });

  it('builds the hourly roll-ups from raw into hourly', () => {
    const [events, telemetry, incidents] = downsamples('eldercare');
    expect(events?.select()).toBe(
      'SELECT sum("value") AS "count" INTO "eldercare"."hourly"."event" FROM "eldercare"."raw"."event" GROUP BY time(1h), *',
    );
    expect(telemetry?.select('WHERE time > 0')).toContain('mean("battery") AS "battery", mean("rssi") AS "rssi"');
    expect(telemetry?.select('WHERE time > 0')).toContain('FROM "eldercare"."raw"."telemetry" WHERE time > 0 GROUP BY');
    expect(incidents?.select()).toContain('GROUP BY time(1h), "community", "building", "type"');
  });
});

describe('bounded queue', () => {
  it('drops the oldest when full and counts it', () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3].map((n) => q.push(n))).toEqual([0, 0, 0]);
    expect(q.push(4)).toBe(1);
    expect(q.take(10)).toEqual([2, 3, 4]);
    expect(q.length).toBe(0);
  });

  it('puts a taken batch back in front, dropping its oldest items when newer ones filled the room', () => {
    const q = new BoundedQueue<number>(4);
    for (const n of [1, 2, 3, 4]) q.push(n);
    const batch = q.take(3);
    q.push(5);
    q.push(6);
    expect(q.putBack(batch)).toBe(2);
    expect(q.take(10)).toEqual([3, 4, 5, 6]);
    q.push(7);
    expect(q.putBack([5, 6])).toBe(0);
    expect(q.take(1)).toEqual([5]);
  });
});
