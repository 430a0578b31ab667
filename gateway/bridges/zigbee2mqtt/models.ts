// The zigbee2mqtt models the gateway understands: which payload field of each model raises which of our events. Plain data: add a model by adding an entry.
import type { EventType } from '../../core/types.js';

/**
 * How one payload field becomes an event.
 * - `action`: the field names a momentary action (a press); each message carrying one of `values` is one event.
 *   zigbee2mqtt never caches `action` in its state, so it is not repeated by later reports.
 * - `edge`: the field is a level (`occupancy: true` while someone moves); only its change from any other value to one
 *   of `active` raises the event, once, and the level is remembered across restarts.
 */
export type FieldRule =
  | { field: string; kind: 'action'; values: Readonly<Record<string, EventType>> }
  | {
      field: string;
      kind: 'edge';
      active: readonly (string | boolean | number)[];
      raises: EventType;
      fields?: Readonly<Record<string, number>>;
    };

export interface Zigbee2mqttModel {
  /** zigbee2mqtt's model id, as its frontend and `bridge/devices` show it (the registry's `model`). */
  model: string;
  vendor: string;
  description: string;
  rules: readonly FieldRule[];
}

/** Fields every model may report: telemetry, and the level fields of IAS zones (battery_low, tamper). */
export const COMMON_FIELDS = {
  battery: 'battery',
  linkquality: 'linkquality',
  batteryLow: 'battery_low',
  tamper: 'tamper',
  /** zigbee2mqtt's `last_seen` (advanced.last_seen: ISO_8601): the device time of the message. */
  lastSeen: 'last_seen',
} as const;

const SOS_ACTION = { field: 'action', kind: 'action', values: { emergency: 'sos', sos: 'sos', panic: 'sos' } } as const satisfies FieldRule;
const SOS_LEVEL = { field: 'sos', kind: 'edge', active: [true], raises: 'sos' } as const satisfies FieldRule;
const OCCUPANCY = { field: 'occupancy', kind: 'edge', active: [true], raises: 'motion' } as const satisfies FieldRule;
const PRESENCE = { field: 'presence', kind: 'edge', active: [true], raises: 'motion' } as const satisfies FieldRule;
// A door opening (contact lost) is a sign of life; closing it again is not a second one.
const DOOR_OPENED = { field: 'contact', kind: 'edge', active: [false], raises: 'motion' } as const satisfies FieldRule;

export const ZIGBEE2MQTT_MODELS: readonly Zigbee2mqttModel[] = [
  { model: 'TS0215A_sos', vendor: 'Tuya', description: 'SOS button', rules: [SOS_ACTION] },
  // White labels of TS0215A_sos: zigbee2mqtt reports them under their own model.
  { model: 'BT400B', vendor: 'Tuya', description: 'Zigbee panic button (TS0215A_sos)', rules: [SOS_ACTION] },
  { model: 'R7052', vendor: 'Woox', description: 'Smart SOS button (TS0215A_sos)', rules: [SOS_ACTION] },
  { model: 'ZBPB10BK', vendor: 'Nedis', description: 'Smart Zigbee SOS / panic button (TS0215A_sos)', rules: [SOS_ACTION] },
  {
    model: 'HS1EB/HS1EB-E',
    vendor: 'Heiman',
    description: 'Smart emergency button: every kind of press is a call for help',
    rules: [{ field: 'action', kind: 'action', values: { single: 'sos', double: 'sos', hold: 'sos' } }],
  },
  { model: 'SEB01ZB', vendor: 'Feibit', description: 'SOS button (IAS zone: `sos` level, tamper, battery_low)', rules: [SOS_LEVEL] },
  { model: 'RTCGQ11LM', vendor: 'Aqara', description: 'Motion sensor', rules: [OCCUPANCY] },
  { model: 'MCCGQ11LM', vendor: 'Aqara', description: 'Door and window contact sensor', rules: [DOOR_OPENED] },
  {
    model: 'MIR-HE200-TY',
    vendor: 'Tuya',
    description: 'mmWave presence radar with fall detection',
    rules: [
      // A possible fall pages too (after fallCancelSeconds, unless cancelled): missing a real one costs more.
      { field: 'fall_down_status', kind: 'edge', active: ['fall'], raises: 'fall', fields: { confidence: 1 } },
      { field: 'fall_down_status', kind: 'edge', active: ['maybe_fall'], raises: 'fall', fields: { confidence: 0.5 } },
      PRESENCE,
      OCCUPANCY,
    ],
  },
];

/**
 * For a device registered without a `model`: the fields whose meaning does not depend on the model. Only `emergency`
 * counts as an SOS action here; a generic `single` press could be any switch.
 */
export const GENERIC_RULES: readonly FieldRule[] = [
  SOS_ACTION,
  SOS_LEVEL,
  OCCUPANCY,
  PRESENCE,
  { field: 'fall_down_status', kind: 'edge', active: ['fall'], raises: 'fall' },
];

const BY_MODEL = new Map(ZIGBEE2MQTT_MODELS.map((m) => [m.model, m]));

export function zigbee2mqttModel(model: string): Zigbee2mqttModel | null {
  return BY_MODEL.get(model) ?? null;
}

/** The rules for a device: its model's, or the generic ones without a model. */
export function rulesFor(model: string | undefined): readonly FieldRule[] | null {
  if (model === undefined) return GENERIC_RULES;
  return zigbee2mqttModel(model)?.rules ?? null;
}
