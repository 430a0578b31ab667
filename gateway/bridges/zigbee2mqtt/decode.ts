// Turns one zigbee2mqtt device payload into our events and telemetry by the model's rules, raising state-style fields only on an edge.
import type { BridgedEvent, BridgedTelemetry } from '../sink.js';
import { COMMON_FIELDS, type FieldRule } from './models.js';

export interface DecodedZigbee2mqtt {
  events: BridgedEvent[];
  telemetry: BridgedTelemetry;
  /** The device's `last_seen` when zigbee2mqtt adds it as ISO 8601. */
  deviceTime?: string;
  /** State-style fields whose level changed: remember them once the events are recorded. */
  levels: { field: string; value: string }[];
  /** `tamper` went from anything else to true. */
  tampered: boolean;
}

/**
 * `previous(field)` is the remembered level (JSON) or undefined when none was ever seen; a first report of an active
 * level is an edge, so a device first heard with `sos: true` raises its alarm.
 */
export function decodeZigbee2mqtt(
  json: Record<string, unknown>,
  rules: readonly FieldRule[],
  previous: (field: string) => string | undefined,
): DecodedZigbee2mqtt {
  const events: BridgedEvent[] = [];
  const changed = new Map<string, string>();
  const edge = (field: string, active: readonly unknown[]): boolean => {
    const value = json[field];
    if (value === undefined || value === null) return false;
    const now = JSON.stringify(value);
    const before = previous(field);
    if (before !== now) changed.set(field, now);
    return active.includes(value) && (before === undefined || !active.includes(JSON.parse(before)));
  };

  for (const rule of rules) {
    if (rule.kind === 'action') {
      const value = json[rule.field];
      if (typeof value !== 'string' || !Object.hasOwn(rule.values, value)) continue;
      const type = rule.values[value];
      if (type !== undefined) events.push({ type, fields: { [rule.field]: value } });
      continue;
    }
    if (edge(rule.field, rule.active))
      events.push({ type: rule.raises, fields: { [rule.field]: String(json[rule.field]), ...rule.fields } });
  }

  const telemetry: BridgedTelemetry = {};
  const battery = json[COMMON_FIELDS.battery];
  if (typeof battery === 'number') telemetry.battery = battery;
  const linkquality = json[COMMON_FIELDS.linkquality];
  if (typeof linkquality === 'number') telemetry.linkquality = linkquality;
  // Our low_battery event carries the level; devices that only say battery_low leave it to supervision's battery check.
  if (edge(COMMON_FIELDS.batteryLow, [true]) && typeof battery === 'number' && battery >= 0 && battery <= 100) {
    events.push({ type: 'low_battery', fields: { battery } });
  }
  const tampered = edge(COMMON_FIELDS.tamper, [true]);

  const lastSeen = json[COMMON_FIELDS.lastSeen];
  const out: DecodedZigbee2mqtt = { events, telemetry, levels: [...changed].map(([field, value]) => ({ field, value })), tampered };
  if (typeof lastSeen === 'string') out.deviceTime = lastSeen;
  return out;
}

/** `{"state":"online"}` (zigbee2mqtt 1.30+) or the legacy bare `online` / `offline`; null for anything else. */
export function availabilityOf(payload: Buffer): 'online' | 'offline' | null {
  const text = payload.toString('utf8').trim();
  if (text === 'online' || text === 'offline') return text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'state' in parsed && (parsed.state === 'online' || parsed.state === 'offline'))
      return parsed.state;
  } catch {
    return null;
  }
  return null;
}
