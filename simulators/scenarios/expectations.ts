// Checks a scenario's expectations: SMS ones against the simulator's log and its timing window, state ones by asking the gateway's API.
import { supportsEvent } from '../../devices/kinds.js';
import { formatDuration } from '../common/duration.js';
import { ANY_PHONE, type SimRegistry } from '../common/registry.js';
import { API_LIST_LIMIT, type GatewayApi } from './api.js';
import type { Expectation, Scenario } from './schema.js';

export interface ExpectationResult {
  index: number;
  label: string;
  passed: boolean;
  detail: string;
}

/** One SMS the gateway sent, with its time from the scenario's time zero. */
export interface SmsRecord {
  to: string;
  body: string;
  atMs: number;
}

export type SmsExpectation = Extract<Expectation, { kind: 'sms' | 'noSms' }>;
/** Expectations about the gateway's state, checked through its API (health is judged from samples instead). */
export type StateExpectation = Exclude<Expectation, { kind: 'sms' | 'noSms' | 'healthy' }>;

export function isSmsExpectation(e: Expectation): e is SmsExpectation {
  return e.kind === 'sms' || e.kind === 'noSms';
}

const clip = (s: string, n = 60): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Problems of a parsed scenario against its registry: unknown devices, buildings, people, events a kind cannot send. */
export function checkAgainstRegistry(scenario: Scenario, registry: SimRegistry): string[] {
  const problems: string[] = [];
  const resolves = (who: string, where: string, exactlyOne = false): void => {
    try {
      const phones = registry.resolve(who);
      if (exactlyOne && phones.length !== 1) problems.push(`${where}: "${who}" names ${phones.length} phones; name one`);
    } catch (err) {
      problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const device = (id: string, where: string) => {
    // A bridged device has no secret, so it is not in the fleet; its bridge's simulator speaks for it.
    const bridged = registry.doc.devices.find((x) => x.id === id && x.bridge !== undefined);
    const d = registry.device(id) ?? (bridged ? { id: bridged.id, kind: bridged.kind } : undefined);
    if (!d) problems.push(`${where}: no device "${id}" in the registry`);
    return d;
  };
  const buildings = registry.buildings();
  const building = (b: string, where: string): void => {
    if (!buildings.includes(b))
      problems.push(
        `${where}: no building "${b}" in the registry (known: ${buildings.slice(0, 8).join(', ')}${buildings.length > 8 ? ', …' : ''})`,
      );
  };
  for (const s of scenario.steps) {
    switch (s.kind) {
      case 'event': {
        const d = device(s.device, s.label);
        if (d && !supportsEvent(d.kind, s.event)) problems.push(`${s.label}: ${d.id} is a ${d.kind}, which cannot send "${s.event}"`);
        break;
      }
      case 'powerCut':
        building(s.building, s.label);
        break;
      case 'dyingBattery':
      case 'bad':
        device(s.device, s.label);
        break;
      case 'storm': {
        const able = registry.devices.filter((d) => supportsEvent(d.kind, s.event) && (!s.deviceKinds || s.deviceKinds.includes(d.kind)));
        if (able.length === 0) problems.push(`${s.label}: no device in the registry can send "${s.event}"`);
        else if (s.count !== null && s.count > able.length)
          problems.push(`${s.label}: count ${s.count} but only ${able.length} devices can send "${s.event}"`);
        break;
      }
      case 'reply':
        resolves(s.from, s.label, true);
        break;
      default: {
        const never: never = s;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
  }
  for (const e of scenario.expect) {
    const where = `expect[${e.index}] (${e.label})`;
    if (e.kind === 'sms' || e.kind === 'noSms') {
      if (e.to !== ANY_PHONE) resolves(e.to, where);
    } else if (e.kind === 'incident') {
      if (!registry.doc.residents.some((r) => r.id === e.resident)) problems.push(`${where}: no resident "${e.resident}" in the registry`);
    } else if (e.kind === 'device') device(e.id, where);
    else if (e.kind === 'devices' && e.building !== null) building(e.building, where);
    else if (e.kind === 'outage') building(e.building, where);
    else if (e.kind === 'outages' && e.building !== null) building(e.building, where);
    else if (e.kind === 'tasks') {
      if (e.building !== null) building(e.building, where);
      if (e.device !== null) device(e.device, where);
    } else if (e.kind === 'incidents' && e.count > API_LIST_LIMIT)
      problems.push(`${where}: the API lists at most ${API_LIST_LIMIT} incidents; count fewer`);
  }
  scenario.responders.phones.forEach((p, i) => {
    if (p.who !== undefined) resolves(p.who, `responders.phones[${i}]`);
  });
  return problems;
}

/** An SMS expectation over the whole log of a finished run that lasted `runMs`. */
export function checkSms(e: SmsExpectation, log: readonly SmsRecord[], registry: SimRegistry, runMs: number): ExpectationResult {
  const phones = e.to === ANY_PHONE ? null : new Set(registry.resolve(e.to));
  const end = e.withinMs === null ? runMs : e.afterMs + e.withinMs;
  const toThem = log.filter((m) => !phones || phones.has(m.to));
  const matching = toThem.filter((m) => e.contains === null || m.body.includes(e.contains));
  const inWindow = matching.filter((m) => m.atMs >= e.afterMs && m.atMs <= end);
  const line = (m: SmsRecord): string => `${formatDuration(m.atMs)} ${registry.label(m.to)}: ${clip(m.body)}`;
  const result = (passed: boolean, detail: string): ExpectationResult => ({ index: e.index, label: e.label, passed, detail });
  if (e.kind === 'noSms') {
    if (inWindow.length === 0)
      return result(
        true,
        matching.length > 0
          ? `none in the window (${matching.length} outside it, first at ${formatDuration(matching[0]?.atMs ?? 0)})`
          : 'none',
      );
    return result(false, `${inWindow.length} sent: ${inWindow.slice(0, 3).map(line).join(' | ')}`);
  }
  const wanted = e.count;
  const ok = wanted === null ? inWindow.length > 0 : inWindow.length === wanted;
  if (ok)
    return result(
      true,
      `${inWindow.length} at ${inWindow
        .slice(0, 3)
        .map((m) => formatDuration(m.atMs))
        .join(', ')}${inWindow.length > 3 ? ', …' : ''}: ${clip(inWindow[0]?.body ?? '')}`,
    );
  const outside = matching.filter((m) => !inWindow.includes(m));
  const why =
    wanted !== null && inWindow.length > 0
      ? `${inWindow.length} in the window, expected ${wanted}`
      : outside.length > 0
        ? `none in the window; matching ones came at ${outside
            .slice(0, 3)
            .map((m) => formatDuration(m.atMs))
            .join(', ')}`
        : toThem.length > 0
          ? `none matching; they got: ${toThem.slice(0, 3).map(line).join(' | ')}`
          : 'nothing was sent to them';
  return result(false, why);
}

/** One look at the gateway for a state expectation: passed, and what was seen. */
export async function probeState(e: StateExpectation, api: GatewayApi, registry: SimRegistry): Promise<{ ok: boolean; seen: string }> {
  switch (e.kind) {
    case 'incident': {
      const list = await api.incidents({ resident: e.resident });
      const fits = list.filter(
        (i) =>
          (e.state === null || i.state === e.state) &&
          (e.type === null || i.type === e.type) &&
          (e.acknowledgedBy === null || i.acknowledgedBy?.name === e.acknowledgedBy || i.acknowledgedBy?.id === e.acknowledgedBy),
      );
      const seen =
        list.length === 0
          ? 'no incident'
          : list.map((i) => `${i.type} ${i.state}${i.acknowledgedBy?.name ? ` by ${i.acknowledgedBy.name}` : ''}`).join(', ');
      return { ok: fits.length > 0, seen };
    }
    case 'incidents': {
      const list = (await api.incidents(e.state ? { state: e.state } : {})).filter((i) => e.type === null || i.type === e.type);
      const residents = new Set(list.map((i) => i.resident)).size;
      return { ok: list.length === e.count, seen: `${list.length} incidents for ${residents} residents` };
    }
    case 'device': {
      const d = (await api.devices()).find((x) => x.id === e.id);
      return { ok: d?.state === e.state, seen: d ? `${d.id} ${d.state}` : `${e.id} not listed` };
    }
    case 'devices': {
      const ids = new Set(
        registry.devices
          .filter((d) => (e.building === null || d.building === e.building) && (e.deviceKind === null || d.kind === e.deviceKind))
          .map((d) => d.id),
      );
      const listed = (await api.devices()).filter((d) => ids.has(d.id));
      const off = listed.filter((d) => d.state !== e.state);
      return {
        ok: listed.length === ids.size && off.length === 0,
        seen: `${listed.length - off.length}/${ids.size} ${e.state}${
          off.length
            ? ` (not: ${off
                .slice(0, 5)
                .map((d) => `${d.id} ${d.state}`)
                .join(', ')})`
            : ''
        }`,
      };
    }
    case 'outage': {
      const list = (await api.outages()).filter((o) => o.place.kind === 'building' && o.place.building === e.building);
      const fits = list.filter((o) => (e.state === null || o.state === e.state) && (e.devices === null || o.devices.length === e.devices));
      const seen =
        list.length === 0
          ? `no outage of ${e.building}`
          : list
              .map((o) => `${o.state} with ${o.devices.length} devices (${o.devices.filter((d) => d.backAt !== null).length} back)`)
              .join(', ');
      return { ok: fits.length > 0, seen };
    }
    case 'outages': {
      const list = (await api.outages()).filter(
        (o) => (e.building === null || o.place.building === e.building) && (e.state === null || o.state === e.state),
      );
      return {
        ok: list.length === e.count,
        seen: `${list.length} outages${list.length ? ` (${list.map((o) => `${o.place.building ?? `community ${o.place.community}`} ${o.state}`).join(', ')})` : ''}`,
      };
    }
    case 'tasks': {
      const inBuilding = e.building === null ? null : new Set(registry.devices.filter((d) => d.building === e.building).map((d) => d.id));
      const list = (await api.tasks()).filter(
        (t) =>
          (e.taskKind === null || t.kind === e.taskKind) &&
          (e.state === null || t.state === e.state) &&
          (e.device === null || t.device === e.device) &&
          (inBuilding === null || (t.device !== null && inBuilding.has(t.device))),
      );
      return {
        ok: list.length === e.count,
        seen: `${list.length} tasks${
          list.length
            ? ` (${list
                .slice(0, 5)
                .map((t) => `${t.kind} ${t.device ?? t.resident} ${t.state}`)
                .join(', ')})`
            : ''
        }`,
      };
    }
    default: {
      const never: never = e;
      throw new Error(`unknown expectation ${JSON.stringify(never)}`);
    }
  }
}
