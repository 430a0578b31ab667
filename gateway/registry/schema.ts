// Zod schema of the registry document (the documented registry format plus the project's extensions); fields beyond these are kept.
import { z } from 'zod';
import { checkCatalogue } from '../notifiers/catalogue.js';
import { parseVisitCron } from '../visits/cron.js';
import { DEFAULT_ESCALATION, DEVICE_KINDS } from '../core/types.js';
import { HTTP_BRIDGE_AUTH } from '../core/bridges.js';

/** Ids are also used in MQTT client ids and topics, so no '/', '+', '#' and at most 64 characters. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const PHONE_PATTERN = /^\+\d{7,15}$/;

// Weekdays as a document writes them; the same set as core's WEEKDAYS, in the order people read a week.
export const DOC_WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const id = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters from A-Z a-z 0-9 _ . : -');

const text = z.string().min(1, 'must not be empty');

// An unquoted +86… in YAML is read as a number, and the '+' is lost: say how to fix it.
const phone = z
  .string({
    error: (iss) => (typeof iss.input === 'number' ? 'expected a string: quote phone numbers, e.g. "+8613800000001"' : undefined),
  })
  .regex(PHONE_PATTERN, 'expected an E.164 phone number: + and 7-15 digits, e.g. "+8613800000001"');

const geoPoint = z.looseObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

// "8:00" is accepted and written back as "08:00", so shift arithmetic can compare strings.
const clockTime = z
  .string()
  .regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'expected a local time "HH:MM" from 00:00 to 23:59')
  .transform((t) => t.padStart(5, '0'));

const contact = z.looseObject({ name: text, phone });

const escalation = z.looseObject({
  ackTimeoutSeconds: z.number().int().min(10).max(3600).default(DEFAULT_ESCALATION.ackTimeoutSeconds),
  fallCancelSeconds: z.number().int().min(0).max(600).default(DEFAULT_ESCALATION.fallCancelSeconds),
  offlineAfterSeconds: z.number().int().min(60).max(86400).default(DEFAULT_ESCALATION.offlineAfterSeconds),
  // Seconds after an unanswered SMS page before the worker is called; unset: VOICE_AFTER_SECONDS.
  voiceAfterSeconds: z.number().int().min(10).max(3600).optional(),
});

const community = z.looseObject({
  id,
  name: text,
  location: geoPoint.optional(),
  dutyContacts: z.array(contact).default([]),
});

const familyMember = z.looseObject({ name: text, phone, relation: z.string().optional() });

const resident = z
  .looseObject({
    id,
    name: text,
    community: id,
    address: text,
    building: text.optional(),
    location: geoPoint.optional(),
    inactivityHours: z.number().positive().optional(),
    highRisk: z.boolean().optional(),
    // When inactivity counts (gateway/wellness); absent: the default waking hours, 07:00-22:00.
    wakingHours: z.looseObject({ from: clockTime, to: clockTime }).optional(),
    notes: z.string().optional(),
    family: z.array(familyMember).default([]),
  })
  // The annotation keeps the open record type (extra fields) that a bare spread would drop.
  .transform((r): typeof r & { building: string } => ({ ...r, building: r.building ?? deriveBuilding(r.address) }));

const shift = z.looseObject({
  days: z
    .array(z.enum(DOC_WEEKDAYS))
    .min(1, 'must name at least one day')
    .transform((days) => DOC_WEEKDAYS.filter((d) => days.includes(d))),
  from: clockTime,
  to: clockTime,
});

const worker = z.looseObject({
  id,
  name: text,
  phone,
  community: id,
  location: geoPoint.optional(),
  shifts: z.array(shift).default([]),
});

const secret = z.string().min(8, 'expected a secret of at least 8 characters').max(256, 'expected a secret of at most 256 characters');

// Zigbee battery devices check in every few hours and LoRaWAN buttons less often: up to a week.
const offlineAfterSeconds = z
  .number()
  .int()
  .min(60)
  .max(7 * 86400);

const device = z.looseObject({
  id,
  kind: z.enum(DEVICE_KINDS),
  resident: id,
  // Required for a device that connects itself, refused for one on a bridge (checked in bridgeIssues).
  secret: secret.optional(),
  bridge: id.optional(),
  externalId: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
  model: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional(),
  offlineAfterSeconds: offlineAfterSeconds.optional(),
  requireClientCert: z.boolean().optional(),
  certFingerprint: z
    .string()
    .regex(/^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$/, 'expected a SHA-256 fingerprint: 64 hex digits, pairs optionally joined by ":"')
    .transform(normaliseFingerprint)
    .optional(),
});

// A base topic is where zigbee2mqtt publishes: no wildcards, no empty levels, and never inside our own device tree.
const baseTopic = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[^#+/$][^#+]*$/, 'expected an MQTT topic without wildcards (+ #), not starting with "/" or "$"')
  // [MQTT-4.7.3-2] U+0000 is never part of a topic.
  .refine((t) => !t.includes('\u0000'), 'must not contain U+0000')
  .refine((t) => !t.endsWith('/') && !t.includes('//'), 'must not end with "/" nor have an empty level')
  .refine((t) => t !== 'care' && !t.startsWith('care/'), 'must not be under "care/", the topics of devices that speak our protocol');

const brokerUrl = z
  .string()
  .regex(
    /^(mqtts?|tcp|ssl|tls|wss?):\/\/[^\s/]+/,
    'expected a broker URL such as "mqtt://127.0.0.1:1883" (mqtt, mqtts, tcp, ssl, tls, ws or wss)',
  );
const login = { url: brokerUrl, username: z.string().min(1, 'must not be empty').optional(), password: z.string().optional() };

const bridgeCommon = { id, name: text.optional(), offlineAfterSeconds: offlineAfterSeconds.optional() };

// On our broker (`secret`) or on its own (`url`): exactly one of the two, checked in bridgeIssues with a clear line.
const zigbee2mqttBridge = z.looseObject({
  ...bridgeCommon,
  kind: z.literal('zigbee2mqtt'),
  baseTopic: baseTopic.default('zigbee2mqtt'),
  secret: secret.optional(),
  url: login.url.optional(),
  username: login.username,
  password: login.password,
});

const chirpstackBridge = z.looseObject({
  ...bridgeCommon,
  kind: z.literal('chirpstack'),
  ...login,
  applicationId: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected the ChirpStack application id (a UUID)'),
});

const httpBridge = z.looseObject({
  ...bridgeCommon,
  kind: z.literal('http'),
  secret,
  auth: z.enum(HTTP_BRIDGE_AUTH).default('onenet'),
});

const bridge = z.discriminatedUnion('kind', [zigbee2mqttBridge, chirpstackBridge, httpBridge], {
  error: (iss) => (iss.code === 'invalid_union' ? 'expected one of zigbee2mqtt, chirpstack, http' : undefined),
});

const volunteer = z.looseObject({
  id,
  name: text,
  phone,
  team: text.optional(),
  leader: z.boolean().optional(),
});

// The same parser the visit scheduler expands with, so the registry and the API accept the same schedules.
const cron = z.string().superRefine((expr, ctx) => {
  const result = parseVisitCron(expr);
  if (!result.ok) ctx.addIssue({ code: 'custom', message: result.error });
});

const visit = z.looseObject({
  id,
  volunteer: id,
  resident: id,
  cron,
  durationMinutes: z.number().int().positive(),
  activity: text,
});

// The SMS template catalogue: message kind -> free text and each provider's approved template, checked against the
// providers' template rules (the numeric Tencent limit is checked at start, where TENCENT_SMS_MAX_PARAM is known).
const templateEntry = z.looseObject({
  text,
  label: z
    .string()
    .regex(/^[^【】\s]{1,12}$/, 'expected 1-12 characters without 【】 or spaces')
    .optional(),
  aliyun: z
    .looseObject({
      templateCode: z.string().regex(/^SMS_\d{1,20}$/, 'expected an Aliyun template code such as SMS_154950909'),
      signName: text.optional(),
    })
    .optional(),
  tencent: z
    .looseObject({ templateId: z.string().regex(/^\d{1,20}$/, 'expected a numeric Tencent template id'), params: z.array(z.string()) })
    .optional(),
});
const smsSection = z.looseObject({
  templates: z.record(z.string(), templateEntry).superRefine((catalogue, ctx) => {
    for (const p of checkCatalogue(catalogue, { tencentMaxParam: null }))
      ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  }),
});

// Every list is optional: a document may update only the workers, say; absent lists upsert nothing.
export const registrySchema = z
  .looseObject({
    escalation: escalation.optional(),
    // Device supervision: local times of the care-task digest SMS (default 08:30 and 17:30).
    careDigest: z.looseObject({ times: z.array(clockTime).min(1, 'must name at least one time').max(12) }).optional(),
    // offlineAfterSeconds per device kind (gateway/supervision/offline-after.ts has the order of precedence).
    supervision: z.looseObject({ offlineAfterSeconds: z.partialRecord(z.enum(DEVICE_KINDS), offlineAfterSeconds).optional() }).optional(),
    sms: smsSection.optional(),
    communities: z.array(community).default([]),
    residents: z.array(resident).default([]),
    workers: z.array(worker).default([]),
    bridges: z.array(bridge).default([]),
    devices: z.array(device).default([]),
    volunteers: z.array(volunteer).default([]),
    visits: z.array(visit).default([]),
  })
  .brand<'ValidatedRegistry'>();

/** The document as written (JSON/YAML, device secrets in clear text). */
export type RegistryDocument = z.input<typeof registrySchema>;
/** A document that passed validateRegistry: defaults filled, buildings derived, references checked. */
export type ValidatedRegistry = z.output<typeof registrySchema>;

/** The registry's entity lists, in the order problems are reported. */
export const REGISTRY_LISTS = ['communities', 'residents', 'workers', 'bridges', 'devices', 'volunteers', 'visits'] as const;
export type RegistryList = (typeof REGISTRY_LISTS)[number];

/** Building of an address: up to and including the first "号楼" or "栋", else the whole address. */
export function deriveBuilding(address: string): string {
  const m = /^.*?(号楼|栋)/u.exec(address);
  return m ? m[0] : address;
}

/** The form Node reports a peer certificate's fingerprint256 in: upper-case hex pairs joined by ':'. */
function normaliseFingerprint(fingerprint: string): string {
  return (fingerprint.replace(/:/g, '').toUpperCase().match(/../g) ?? []).join(':');
}
