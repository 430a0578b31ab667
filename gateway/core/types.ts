// Domain types shared by every stage: the neighbourhood, signals, incidents, pages and the audit log.

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface Contact {
  name: string;
  phone: string;
}

export interface Community {
  id: string;
  name: string;
  location?: GeoPoint;
  /** Station duty phone(s): paged after the nearest three on-duty workers, and first when no worker is on duty. */
  dutyContacts: Contact[];
}

export interface FamilyMember extends Contact {
  relation?: string;
}

export interface Resident {
  id: string;
  name: string;
  community: string;
  address: string;
  building?: string;
  location?: GeoPoint;
  inactivityHours?: number;
  highRisk?: boolean;
  /** Local hours in which inactivity counts (gateway/wellness); the night outside them never raises a wellness check. */
  wakingHours?: WakingHours;
  family: FamilyMember[];
}

/** Local "HH:MM" bounds; a window whose `to` is not after `from` runs past midnight, and `from` = `to` is all day. */
export interface WakingHours {
  from: string;
  to: string;
}

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface Shift {
  days: Weekday[];
  /** Local "HH:MM". A shift whose `to` is not after `from` runs past midnight into the next day. */
  from: string;
  to: string;
}

export interface Worker {
  id: string;
  name: string;
  phone: string;
  community: string;
  location?: GeoPoint;
  shifts: Shift[];
}

export const DEVICE_KINDS = ['sos_button', 'pull_cord', 'fall_sensor', 'motion_sensor', 'presence_sensor', 'door_sensor'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface Device {
  id: string;
  kind: DeviceKind;
  resident: string;
  /** scrypt hash in the form `scrypt$N$r$p$saltB64$hashB64`; the secret itself is never stored. */
  secretHash: string;
  /** The device must connect over MQTTS with a client certificate from MQTT_TLS_CA_FILE whose common name is its id. */
  requireClientCert?: boolean;
  /** SHA-256 fingerprint (upper-case hex pairs joined by ':') of the one client certificate the device must connect with. */
  certFingerprint?: string;
  /** The bridge (registry `bridges`) the device reaches the gateway through; absent for a device that speaks our MQTT itself. */
  bridge?: string;
  /** Its id on that bridge: zigbee2mqtt friendly name or IEEE address, LoRaWAN DevEUI, vendor device id (see normaliseExternalId). */
  externalId?: string;
  /** The vendor model, which picks the bridge's payload mapping (e.g. zigbee2mqtt's `TS0215A_sos`). */
  model?: string;
  /** No message for this long: offline (overrides the bridge's and the registry-wide value). */
  offlineAfterSeconds?: number;
}

export interface Volunteer {
  id: string;
  name: string;
  phone: string;
  team?: string;
  /** The team's leader hears about the team's missed visits. */
  leader?: boolean;
  community?: string;
}

/** A visit plan: recurring (`cron`, local time) or one-off (`at`); exactly one of the two is set. */
export interface Visit {
  id: string;
  volunteer: string;
  resident: string;
  /** Five-field cron in the gateway's time zone. Registry visits always have one. */
  cron?: string;
  /** One-off visit: local date and time "YYYY-MM-DDTHH:MM". */
  at?: string;
  durationMinutes: number;
  activity: string;
}

export interface EscalationSettings {
  ackTimeoutSeconds: number;
  fallCancelSeconds: number;
  offlineAfterSeconds: number;
  /** A worker who has not acknowledged an SMS page within this long is called (registry; else VOICE_AFTER_SECONDS). */
  voiceAfterSeconds?: number;
}

export const DEFAULT_ESCALATION: EscalationSettings = {
  ackTimeoutSeconds: 180,
  fallCancelSeconds: 30,
  offlineAfterSeconds: 900,
};

export const EVENT_TYPES = ['sos', 'fall', 'cancel', 'motion', 'heartbeat', 'low_battery'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One accepted, durably recorded device event: the input of the rules. */
export interface Signal {
  /** Row id of the durable event record. */
  eventId: number;
  deviceId: string;
  deviceKind: DeviceKind;
  residentId: string;
  type: EventType;
  seq: number;
  /** The device's own timestamp, when it sent a plausible one. */
  deviceTs?: string;
  /** When the gateway received the PUBLISH (ms since epoch). */
  receivedAt: number;
  /** High-resolution arrival time (performance.now()), for latency metrics inside one process. */
  arrivedHr?: number;
  payload: Record<string, unknown>;
}

export type RejectionReason =
  | 'payload_too_large'
  | 'malformed_json'
  | 'invalid_payload'
  | 'unknown_type'
  | 'type_not_supported_by_kind'
  | 'unknown_channel'
  | 'impossible_value'
  /** A bridge spoke for an id that no registry device has on it (recorded under the bridge's id). */
  | 'unknown_device';

export interface Rejection {
  deviceId: string;
  topic: string;
  reason: RejectionReason;
  detail: string;
  receivedAt: number;
  payloadExcerpt: string;
}

/**
 * `malformed_topic`: a PUBLISH topic with invalid UTF-8 or U+0000, which MQTT answers by closing the connection;
 * `flooding`: a device over its message limits; `client_cert_refused`: a device without the client certificate it is registered with.
 */
export type SecurityEventKind =
  | 'auth_failed'
  | 'client_id_mismatch'
  | 'publish_denied'
  | 'subscribe_denied'
  | 'unknown_device'
  | 'malformed_topic'
  | 'flooding'
  | 'client_cert_refused'
  /** A bridged device reported its case opened (zigbee `tamper`): someone may be disabling a safety device. */
  | 'device_tamper'
  /** A PROXY protocol header from a peer that is not a named load balancer: an attempt to choose the address lockouts count. */
  | 'proxy_header_untrusted'
  /** A named load balancer's connection without the PROXY header it owes. */
  | 'proxy_header_missing'
  | 'proxy_header_malformed';

export interface SecurityEvent {
  kind: SecurityEventKind;
  at: number;
  deviceId: string | null;
  clientId: string | null;
  remoteAddress: string | null;
  detail: string;
}

export const INCIDENT_STATES = ['pending', 'open', 'acknowledged', 'resolved', 'cancelled'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];
export const ACTIVE_STATES: readonly IncidentState[] = ['pending', 'open', 'acknowledged'];

/** `door_unanswered`: a volunteer found nobody answering the resident's door. `inactivity`: no sign of life for too long (gateway/wellness). */
export type IncidentType = 'sos' | 'fall' | 'door_unanswered' | 'inactivity';

export type ResponderRole = 'worker' | 'duty_contact' | 'family';

export interface PlanResponder {
  role: 'worker' | 'duty_contact';
  /** Worker id; duty contacts have `duty:<community>:<index>`. */
  id: string;
  name: string;
  phone: string;
  distanceM: number | null;
}

/** Frozen into the incident when it opens, so later registry edits cannot change an escalation under way. */
export interface EscalationPlan {
  frozenAt: number;
  ackTimeoutSeconds: number;
  fallCancelSeconds: number;
  /** From the registry when it sets one: seconds after a worker's SMS page before they are called (else VOICE_AFTER_SECONDS). */
  voiceAfterSeconds?: number;
  /** Paged one per step, nearest first; after the last, paging starts again from the top. */
  responders: PlanResponder[];
  family: FamilyMember[];
}

export interface Responder {
  role: ResponderRole | 'staff';
  id: string | null;
  name: string;
  phone: string | null;
}

export interface Incident {
  id: string;
  /** Short code used in the SMS link `/i/<code>`. */
  code: string;
  residentId: string;
  communityId: string;
  type: IncidentType;
  state: IncidentState;
  /** Escalation steps run so far (0 before the first page). */
  step: number;
  /** True when nobody at all could be paged. */
  unassigned: boolean;
  plan: EscalationPlan;
  openedAt: number;
  firstPagedAt: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: Responder | null;
  resolvedAt: number | null;
  cancelledAt: number | null;
  signalCount: number;
  lastSignalAt: number;
  nextStepAt: number | null;
  /** When the responder said they had arrived ("已到达"); kept apart from the state so time-to-attend can be reported. */
  onSiteAt?: number | null;
  onSiteBy?: Responder | null;
  /**
   * A weekly test press (test mode): the worker gets a page marked 测试, the family is never paged, nothing escalates,
   * and the statistics leave it out. Absent = false.
   */
  test?: boolean;
}

export type AuditChannel = 'device' | 'sms' | 'voice' | 'api' | 'dashboard' | 'system';

export interface AuditEntry {
  id: number;
  incidentId: string;
  at: number;
  action: string;
  actor: string;
  channel: AuditChannel;
  detail: Record<string, unknown> | null;
}

export const SMS_STATUSES = ['queued', 'sending', 'accepted', 'sent', 'delivered', 'failed', 'undelivered', 'outbox'] as const;
export type SmsStatus = (typeof SMS_STATUSES)[number];

/** `digest`: the twice-daily care-task list; `outage`: a grouped device outage page and its all-clear (device supervision). */
/** Every provider the gateway can send SMS through. */
export type SmsProviderName = 'twilio' | 'aliyun' | 'tencent' | 'outbox';

export type SmsPurpose = 'page' | 'page_link' | 'notice' | 'help' | 'digest' | 'outage' | 'otp';

/** What a reply to this message is about; inbound SMS are routed by the latest one sent to the phone. */
export type SmsContext =
  /** `replyCode` (a page's): the letters that, after 1 or 2, name this incident when the phone has several pages open. */
  | { kind: 'incident'; incidentId: string; replyCode?: string }
  /** A visit reminder: `到`/`走`/`没人` replies go to the visit feature. `occurrenceStart` is ms since the epoch. */
  | { kind: 'visit'; visitId: string; occurrenceStart: number };

/** Alarm traffic (pages, family alerts) goes before routine traffic (digests, reminders) and may use other channels. */
export type MessagePriority = 'alarm' | 'routine';

/**
 * One message as an intent: its kind (a key of the template catalogue, such as `page_first`) and the named
 * parameters its templates use. The free text for Twilio and the outbox is rendered from the same parameters.
 */
export interface MessageIntent {
  kind: string;
  params: Record<string, string>;
}

export interface OutboundSms {
  id: string;
  to: string;
  /** The free text as rendered from the intent (secrets masked): what Twilio and the outbox send, and the SMS log shows. */
  body: string;
  /** What the message means (secret parameters masked); null only for rows stored before intents existed. */
  intent: MessageIntent | null;
  priority: MessagePriority;
  purpose: SmsPurpose;
  incidentId: string | null;
  step: number | null;
  role: ResponderRole | null;
  personId: string | null;
  context: SmsContext | null;
  status: SmsStatus;
  provider: SmsProviderName;
  providerSid: string | null;
  attempts: number;
  errorCode: string | null;
  error: string | null;
  createdAt: number;
  sentAt: number | null;
  updatedAt: number;
}

export interface InboundSms {
  /** Who delivered it (`twilio`, `aliyun`, `tencent`; `dashboard` for a button that stands in for an SMS): with providerSid, the key that drops redeliveries. */
  provider: string;
  from: string;
  body: string;
  providerSid: string | null;
  receivedAt: number;
}

export type DeviceState = 'online' | 'offline' | 'unknown';

export interface DeviceHealth {
  deviceId: string;
  state: DeviceState;
  lastSeen: number | null;
  battery: number | null;
  rssi: number | null;
  lastStatusAt: number | null;
  remoteAddress: string | null;
  lastRejection: { reason: RejectionReason; detail: string; at: number } | null;
  rejectedCount: number;
}

/** Non-urgent conditions that become care tasks for the resident's grid worker (device supervision), sent in a digest, never at 3 a.m. */
export const CARE_TASK_KINDS = [
  'device_offline',
  'low_battery',
  'never_reported',
  'wellness_check',
  'device_flooding',
  'button_untested',
] as const;
export type CareTaskKind = (typeof CARE_TASK_KINDS)[number];

export interface NewCareTask {
  kind: CareTaskKind;
  residentId: string;
  /** The device concerned; absent for resident-level tasks (a wellness check). */
  deviceId?: string;
  /** Short facts for the digest and the dashboard (battery level, hours without a sign of life...). */
  detail?: Record<string, unknown>;
}

/** Where detectors (device supervision, inactivity) put care tasks; the care-task service implements it. */
export interface CareTaskSink {
  /** Opens the task, unless one of the same kind is already open for the same resident and device (idempotent). */
  open(task: NewCareTask, at: number): Promise<void>;
  /** Closes the open task of this kind for this resident (and device) because its condition cleared. */
  clear(kind: CareTaskKind, residentId: string, deviceId: string | undefined, reason: string, at: number): Promise<void>;
}
