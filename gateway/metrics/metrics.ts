// The gateway's Prometheus instruments, on a registry of their own, with every metric name kept in this one file.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric name the gateway exports; dashboards and alert rules depend on these, so they change only here. */
export const METRIC_NAMES = {
  alarmToFirstSms: 'alarm_to_first_sms_seconds',
  eventsIngested: 'events_ingested_total',
  eventsRejected: 'events_rejected_total',
  eventsDuplicate: 'events_duplicate_total',
  ingestBatchSize: 'ingest_batch_size',
  incidentsOpened: 'incidents_opened_total',
  incidentTransitions: 'incident_transitions_total',
  smsSent: 'sms_sent_total',
  smsSendFailures: 'sms_send_failures_total',
  smsSendDuration: 'sms_send_duration_seconds',
  escalationSteps: 'escalation_steps_total',
  mqttClientsConnected: 'mqtt_clients_connected',
  securityEvents: 'security_events_total',
  unassignedIncidents: 'unassigned_incidents',
  telemetryDropped: 'telemetry_points_dropped_total',
  smsInboundDuplicate: 'sms_inbound_duplicates_total',
  sqliteCommitDuration: 'sqlite_commit_seconds',
  storeCommitDuration: 'store_commit_duration_seconds',
  connectionsRefused: 'connections_refused_total',
  connectsRefused: 'mqtt_connects_refused_total',
  deviceMessagesDropped: 'device_messages_dropped_total',
  liveFeedNotices: 'live_feed_notices_total',
  deviceSecretCache: 'device_secret_cache_lookups_total',
} as const;

/**
 * Gauges read from device supervision at scrape time (gateway/supervision/health.ts registerSupervisionMetrics). Kept
 * apart from METRIC_NAMES, whose every name createMetrics registers by itself: these need the Supervision object.
 */
export const SUPERVISION_METRIC_NAMES = {
  careTasksOpen: 'care_tasks_open',
  outagesOpen: 'outages_open',
  outageOldestOpenSeconds: 'outage_oldest_open_seconds',
} as const;

/**
 * Gauges read from the PostgreSQL store's listening connection at scrape time (gateway/wiring/storage.ts); registered
 * only on PostgreSQL, so they are apart from METRIC_NAMES too.
 */
export const POSTGRES_METRIC_NAMES = {
  noticesListening: 'postgres_notices_listening',
  noticesReconnects: 'postgres_notices_reconnects',
} as const;

/** 1 ms to 10 s: the alarm path should sit in the low milliseconds, and anything near 10 s is an outage. */
export const ALARM_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const SMS_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A COMMIT blocks the event loop: 0.1 ms is the page cache, tens of ms a slow disk flush every alarm waits behind. */
const COMMIT_DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface GatewayMetrics {
  /** Serves GET /metrics; a fresh registry per gateway, so two gateways in one process (tests) never collide. */
  readonly registry: Registry;
  /** Seconds from the device's PUBLISH arriving to the first SMS request of its incident. */
  readonly alarmToFirstSms: Histogram;
  readonly eventsIngested: Counter<'type'>;
  readonly eventsRejected: Counter<'reason'>;
  /** Redeliveries absorbed: same (device, seq, payload) within the window, on the same connection or flagged DUP. */
  readonly eventsDuplicate: Counter;
  /** Events recorded per durable commit. */
  readonly ingestBatchSize: Histogram;
  readonly incidentsOpened: Counter<'type'>;
  /** Incident moves into a state (pending, open, acknowledged, resolved, cancelled). */
  readonly incidentTransitions: Counter<'state'>;
  /** Messages handed to a provider, by purpose and resulting status (accepted, outbox, failed...). */
  readonly smsSent: Counter<'purpose' | 'status'>;
  /** Failed send attempts, by provider error code (or a gateway code when there is none). */
  readonly smsSendFailures: Counter<'code'>;
  readonly smsSendDuration: Histogram;
  /** How long each SQLite COMMIT held the event loop, by durability. */
  readonly sqliteCommitDuration: Histogram<'durability'>;
  /** Every store COMMIT by engine: SQLite's time on the event loop, PostgreSQL's round trip including the server's WAL flush. */
  readonly storeCommitDuration: Histogram<'engine' | 'durability'>;
  readonly escalationSteps: Counter;
  readonly mqttClientsConnected: Gauge;
  readonly securityEvents: Counter<'kind'>;
  /** Active incidents nobody could be paged for. */
  readonly unassignedIncidents: Gauge;
  /** Telemetry points dropped because InfluxDB was away longer than the bounded buffer lasts. */
  readonly telemetryDropped: Counter;
  /** Sockets closed as they were accepted because their listener (http, mqtt) was at its connection cap. */
  readonly connectionsRefused: Counter<'listener'>;
  /**
   * MQTT CONNECTs answered with a refusal, by reason: bad_credentials (CONNACK 4), not_authorized (5), and the gateway's
   * own CONNACK 3: presence_unclaimed (cluster: Redis did not take the presence claim in time), internal_error (e.g. a
   * registry read past its bound), stopping.
   */
  readonly connectsRefused: Counter<'reason'>;
  /** Inbound SMS whose provider message id was seen before (a retry or a replay): answered, not acted on. */
  readonly smsInboundDuplicate: Counter<'provider'>;
  /** Device messages acknowledged but not written: over the device's rate or quota, or heartbeats below the disk reserve. */
  readonly deviceMessagesDropped: Counter<'reason'>;
  /** Live feed notices between nodes (PostgreSQL NOTIFY), by outcome: sent, failed, received, malformed. */
  readonly liveFeedNotices: Counter<'outcome'>;
  /** Cluster mode: look-ups of secrets verified on any node, by outcome (hit, miss, unavailable, error). */
  readonly deviceSecretCache: Counter<'outcome'>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag); on by default. */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const n = METRIC_NAMES;

  return {
    registry,
    alarmToFirstSms: new Histogram({
      name: n.alarmToFirstSms,
      help: 'Seconds from an alarm PUBLISH arriving to the first SMS request for its incident',
      buckets: ALARM_LATENCY_BUCKETS,
      registers,
    }),
    eventsIngested: new Counter({
      name: n.eventsIngested,
      help: 'Device events durably recorded, by type',
      labelNames: ['type'],
      registers,
    }),
    eventsRejected: new Counter({ name: n.eventsRejected, help: 'Device messages rejected, by reason', labelNames: ['reason'], registers }),
    eventsDuplicate: new Counter({ name: n.eventsDuplicate, help: 'Device events dropped as redeliveries', registers }),
    ingestBatchSize: new Histogram({
      name: n.ingestBatchSize,
      help: 'Events recorded per durable commit',
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    }),
    incidentsOpened: new Counter({ name: n.incidentsOpened, help: 'Incidents opened, by type', labelNames: ['type'], registers }),
    incidentTransitions: new Counter({
      name: n.incidentTransitions,
      help: 'Incident state changes, by the state entered',
      labelNames: ['state'],
      registers,
    }),
    smsSent: new Counter({
      name: n.smsSent,
      help: 'SMS handed to a provider, by purpose and status',
      labelNames: ['purpose', 'status'],
      registers,
    }),
    smsSendFailures: new Counter({
      name: n.smsSendFailures,
      help: 'Failed SMS send attempts, by error code',
      labelNames: ['code'],
      registers,
    }),
    smsSendDuration: new Histogram({
      name: n.smsSendDuration,
      help: 'Seconds one SMS send request to the provider took',
      buckets: SMS_DURATION_BUCKETS,
      registers,
    }),
    escalationSteps: new Counter({ name: n.escalationSteps, help: 'Escalation steps run', registers }),
    mqttClientsConnected: new Gauge({ name: n.mqttClientsConnected, help: 'MQTT clients currently connected', registers }),
    securityEvents: new Counter({ name: n.securityEvents, help: 'Security events, by kind', labelNames: ['kind'], registers }),
    unassignedIncidents: new Gauge({ name: n.unassignedIncidents, help: 'Active incidents nobody could be paged for', registers }),
    liveFeedNotices: new Counter({
      name: n.liveFeedNotices,
      help: 'Live feed notices between nodes, by outcome (sent, failed, received, malformed)',
      labelNames: ['outcome'],
      registers,
    }),
    deviceSecretCache: new Counter({
      name: n.deviceSecretCache,
      help: 'Device sign-ins checked against the secrets other nodes verified (hit, miss, unavailable, error)',
      labelNames: ['outcome'],
      registers,
    }),
    telemetryDropped: new Counter({
      name: n.telemetryDropped,
      help: 'Telemetry points dropped while InfluxDB was unreachable (oldest first)',
      registers,
    }),
    connectionsRefused: new Counter({
      name: n.connectionsRefused,
      help: 'Sockets refused at accept because the listener (http, mqtt) was at its connection cap',
      labelNames: ['listener'],
      registers,
    }),
    connectsRefused: new Counter({
      name: n.connectsRefused,
      help: 'MQTT CONNECTs refused, by reason (bad_credentials, not_authorized; server unavailable: presence_unclaimed, internal_error, stopping)',
      labelNames: ['reason'],
      registers,
    }),
    smsInboundDuplicate: new Counter({
      name: n.smsInboundDuplicate,
      help: 'Inbound SMS dropped because their provider message id was seen before, by provider',
      labelNames: ['provider'],
      registers,
    }),
    deviceMessagesDropped: new Counter({
      name: n.deviceMessagesDropped,
      help: 'Device messages acknowledged but not written, by reason (rate, quota: the device is over its limits; low_disk: heartbeats shed below the free-space reserve)',
      labelNames: ['reason'],
      registers,
    }),
    sqliteCommitDuration: new Histogram({
      name: n.sqliteCommitDuration,
      help: 'Seconds a SQLite COMMIT held the event loop, by its sync mode (full: synced to disk before returning; normal: not, or synced afterwards off the event loop)',
      labelNames: ['durability'],
      buckets: COMMIT_DURATION_BUCKETS,
      registers,
    }),
    storeCommitDuration: new Histogram({
      name: n.storeCommitDuration,
      help: 'Seconds a store COMMIT took, by engine (sqlite: time it held the event loop; postgresql: the COMMIT round trip, with the server WAL flush for full durability) and durability',
      labelNames: ['engine', 'durability'],
      buckets: COMMIT_DURATION_BUCKETS,
      registers,
    }),
  };
}
