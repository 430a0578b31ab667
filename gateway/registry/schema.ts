// Zod schema of the registry document (contract §3 plus the project's extensions); fields beyond these are kept.
import { z } from 'zod';
import { checkCatalogue } from '../notifiers/catalogue.js';
import { parseVisitCron } from '../visits/cron.js';
import { DEFAULT_ESCALATION, DEVICE_KINDS } from '../core/types.js';

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

const device = z.looseObject({
  id,
  kind: z.enum(DEVICE_KINDS),
  resident: id,
  secret: z.string().min(8, 'expected a secret of at least 8 characters').max(256, 'expected a secret of at most 256 characters'),
  requireClientCert: z.boolean().optional(),
  certFingerprint: z
    .string()
    .regex(/^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$/, 'expected a SHA-256 fingerprint: 64 hex digits, pairs optionally joined by ":"')
    .transform(normaliseFingerprint)
    .optional(),
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
  label: z.string().regex(/^[^【】\s]{1,12}$/, 'expected 1-12 characters without 【】 or spaces').optional(),
  aliyun: z.looseObject({ templateCode: z.string().regex(/^SMS_\d{1,20}$/, 'expected an Aliyun template code such as SMS_154950909'), signName: text.optional() }).optional(),
  tencent: z.looseObject({ templateId: z.string().regex(/^\d{1,20}$/, 'expected a numeric Tencent template id'), params: z.array(z.string()) }).optional(),
});
const smsSection = z.looseObject({
  templates: z.record(z.string(), templateEntry).superRefine((catalogue, ctx) => {
    for (const p of checkCatalogue(catalogue, { tencentMaxParam: null })) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  }),
});

// Every list is optional: a document may update only the workers, say; absent lists upsert nothing.
export const registrySchema = z
  .looseObject({
    escalation: escalation.optional(),
    // Issue 3: local times of the care-task digest SMS (default 08:30 and 17:30).
    careDigest: z.looseObject({ times: z.array(clockTime).min(1, 'must name at least one time').max(12) }).optional(),
    sms: smsSection.optional(),
    communities: z.array(community).default([]),
    residents: z.array(resident).default([]),
    workers: z.array(worker).default([]),
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
export const REGISTRY_LISTS = ['communities', 'residents', 'workers', 'devices', 'volunteers', 'visits'] as const;
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
