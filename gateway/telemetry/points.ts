// Pure mapping from gateway events to InfluxDB points (measurement, tags, fields, time); no names, phones or addresses ever become tags.
import type { AuditEntry, Device, Incident, OutboundSms, Resident, Signal } from '../core/types.js';
import type { DeviceStatusChanged, TelemetryReceived } from '../ingest/events.js';
import type { CareTask, Outage } from '../supervision/types.js';

export const MEASUREMENTS = ['event', 'telemetry', 'device_status', 'incident', 'page', 'care_task', 'outage'] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

export type FieldValue = number | string;

export interface TelemetryPoint {
  measurement: Measurement;
  /** Only ids and enumerations: every tag value is indexed and kept for as long as the series lives. */
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Milliseconds since the epoch. */
  time: number;
  /**
   * Microseconds added to `time` when written (0..999). InfluxDB keeps one point per series and timestamp,
   * so two points of one series in the same millisecond would silently overwrite each other; the writer
   * numbers them instead.
   */
  micro: number;
}

/** Where a resident lives, as tags: ids and the building only. */
export interface ResidentTags {
  resident: string;
  community: string;
  building?: string;
}

export interface DeviceTags extends ResidentTags {
  device: string;
  kind: string;
}

/**
 * The tags of a resident. The registry derives `building` from the address (`安达里3号楼`), and falls back
 * to the whole address when it finds no building in it: that fallback, or any value carrying the
 * resident's name or a phone-like digit run, is left out rather than indexed.
 */
export function residentTags(resident: Resident): ResidentTags {
  const tags: ResidentTags = { resident: resident.id, community: resident.community };
  const building = resident.building?.trim();
  if (building && isSafeBuilding(building, resident)) tags.building = building;
  return tags;
}

export function deviceTags(device: Device, resident: Resident | null): DeviceTags {
  const where = resident ? residentTags(resident) : { resident: device.resident, community: 'unknown' };
  return { ...where, device: device.id, kind: device.kind };
}

function isSafeBuilding(building: string, resident: Resident): boolean {
  if (building === resident.address.trim()) return false;
  if (resident.name && building.includes(resident.name)) return false;
  if (resident.family.some((f) => f.name && building.includes(f.name))) return false;
  return !/\d{7,}/.test(building.replace(/[\s-]/g, ''));
}

/** One point per recorded device event; `value` = 1 so an hourly sum counts events. */
export function eventPoint(signal: Signal, where: DeviceTags): TelemetryPoint {
  const fields: Record<string, FieldValue> = { seq: signal.seq, value: 1 };
  const battery = finiteNumber(signal.payload.battery);
  if (battery !== undefined) fields.battery = battery;
  const confidence = finiteNumber(signal.payload.confidence);
  if (confidence !== undefined) fields.confidence = confidence;
  return point('event', { ...deviceTagSet(where), type: signal.type }, fields, signal.receivedAt);
}

/** Battery and signal strength as the message reported them (not the last known values); null when it had neither. */
export function telemetryPoint(t: TelemetryReceived, where: DeviceTags): TelemetryPoint | null {
  const fields: Record<string, FieldValue> = {};
  const battery = finiteNumber(t.payload.battery);
  const rssi = finiteNumber(t.payload.rssi);
  if (battery !== undefined) fields.battery = battery;
  if (rssi !== undefined) fields.rssi = rssi;
  if (Object.keys(fields).length === 0) return null;
  return point('telemetry', deviceTagSet(where), fields, t.at);
}

/** online = 1 / 0; `unknown` says nothing new about the device and is not written. */
export function deviceStatusPoint(s: DeviceStatusChanged, where: DeviceTags): TelemetryPoint | null {
  if (s.state === 'unknown') return null;
  return point('device_status', deviceTagSet(where), { online: s.state === 'online' ? 1 : 0 }, s.at);
}

/**
 * One point per incident change, tagged with the state it is now in. Each duration is written once, on the
 * change that reached it (first page, acknowledgement, resolution), so an hourly mean is not weighted by
 * how many other changes an incident went through.
 */
export function incidentPoint(incident: Incident, entry: AuditEntry, where: ResidentTags): TelemetryPoint {
  const tags: Record<string, string> = {
    resident: incident.residentId,
    community: incident.communityId,
    type: incident.type,
    state: incident.state,
  };
  if (where.building) tags.building = where.building;
  // Grafana panels of real alarms filter test presses out with `test != 'true'`; the tag is absent on real incidents.
  if (incident.test === true) tags.test = 'true';
  const fields: Record<string, FieldValue> = { incident: incident.id, action: entry.action, step: incident.step };
  const seconds = (at: number | null): number | undefined => (at === null ? undefined : Math.max(0, at - incident.openedAt) / 1000);
  const firstPage = entry.action === 'paged' && incident.firstPagedAt === entry.at ? seconds(incident.firstPagedAt) : undefined;
  const ack = entry.action === 'acknowledged' ? seconds(incident.acknowledgedAt) : undefined;
  const resolve = entry.action === 'resolved' ? seconds(incident.resolvedAt) : undefined;
  if (firstPage !== undefined) fields.time_to_first_page_s = firstPage;
  if (ack !== undefined) fields.time_to_ack_s = ack;
  if (resolve !== undefined) fields.time_to_resolve_s = resolve;
  return point('incident', tags, fields, entry.at);
}

/** Where an SMS belongs: its incident's resident (and their community and building), or just the community of its recipient. */
export type PageTags = Partial<ResidentTags>;

/** A page's delivery status; the phone number and the text stay out. */
export function pagePoint(msg: OutboundSms, where: PageTags = {}): TelemetryPoint {
  const tags: Record<string, string> = { role: msg.role ?? 'none', status: msg.status, purpose: msg.purpose };
  if (where.resident) tags.resident = where.resident;
  if (where.community) tags.community = where.community;
  if (where.building) tags.building = where.building;
  const fields: Record<string, FieldValue> = { attempts: msg.attempts };
  if (msg.incidentId) fields.incident = msg.incidentId;
  if (msg.step !== null) fields.step = msg.step;
  return point('page', tags, fields, msg.updatedAt);
}

/**
 * A care task opening or closing. `open` is 1 / 0, so the latest point per (type, resident, device) — at most one task
 * is open for each — says whether one is open now; task ids stay fields, as tags they would grow a series per task.
 * A close carries how long it was open and whether a person closed it.
 */
export function careTaskPoint(task: CareTask, change: 'opened' | 'closed', where: ResidentTags): TelemetryPoint {
  const tags: Record<string, string> = { type: task.kind, action: change, resident: task.residentId, community: task.communityId };
  if (where.building) tags.building = where.building;
  if (task.deviceId) tags.device = task.deviceId;
  const deviceKind = task.detail?.deviceKind;
  if (typeof deviceKind === 'string') tags.kind = deviceKind;
  const fields: Record<string, FieldValue> = { task: task.id, open: change === 'opened' ? 1 : 0 };
  if (change === 'closed' && task.closedAt !== null) {
    fields.open_s = Math.max(0, task.closedAt - task.openedAt) / 1000;
    fields.by_hand = task.closedBy !== null && task.closedBy !== 'system' ? 1 : 0;
  }
  return point('care_task', tags, fields, change === 'closed' ? (task.closedAt ?? task.updatedAt) : task.openedAt);
}

/**
 * A grouped outage opening or closing; `open` is 1 / 0 per place (one open outage per place at a time). The building
 * is passed in only when it is a safe tag (residentTags' rules), since a place's building may be derived from an address.
 */
export function outagePoint(outage: Outage, change: 'opened' | 'closed', building: string | undefined): TelemetryPoint {
  const tags: Record<string, string> = { place: outage.place.kind, action: change, community: outage.place.communityId };
  if (building && outage.place.kind === 'building') tags.building = building;
  const fields: Record<string, FieldValue> = { outage: outage.id, open: change === 'opened' ? 1 : 0, devices: outage.devices.length };
  if (change === 'closed' && outage.closedAt !== null) {
    tags.reason = outage.closeReason ?? 'recovered';
    fields.back = outage.devices.filter((d) => d.backAt !== null).length;
    fields.open_s = Math.max(0, outage.closedAt - outage.openedAt) / 1000;
  }
  return point('outage', tags, fields, change === 'closed' ? (outage.closedAt ?? outage.updatedAt) : outage.openedAt);
}

function deviceTagSet(where: DeviceTags): Record<string, string> {
  const tags: Record<string, string> = { device: where.device, kind: where.kind, resident: where.resident, community: where.community };
  if (where.building) tags.building = where.building;
  return tags;
}

function point(measurement: Measurement, tags: Record<string, string>, fields: Record<string, FieldValue>, time: number): TelemetryPoint {
  return { measurement, tags: withoutEmpty(tags), fields, time, micro: 0 };
}

// Line protocol has no empty tag value: such a tag is left out instead of failing the whole batch.
function withoutEmpty(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) if (v !== '') out[k] = v;
  return out;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The point's time in microseconds since the epoch, as both sinks write it. */
export function timeMicros(p: TelemetryPoint): number {
  return Math.trunc(p.time) * 1000 + p.micro;
}

// Line protocol escaping (InfluxDB docs, "Line protocol", special characters). Most values need none:
// a test first keeps the common case to one scan.
const KEY_SPECIAL = /[\\,= \n]/;
const escapeKey = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n') : s);
const escapeMeasurement = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[\\, ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n') : s);
const escapeString = (s: string): string => `"${/[\\"]/.test(s) ? s.replace(/[\\"]/g, (c) => `\\${c}`) : s}"`;

/**
 * One point as a line of InfluxDB line protocol, time in microseconds. Numbers are written as floats
 * (no `i` suffix), the same type the `influx` 1.x client writes, so both sinks agree on field types.
 */
export function toLineProtocol(p: TelemetryPoint): string {
  let line = escapeMeasurement(p.measurement);
  for (const k in p.tags) line += `,${escapeKey(k)}=${escapeKey(p.tags[k] ?? '')}`;
  let sep = ' ';
  for (const k in p.fields) {
    const v = p.fields[k];
    if (v === undefined) continue;
    line += `${sep}${escapeKey(k)}=${typeof v === 'number' ? String(v) : escapeString(v)}`;
    sep = ',';
  }
  return `${line} ${timeMicros(p)}`;
}
