// Repository interfaces (ports). The core depends only on these; sqlite/ is one implementation, and a PostgreSQL one can sit beside it.
import type {
  AuditChannel,
  AuditEntry,
  Community,
  Device,
  DeviceHealth,
  EscalationSettings,
  IncidentState,
  Incident,
  InboundSms,
  OutboundSms,
  Rejection,
  Resident,
  Responder,
  SecurityEvent,
  SmsProviderName,
  SmsStatus,
  Visit,
  Volunteer,
  Worker,
  EventType,
  DeviceKind,
} from '../core/types.js';
import type { VisitRepo } from '../visits/repo.js';
import type { WellnessRepo } from '../wellness/repo.js';
import type { AccountRepo } from '../accounts/repo.js';
import type { SupervisionRepo } from '../supervision/repo.js';
import type { RecentPagesRepo } from '../paging/reply-codes.js';
import type { TestPressRepo } from '../test-presses/types.js';
import type { BridgeLevelRepo, BridgeRepo } from '../bridges/repo.js';
import type { SessionStartRepo } from '../incidents/session-starts.js';
import type { Bridge } from '../core/bridges.js';
import type { VoiceCallRepo } from '../voice/repo.js';
import type { TemplateCatalogue } from '../notifiers/intent.js';
import type { ReportReads } from '../reports/read-model.js';

/** A normalised registry, ready to upsert (secrets already hashed). */
export interface RegistrySnapshot {
  escalation?: EscalationSettings;
  communities: Community[];
  residents: Resident[];
  workers: Worker[];
  devices: Device[];
  volunteers: Volunteer[];
  visits: Visit[];
  /** Registry `careDigest` (device supervision): local "HH:MM" times of the care-task digest SMS. */
  careDigest?: { times: string[] };
  /** Registry `supervision`: offlineAfterSeconds per device kind. */
  supervision?: { offlineAfterSeconds?: Partial<Record<DeviceKind, number>> };
  /** zigbee2mqtt, ChirpStack and vendor-cloud bridges (secrets for our broker already hashed). */
  bridges?: Bridge[];
  /** Registry `sms.templates`: the SMS template catalogue, kept whole (setting `sms_templates`). */
  smsTemplates?: TemplateCatalogue;
}

export interface RegistryCounts {
  communities: number;
  residents: number;
  workers: number;
  devices: number;
  volunteers: number;
  visits: number;
}

export interface RegistryRepo extends BridgeRepo {
  /** Upserts every entity by id in one transaction: all or nothing. */
  upsert(snapshot: RegistrySnapshot): Promise<RegistryCounts>;
  counts(): Promise<RegistryCounts>;
  escalationSettings(): Promise<EscalationSettings>;
  /** Small key/value facts about the registry (e.g. the digest of the last imported file). */
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  /**
   * Runs `work` while no other node sharing this store runs exclusively() under the same name (the start-up import:
   * read the digest, import, write the digest). One process on its own store runs it at once.
   */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<T>;
  getCommunity(id: string): Promise<Community | null>;
  listCommunities(): Promise<Community[]>;
  getResident(id: string): Promise<Resident | null>;
  /** Whether getResident(id) would answer from memory, without a database round trip; absent where every read is in-process. */
  residentCached?(id: string): boolean;
  listResidents(): Promise<Resident[]>;
  getWorker(id: string): Promise<Worker | null>;
  listWorkers(): Promise<Worker[]>;
  getDevice(id: string): Promise<Device | null>;
  listDevices(): Promise<Device[]>;
  listDevicesOfResident(residentId: string): Promise<Device[]>;
  listVolunteers(): Promise<Volunteer[]>;
  listVisits(): Promise<Visit[]>;
}

export interface NewEvent {
  deviceId: string;
  seq: number;
  type: EventType;
  payload: string;
  payloadHash: string;
  deviceTs: string | null;
  receivedAt: number;
  /** How it reached the gateway; without it (a bridge, a replay) the event is never taken for a redelivery. */
  delivery?: EventDelivery;
}

/** The MQTT delivery of an event: what tells a redelivery apart from a device reusing its seq. */
export interface EventDelivery {
  /** The device's connection (one CONNECT) it came on; unique across restarts. */
  session: string;
  /** The PUBLISH carried the DUP flag: the device says it may have sent this very packet before. */
  dup: boolean;
}

export interface StoredEvent extends NewEvent {
  id: number;
  processed: boolean;
}

/** A group of events at its COMMIT. */
export interface RecordedBatch {
  /**
   * Per input, the new row id, or null when it is a redelivery: the same (device, seq, payload) recorded since the
   * window's start, and either sent again on the same connection or flagged DUP. A reused seq on a new connection
   * without DUP (a device that rebooted and restarted its counter) is a new event.
   */
  ids: (number | null)[];
  /**
   * Settles when the commit is on disk (safe from a power loss); rejects when syncing failed. The rows are already
   * visible and safe from a process crash when recordBatch resolves, so the events can be acted on at once.
   */
  durable: Promise<void>;
}

export interface EventRepo {
  /** Records a group of events in one durable commit; resolves at the COMMIT, with the sync still under way (RecordedBatch). */
  recordBatch(events: NewEvent[], dedupeSinceMs: number): Promise<RecordedBatch>;
  markProcessed(eventId: number): Promise<void>;
  /** Marks a processor batch's events acted on with one statement (inside the caller's transaction). */
  markProcessedMany(eventIds: readonly number[]): Promise<void>;
  /**
   * Events recorded (and so acknowledged) but not yet acted on, e.g. after a crash; oldest first. `receivedBefore`
   * keeps those received before that time, `limit` the oldest so many.
   */
  listUnprocessed(opts?: { receivedBefore?: number; limit?: number }): Promise<StoredEvent[]>;
  /**
   * Inside the caller's transaction, before acting on `eventIds`: answers those already acted on, and (PostgreSQL)
   * those another node's open transaction is acting on right now, which the caller must skip. The rest stay
   * row-locked until the caller's transaction ends, so no other node acts on them meanwhile. Unrecorded ids are
   * not answered.
   */
  alreadyTaken(eventIds: readonly number[]): Promise<number[]>;
  get(eventId: number): Promise<StoredEvent | null>;
}

export interface DeviceHealthRepo {
  get(deviceId: string): Promise<DeviceHealth | null>;
  list(): Promise<DeviceHealth[]>;
  /** Writes a batch of health records (the ingest keeps them in memory and flushes them). */
  save(records: DeviceHealth[]): Promise<void>;
  recordRejection(rejection: Rejection): Promise<void>;
}

export interface SecurityEventRepo {
  record(event: SecurityEvent): Promise<void>;
  list(limit: number): Promise<SecurityEvent[]>;
}

export interface IncidentFilter {
  state?: IncidentState;
  residentId?: string;
  communityId?: string;
  limit?: number;
}

export interface IncidentRepo {
  create(incident: Incident): Promise<void>;
  update(incident: Incident): Promise<void>;
  get(id: string): Promise<Incident | null>;
  getByCode(code: string): Promise<Incident | null>;
  /** The resident's incident in pending, open or acknowledged state, if any. */
  findActiveForResident(residentId: string): Promise<Incident | null>;
  list(filter: IncidentFilter): Promise<Incident[]>;
  listActive(): Promise<Incident[]>;
  /** How many active incidents, tests aside, found no responder to page (/healthz asks every few seconds: a count, no rows). */
  countUnassigned(): Promise<number>;
  linkSignal(incidentId: string, eventId: number): Promise<void>;
  /** Sets the on-site time once ("已到达"); false when unknown or already set. */
  markOnSite(id: string, at: number, by: Responder): Promise<boolean>;
  appendAudit(entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry>;
  /** Several entries at once (one statement on PostgreSQL), their ids in the order given, as appendAudit in turn would. */
  appendAudits(entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]>;
  /**
   * update, then appendAudits (one statement on PostgreSQL). Inside a transaction on PostgreSQL it is sent and not
   * waited for: the entries (their ids) come with the transaction's next answer, so a caller that needs them only after
   * the commit keeps the promise and reads it then, and the write costs no round trip of its own. The promise rejects
   * if the transaction fails.
   */
  updateWithAudits(incident: Incident, entries: Omit<AuditEntry, 'id'>[]): Promise<AuditEntry[]>;
  listAudit(incidentId: string): Promise<AuditEntry[]>;
}

export interface SmsStatusUpdate {
  status: SmsStatus;
  /** The provider that took the message, when a fallback did. */
  provider?: SmsProviderName;
  providerSid?: string | null;
  attempts?: number;
  errorCode?: string | null;
  error?: string | null;
  sentAt?: number | null;
  at: number;
}

export interface SmsRepo {
  insert(message: OutboundSms): Promise<void>;
  update(id: string, update: SmsStatusUpdate): Promise<OutboundSms | null>;
  get(id: string): Promise<OutboundSms | null>;
  getBySid(providerSid: string): Promise<OutboundSms | null>;
  /** Messages of one incident, oldest first. */
  listForIncident(incidentId: string): Promise<OutboundSms[]>;
  /** Messages not yet handed to the provider (queued or sending), e.g. after a crash. */
  listUnsent(): Promise<OutboundSms[]>;
  /** The latest message to this phone that carries a reply context. */
  latestWithContextTo(phone: string): Promise<OutboundSms | null>;
  list(limit: number): Promise<OutboundSms[]>;
  recordInbound(sms: InboundSms, handledAs: string, incidentId: string | null): Promise<void>;
  /** Records a provider's message id the first time it is seen: false for a redelivery or a replay. */
  claimInbound(provider: string, messageId: string, at: number): Promise<boolean>;
  /** Forgets a claimed id whose handling failed, so the provider's retry is taken. */
  releaseInbound(provider: string, messageId: string): Promise<void>;
  recentPagesTo: RecentPagesRepo['recentPagesTo'];
  recentReplyCodesTo: RecentPagesRepo['recentReplyCodesTo'];
  /** The phone answered the incident (1 or 2): pages sent to it before `at` take no further reply. */
  markAnswered(phone: string, incidentId: string, at: number): Promise<void>;
  /** Messages a provider took (accepted or sent) since `since` with no receipt yet, oldest first: what a receipt poll asks about. */
  listAwaitingReceipt(provider: string, since: number, limit: number): Promise<OutboundSms[]>;
}

/** `voice_call`: the call to a worker whose SMS page is still unanswered (gateway/voice). */
export type TimerKind = 'fall_cancel_window' | 'escalation_step' | 'voice_call' | 'family_page';

export interface DurableTimer {
  /** Idempotency key, e.g. `inc-…:step:3`: a step with this key runs at most once. */
  key: string;
  kind: TimerKind;
  incidentId: string;
  dueAt: number;
  payload: Record<string, unknown>;
}

export interface TimerRepo {
  /** Schedules a timer; a key that already exists is left as it is. */
  schedule(timer: DurableTimer): Promise<void>;
  /** Several timers at once (one statement on PostgreSQL), as schedule of each in turn would. */
  scheduleAll(timers: DurableTimer[]): Promise<void>;
  /** Marks the timer fired; true only for the one caller that moved it from pending. */
  claim(key: string, at: number): Promise<boolean>;
  /**
   * Like claim, for a timer that fell due: one that another transaction is claiming right now (another node firing it)
   * is skipped at once, false, instead of waited for. If that transaction rolls back, the timer is pending again.
   */
  claimDue(key: string, at: number): Promise<boolean>;
  cancelForIncident(incidentId: string, at: number): Promise<number>;
  listPending(): Promise<DurableTimer[]>;
  /** Pending timers due at or before `before`, soonest first, at most `limit`: what a node arms from the shared table. */
  listDue(before: number, limit: number): Promise<DurableTimer[]>;
}

export interface AuditWriter {
  audit(incidentId: string, action: string, actor: string, channel: AuditChannel, detail?: Record<string, unknown>): Promise<AuditEntry>;
}

/**
 * How durable a transaction's COMMIT is. `full` (the default) syncs to disk: it survives power loss.
 * `normal` leaves the write to the OS: it survives a crash of the process, and becomes durable against
 * power loss with the next `full` commit. Only for work that can be rebuilt from `full` rows after a
 * power loss (e.g. acting on a recorded event, which stays unprocessed until that work is committed).
 */
export type Durability = 'full' | 'normal';

export interface TransactionOptions {
  durability?: Durability;
}

/** All repositories of one database, and its transaction boundary. */
export interface Store {
  readonly registry: RegistryRepo;
  readonly events: EventRepo;
  readonly health: DeviceHealthRepo;
  readonly security: SecurityEventRepo;
  readonly incidents: IncidentRepo;
  readonly sms: SmsRepo;
  readonly timers: TimerRepo;
  /** Volunteer visits: plan state, occurrence records, service-hours ledger, job runs. */
  readonly visits: VisitRepo;
  /** The inactivity monitor's counts per resident (gateway/wellness). */
  readonly wellness: WellnessRepo;
  /** Dashboard users, sessions, one-time codes and the account audit log. */
  readonly accounts: AccountRepo;
  /** Device supervision: care tasks, grouped outages, digest runs. */
  readonly supervision: SupervisionRepo;
  /** Test windows and the presses taken as tests (weekly button checks). */
  readonly testPresses: TestPressRepo;
  /** The last level of bridged devices' state-style fields (occupancy, sos...), for edge detection across restarts. */
  readonly bridgeLevels: BridgeLevelRepo;
  /** When each device's last MQTT session started, so a reconnecting device is re-told only an end it may have missed. */
  readonly sessionStarts: SessionStartRepo;
  /** Voice calls to responders, their outcomes, and per-number call counts for the providers' caps. */
  readonly voice: VoiceCallRepo;
  /** Read models of the monthly report and the SMS log (read-only queries across tables). */
  readonly reports: ReportReads;
  /** Runs `work` atomically; repository calls made inside it join the transaction. Nested calls join too. */
  transaction<T>(work: () => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs `fn` once the calling transaction has committed (never if it rolls back); outside one, at once. */
  afterCommit(fn: () => void): void;
  /** True while the database answers (for /healthz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
