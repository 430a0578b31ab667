// The gateway assembled: storage, registry, broker, ingest, incidents, escalation, notifiers and HTTP, started and stopped in order.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config/schema.js';
import { systemClock, type Clock } from './core/clock.js';
import { EventBus } from './core/events.js';
import { createLogger, type Logger } from './core/logger.js';
import { DeviceBroker } from './broker/broker.js';
import { DEFAULT_CONNECTION_DROP } from './broker/connection-watch.js';
import { Ingest } from './ingest/ingest.js';
import type { DropReason, IngestEvents } from './ingest/events.js';
import { DurableTimers } from './escalation/timers.js';
import { EscalationEngine } from './escalation/engine.js';
import { Pager } from './paging/pager.js';
import { IncidentService, type IncidentEvents } from './incidents/service.js';
import { SignalProcessor } from './incidents/processor.js';
import { ReplyRouter } from './incidents/replies.js';
import { DEFAULT_REPLY_WINDOW_MS, ReplyCodeBook } from './paging/reply-codes.js';
import { IncidentViews } from './incidents/views.js';
import { IncidentNotes } from './incidents/notes.js';
import { PageDelivery } from './incidents/page-delivery.js';
import { receiptPollers } from './notifiers/receipt-pollers.js';
import type { ReceiptPoller } from './notifiers/receipt-poller.js';
import { DIVERTED_CODE, SmsDispatcher, type NotifierEvents } from './notifiers/dispatcher.js';
import type { SmsProvider } from './notifiers/provider.js';
import { DEFAULT_CAP_SETTINGS, SendCaps } from './notifiers/caps.js';
import type { TemplateCatalogue } from './notifiers/intent.js';
import { buildSmsProviders, capRules, carriesLinks, catalogueInForce, parseStoredCatalogue, smsHealthComponent, type SmsSettings } from './notifiers/setup.js';
import { PageLinkCodeBook } from './paging/link-codes.js';
import { createMetrics, type GatewayMetrics } from './metrics/metrics.js';
import { buildApp } from './http/app.js';
import { closeGracefully, listen } from './http/server.js';
import { connectionCaps, readSoftFdLimit, type ConnectionCaps } from './config/connection-budget.js';
import { tileOrigin } from './http/routes/dashboard.js';
import { volunteerLink } from './http/routes/visit-link.js';
import { LinkSigner, loadOrCreateLinkSecret } from './http/links.js';
import type { ComponentHealth, HealthReport } from './core/health.js';
import type { OutboundSms } from './core/types.js';
import { openSqliteStore, databaseFile, type SqliteStore } from './storage/sqlite/store.js';
import { loadRegistry, type RegistryLoadResult } from './registry/startup.js';
import { TelemetryWriter } from './telemetry/writer.js';
import { VisitService } from './visits/service.js';
import { LiveFeed } from './live/feed.js';
import { MapData } from './live/map-data.js';
import { createDashboardPageDeps } from './wiring/dashboard-pages.js';
import { AccountService } from './accounts/service.js';
import { Supervision } from './supervision/service.js';
import type { SupervisionEvents } from './supervision/events.js';
import { registerSupervisionMetrics, supervisionHealthComponent } from './supervision/health.js';
import { InactivityMonitor } from './wellness/monitor.js';
import { inactivityAlarm } from './wellness/alarm.js';
import { RecordingGuard, withRecording } from './ingest/recording-guard.js';
import { RetentionJob } from './retention/retention.js';
import { SqliteRetentionRepo } from './storage/sqlite/retention-repo.js';
import { TestPresses } from './test-presses/feature.js';
import { BridgeSink } from './bridges/sink.js';
import { VendorPush } from './bridges/vendor-push/service.js';
import { ChirpstackBridges } from './bridges/chirpstack/service.js';
import { DemoChirpstackBroker } from './bridges/chirpstack/demo-stand-in.js';
import { BridgeCommands } from './bridges/commands.js';
import { Zigbee2mqttAdapter } from './bridges/zigbee2mqtt/adapter.js';
import { Zigbee2mqttOnOurBroker } from './bridges/zigbee2mqtt/on-our-broker.js';
import { VoiceCalls } from './voice/calls.js';
import { createVoiceProvider } from './voice/providers.js';
import { ExternalZigbee2mqtt } from './bridges/zigbee2mqtt/external.js';

/** Shown in the dashboard's footer and /api/ui-config; package.json's version. */
const GATEWAY_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export type GatewayEvents = IngestEvents & NotifierEvents & IncidentEvents & SupervisionEvents;

export interface GatewayOptions {
  config: GatewayConfig;
  clock?: Clock;
  log?: Logger;
  /** How often the live feed sends a heartbeat to idle dashboards (default 15 s; tests shorten it). */
  liveHeartbeatMs?: number;
}

export interface StartedGateway {
  mqttPort: number;
  /** MQTT over TLS; null when no MQTT_TLS_* certificate is configured. */
  mqttsPort: number | null;
  httpPort: number;
  registry: RegistryLoadResult;
}

export class Gateway {
  readonly bus: EventBus<GatewayEvents>;
  readonly metrics: GatewayMetrics;
  readonly store: SqliteStore;
  readonly ingest: Ingest;
  /** Where zigbee2mqtt, ChirpStack and vendor-cloud bridges hand their devices' messages to the ingest. */
  readonly bridgeSink: BridgeSink;
  /** ChirpStack (LoRaWAN) bridges: a client per bridge on ChirpStack's broker, and downlinks for their devices. */
  readonly chirpstack: ChirpstackBridges;
  private demoChirpstack: DemoChirpstackBroker | null = null;
  /** zigbee2mqtt payloads to our events (edges, availability, coordinator outages), whichever broker they come over. */
  readonly zigbee2mqtt: Zigbee2mqttAdapter;
  /** zigbee2mqtt bridges on their own broker: the gateway subscribes to each. */
  readonly zigbee2mqttExternal: ExternalZigbee2mqtt;
  /** Whether events can be committed (else /healthz is 503), and the free-space reserve kept for alarms. */
  readonly recording: RecordingGuard;
  /** Prunes raw device events and rejections past EVENT_RETENTION_DAYS, once a day. */
  readonly retention: RetentionJob;
  readonly broker: DeviceBroker;
  readonly dispatcher: SmsDispatcher;
  readonly timers: DurableTimers;
  readonly incidents: IncidentService;
  readonly processor: SignalProcessor;
  readonly replies: ReplyRouter;
  /** Aliyun/Tencent receipts (and Tencent replies) pulled when they cannot be pushed; empty otherwise. */
  private readonly receiptPollers: ReceiptPoller[];
  readonly views: IncidentViews;
  readonly provider: SmsProvider;
  /** SMS_FALLBACK_PROVIDER: takes a page at once when the first provider fails it; null without one. */
  readonly fallbackProvider: SmsProvider | null;
  /** The SMS template catalogue in force (the registry's `sms.templates`, else the built-in one), set at start. */
  private catalogue: TemplateCatalogue | null = null;
  /** The short codes SMS carry for the incident page (the fixed link `PUBLIC_URL/i`). */
  readonly linkCodes: PageLinkCodeBook;
  /** Which of an incident's SMS keep trying through a provider outage, and delayed pages on the timeline. */
  readonly pageDelivery: PageDelivery;
  readonly telemetry: TelemetryWriter;
  readonly visits: VisitService;
  /** Server-sent events for the dashboard (incidents, pages, devices, tasks, outages), scoped per caller. */
  readonly live: LiveFeed;
  /** Communities, buildings and residents with their state, for the dashboard map and the incident page's map. */
  readonly map: MapData;
  /** Dashboard users, sessions, sign-in codes and the first-admin setup link. */
  readonly accounts: AccountService;
  /** Device health: offline timeout, care tasks and their digest, storm (outage) grouping. */
  readonly supervision: Supervision;
  /** Wellness checks: no sign of life for a resident's inactivityHours of waking time. */
  readonly inactivity: InactivityMonitor;
  /** Signs the incident-page links in pages and checks them on the page (secret in DATA_DIR/link-secret). */
  readonly links: LinkSigner;
  /** Weekly button checks: test windows per device or building, and the list of buttons not tested for a week. */
  readonly testPresses: TestPresses;
  /** Vendor-cloud HTTP pushes (OneNET, HMAC-signed) for `http` bridges, recorded through the bridge sink. */
  readonly vendorPush: VendorPush;
  /** The call step of escalation (VOICE_PROVIDER); null when calls are off. */
  readonly voice: VoiceCalls | null;
  private http: FastifyInstance | null = null;
  /** HTTP and MQTT socket caps, each well inside the open-file limit. */
  readonly connectionCaps: ConnectionCaps;
  /** Arrival time of each resident's latest alarm signal, until the first SMS request of its incident goes out. */
  private readonly firstPageClock = new Map<string, number>();

  /** SMS_PROVIDER and the rest, or for a config built by hand, Twilio when configured else the outbox. */
  private get smsSettings(): SmsSettings {
    return this.config.sms ?? { provider: this.config.twilio ? 'twilio' : 'outbox', fallback: null, caps: DEFAULT_CAP_SETTINGS, tencentMaxParam: 12 };
  }

  /** The HTTP app (API, webhooks, incident pages, dashboard) once started; null before start(). */
  get httpApp(): FastifyInstance | null {
    return this.http;
  }

  constructor(
    readonly config: GatewayConfig,
    readonly clock: Clock,
    readonly log: Logger,
    options: Pick<GatewayOptions, 'liveHeartbeatMs'> = {},
  ) {
    this.bus = new EventBus<GatewayEvents>(log);
    this.metrics = createMetrics();
    this.store = openSqliteStore(databaseFile(config.dataDir), {
      onStorageProblem: (err) => log.error({ err, part: 'storage' }, 'database disk problem'),
    });
    this.store.database.observeCommits((c) => this.metrics.sqliteCommitDuration.observe({ durability: c.durability }, c.ms / 1000));
    const storage = config.storage;
    const probe = (): Promise<void> => this.store.registry.setSetting('storage.write_probe', String(clock.now()));
    this.recording = new RecordingGuard({ dataDir: config.dataDir, reserveBytes: storage.reserveBytes, probe, clock, log: log.child({ part: 'storage' }) });
    const onDropped = (reason: DropReason): void => this.metrics.deviceMessagesDropped.inc({ reason });
    this.ingest = new Ingest({
      store: this.store,
      bus: this.bus,
      clock,
      log: log.child({ part: 'ingest' }),
      dedupeWindowMs: config.mqtt.redeliveryWindowMs,
      guard: this.recording,
      limits: storage.deviceLimits,
      onDropped,
    });
    this.bridgeSink = new BridgeSink({ ingest: this.ingest, registry: this.store.registry, store: this.store, bus: this.bus, clock, log: log.child({ part: 'bridges' }) });
    this.chirpstack = new ChirpstackBridges({
      registry: this.store.registry,
      sink: {
        device: (bridgeId, externalId, source, payload) => this.bridgeSink.device(bridgeId, externalId, source, payload),
        accept: (device, msg) => this.bridgeSink.accept(device, msg),
        rejectBridged: (rejection, alive) => this.ingest.rejectBridged(rejection, alive),
      },
      supervision: {
        bridgeLost: (bridgeId, deviceIds, at) => this.supervision.bridgeLost(bridgeId, deviceIds, at),
        devicesLost: (devices, at) => {
          const heard = devices.filter((d) => this.ingest.healthOf(d.id)?.state !== 'offline');
          this.bridgeSink.lost(heard, at);
          return heard;
        },
        devicesBack: (devices, at) => {
          for (const d of devices) this.ingest.markState(d.id, 'online', at);
        },
      },
      clock,
      log: log.child({ part: 'chirpstack' }),
    });
    this.zigbee2mqtt = new Zigbee2mqttAdapter({
      sink: this.bridgeSink,
      registry: this.store.registry,
      levels: this.store.bridgeLevels,
      outages: { bridgeLost: (bridgeId, deviceIds, at) => this.supervision.bridgeLost(bridgeId, deviceIds, at) },
      clock,
      log: log.child({ part: 'zigbee2mqtt' }),
    });
    this.zigbee2mqttExternal = new ExternalZigbee2mqtt({ registry: this.store.registry, adapter: this.zigbee2mqtt, clock, log: log.child({ part: 'zigbee2mqtt' }) });
    this.retention = new RetentionJob({ repo: new SqliteRetentionRepo(this.store.database), clock, log: log.child({ part: 'retention' }), retentionDays: storage.retentionDays });
    this.connectionCaps = connectionCaps({ http: config.http.maxConnections, mqtt: config.mqtt.maxConnections }, readSoftFdLimit());
    this.broker = new DeviceBroker({
      store: this.store,
      ingest: this.ingest,
      bus: this.bus,
      clock,
      log: log.child({ part: 'broker' }),
      ...(config.deviceDrop ? { connectionDrop: { ...DEFAULT_CONNECTION_DROP, ...config.deviceDrop } } : {}),
      maxConnections: this.connectionCaps.mqtt,
      onConnectionRefused: () => this.metrics.connectionsRefused.inc({ listener: 'mqtt' }),
      bridges: new Zigbee2mqttOnOurBroker({ registry: this.store.registry, adapter: this.zigbee2mqtt, log: log.child({ part: 'zigbee2mqtt' }) }),
    });
    // ---- SMS providers, caps and catalogue (gateway/notifiers/setup.ts) ----
    const smsSettings = this.smsSettings;
    const providers = buildSmsProviders(smsSettings, {
      log,
      twilio: config.twilio,
      aliyun: config.aliyunSms ?? null,
      tencent: config.tencentSms ?? null,
      catalogue: () => this.catalogue ?? {},
    });
    this.provider = providers.primary;
    this.fallbackProvider = providers.fallback;
    this.linkCodes = new PageLinkCodeBook({ repo: this.store.linkCodes, clock });
    this.pageDelivery = new PageDelivery({ incidents: this.store.incidents, bus: this.bus, clock });
    this.dispatcher = new SmsDispatcher({
      store: this.store,
      provider: this.provider,
      fallback: this.fallbackProvider,
      caps: new SendCaps({ repo: this.store.smsCaps, clock, rules: capRules(smsSettings.caps) }),
      catalogue: () => this.catalogue ?? {},
      clock,
      log: log.child({ part: 'sms' }),
      bus: this.bus,
      publicUrl: config.publicUrl,
      keepTrying: (msg) => this.pageDelivery.keepTrying(msg),
      // A page every SMS provider caps for this number is given to a call instead, when calls are on.
      divert: (msg, reason) => this.voice?.callInstead(msg, reason) ?? Promise.resolve(false),
      onSent: (msg, latencyMs) => {
        this.metrics.smsSent.inc({ purpose: msg.purpose, status: msg.status });
        this.metrics.smsSendDuration.observe(latencyMs / 1000);
        this.observeFirstPage(msg, performance.now() - latencyMs);
      },
      onFailed: (msg) => this.metrics.smsSendFailures.inc({ code: msg.errorCode ?? 'unknown' }),
    });
    this.timers = new DurableTimers({ store: this.store, clock, log: log.child({ part: 'timers' }) });
    const linkSecret = loadOrCreateLinkSecret(config.dataDir);
    this.links = new LinkSigner(linkSecret);
    const replyWindowMs = config.smsReplyWindowMs ?? DEFAULT_REPLY_WINDOW_MS;
    const replyCodes = new ReplyCodeBook({ sms: this.store.sms, clock, windowMs: replyWindowMs });
    const pager = new Pager({ sms: this.dispatcher, timeZone: config.timeZone, publicUrl: config.publicUrl, links: this.linkCodes, clock, replyCodes, pages: this.store.sms });
    const engine = new EscalationEngine({
      store: this.store,
      timers: this.timers,
      pager,
      clock,
      log: log.child({ part: 'escalation' }),
      timeZone: config.timeZone,
      onStep: () => this.metrics.escalationSteps.inc(),
      ...(config.voice ? { voiceAfterSeconds: config.voice.afterSeconds } : {}),
    });
    this.incidents = new IncidentService({
      store: this.store,
      bus: this.bus,
      clock,
      log: log.child({ part: 'incidents' }),
      timeZone: config.timeZone,
      timers: this.timers,
      engine,
      pager,
      commands: new BridgeCommands({
        registry: this.store.registry,
        direct: this.broker,
        bridged: { chirpstack: (device, command) => this.chirpstack.sendCommand(device, command) },
        log: log.child({ part: 'commands' }),
      }),
    });
    // Voice calls: a worker whose SMS page is unanswered VOICE_AFTER_SECONDS later is called.
    this.voice = config.voice
      ? new VoiceCalls({
          store: this.store,
          provider: createVoiceProvider(config.voice, config.twilio, config.publicUrl, log.child({ part: 'voice' })),
          incidents: this.incidents,
          bus: this.bus,
          clock,
          log: log.child({ part: 'voice' }),
          timeZone: config.timeZone,
          webhookKey: config.voice.webhookKey,
          timers: this.timers,
        })
      : null;
    this.processor = new SignalProcessor({ store: this.store, service: this.incidents, clock, log: log.child({ part: 'signals' }) });
    this.replies = new ReplyRouter({
      store: this.store,
      incidents: this.incidents,
      pager,
      clock,
      replyWindowMs,
      log: log.child({ part: 'replies' }),
      onDuplicate: (provider) => this.metrics.smsInboundDuplicate.inc({ provider }),
    });
    this.receiptPollers = receiptPollers({
      providers: [this.provider, this.fallbackProvider],
      setting: config.smsReceipts ?? 'auto',
      webhookKey: config.webhookKey ?? null,
      publicUrl: config.publicUrl,
      store: this.store.sms,
      receipts: this.dispatcher,
      replies: this.replies,
      clock,
      log: log.child({ part: 'sms' }),
    });
    this.views = new IncidentViews({ store: this.store, service: this.incidents });
    this.live = new LiveFeed({
      bus: this.bus,
      views: this.views,
      incidents: this.store.incidents,
      registry: this.store.registry,
      log: log.child({ part: 'live' }),
      ...(options.liveHeartbeatMs ? { heartbeatMs: options.liveHeartbeatMs } : {}),
    });
    this.map = new MapData({ registry: this.store.registry, incidents: this.store.incidents, health: (id) => this.ingest.healthOf(id) });
    this.visits = new VisitService({
      store: this.store,
      clock,
      log: log.child({ part: 'visits' }),
      timeZone: config.timeZone,
      sms: this.dispatcher,
      replies: this.replies,
      onCheckIn: (residentId, at) => this.inactivity.onCheckIn(residentId, at),
      // A template provider cannot carry the signed link: the reminder then goes without it (she signs in by SMS code).
      ...(carriesLinks(providers) ? { volunteerLink: (volunteerId: string, expiresAt: number) => volunteerLink(this.links, config.publicUrl, volunteerId, expiresAt) } : {}),
      onDoorUnanswered: async (residentId, volunteerId) => {
        const volunteer = (await this.store.registry.listVolunteers()).find((v) => v.id === volunteerId);
        await this.incidents.raiseForResident(
          residentId,
          'door_unanswered',
          { role: 'staff', id: volunteerId, name: volunteer?.name ?? volunteerId, phone: volunteer?.phone ?? null },
          'sms',
          { volunteer: volunteerId },
        );
      },
    });
    this.replies.setFallback('visit', async (phone) => (await this.store.registry.listVolunteers()).some((v) => v.phone === phone));
    this.accounts = new AccountService({
      store: this.store,
      sms: this.dispatcher,
      // Kept in DATA_DIR beside the database, not in it: a copy of the database alone cannot test guesses at a code.
      otpKey: createHmac('sha256', linkSecret).update('sign-in codes').digest(),
      clock,
      log: log.child({ part: 'accounts' }),
      publicUrl: config.publicUrl,
      admin: config.admin ?? null,
    });
    this.supervision = new Supervision({
      store: this.store,
      bus: this.bus,
      clock,
      log: log.child({ part: 'supervision' }),
      timeZone: config.timeZone,
      sms: this.dispatcher,
      health: this.ingest,
    });
    registerSupervisionMetrics(this.metrics.registry, this.supervision);
    const notes = new IncidentNotes({ store: this.store, bus: this.bus, clock });
    this.inactivity = new InactivityMonitor({
      store: this.store,
      bus: this.bus,
      clock,
      log: log.child({ part: 'inactivity' }),
      timeZone: config.timeZone,
      tasks: this.supervision.tasks,
      raise: inactivityAlarm(this.incidents),
      afterPage: (residentId, at, source) => notes.signOfLife(residentId, at, source),
    });
    this.vendorPush = new VendorPush({ bridges: this.store.registry, sink: this.bridgeSink, store: this.store, bus: this.bus, clock, log: log.child({ part: 'vendor-push' }) });
    // Test presses: a press inside a test window pages the worker as a test (the incident service decides), and the
    // window's end closes its tests.
    this.testPresses = new TestPresses({
      repo: this.store.testPresses,
      registry: this.store.registry,
      tasks: this.supervision.tasks,
      bus: this.bus,
      clock,
      log: log.child({ part: 'test-presses' }),
      timeZone: config.timeZone,
      endTests: (windowId, reason) => this.incidents.endTests(windowId, reason),
    });
    this.telemetry = new TelemetryWriter({
      config: config.influx,
      store: this.store,
      bus: this.bus,
      log: log.child({ part: 'telemetry' }),
      clock,
      onDropped: (n) => this.metrics.telemetryDropped.inc(n),
    });
  }

  static create(opts: GatewayOptions): Gateway {
    const log = opts.log ?? createLogger({ level: opts.config.logLevel });
    return new Gateway(opts.config, opts.clock ?? systemClock, log, opts);
  }

  async start(): Promise<StartedGateway> {
    const registry = await loadRegistry({ store: this.store, log: this.log, config: this.config });
    this.catalogue = catalogueInForce(parseStoredCatalogue(await this.store.registry.getSetting('sms_templates')), this.smsSettings, this.config.publicUrl);
    this.wireEvents();
    await this.accounts.start();
    this.timers.setHandler((timer) => (timer.kind === 'voice_call' && this.voice ? this.voice.onTimer(timer) : this.incidents.onTimer(timer)));
    this.voice?.start();
    await this.recording.start();
    await this.ingest.start();
    await this.zigbee2mqtt.start();
    await this.dispatcher.start();
    for (const poller of this.receiptPollers) poller.start();
    await this.timers.start();
    await this.voice?.resume();
    await this.processor.start();
    await this.visits.start();
    await this.supervision.start();
    await this.inactivity.start();
    await this.testPresses.start();
    // Never waits for InfluxDB: an unreachable server is reported as down and retried in the background.
    await this.telemetry.start();
    this.live.start();
    this.retention.start();
    const { port: mqttPort, mqttsPort } = await this.broker.start({ ...this.config.mqtt, tls: this.config.mqtts ?? null });
    // The generated demo's ChirpStack bridge gets an in-process stand-in for ChirpStack's broker; a registry file never does.
    this.demoChirpstack = await DemoChirpstackBroker.startFor({ source: registry.source, bridges: await this.store.registry.listBridges(), log: this.log.child({ part: 'demo-chirpstack' }) });
    // Never waits for ChirpStack's broker: an unreachable one is reported in /healthz and retried.
    await this.chirpstack.start();
    await this.zigbee2mqttExternal.start();
    this.http = await buildApp({
      log: this.log.child({ part: 'http' }),
      publicUrl: this.config.publicUrl,
      tls: this.config.httpTls ?? null,
      trustProxy: this.config.trustProxy ?? [],
      apiToken: this.config.apiToken,
      twilioAuthToken: this.config.twilio?.authToken ?? null,
      webhookKey: this.config.webhookKey ?? null,
      incidents: this.views,
      inbound: this.replies,
      smsStatus: this.dispatcher,
      devices: {
        listDevices: () => this.store.registry.listDevices(),
        getDevice: (id) => this.store.registry.getDevice(id),
        health: (id) => this.ingest.healthOf(id),
        getResident: (id) => this.store.registry.getResident(id),
      },
      health: () => this.health(),
      metrics: this.metrics.registry,
      smsLog: (limit) => this.store.sms.list(limit),
      visits: this.visits,
      supervision: this.supervision,
      testMode: this.testPresses,
      vendorPush: this.vendorPush,
      accounts: this.accounts,
      dashboardPages: createDashboardPageDeps({
        store: this.store,
        clock: this.clock,
        timeZone: this.config.timeZone,
        log: this.log.child({ part: 'dashboard' }),
        deviceHealth: (id) => this.ingest.healthOf(id),
        smsProvider: () => this.dispatcher.health().provider,
        visits: this.visits,
        onRegistryImported: () => this.registryChanged(),
      }),
      incidentPage: {
        links: this.links,
        clock: this.clock,
        timeZone: this.config.timeZone,
        map: this.map,
        linkCodes: {
          signedLinkFor: async (typed) => {
            const grant = await this.linkCodes.redeem(typed);
            return grant ? { incidentCode: grant.incidentCode, query: this.links.sign(grant.incidentCode, grant.personId, grant.role, grant.expiresAt) } : null;
          },
        },
      },
      live: this.live,
      map: this.map,
      ui: {
        timeZone: this.config.timeZone,
        mapTileUrl: this.config.mapTileUrl,
        smsMode: this.config.twilio ? 'twilio' : 'outbox',
        version: GATEWAY_VERSION,
      },
      dashboard: { tileOrigin: tileOrigin(this.config.mapTileUrl) },
      requestTimeoutMs: this.config.http.requestTimeoutMs,
      ...(this.voice ? { voice: this.voice } : {}),
    });
    const caps = this.connectionCaps;
    const capsLine = { httpMaxConnections: caps.http, mqttMaxConnections: caps.mqtt, openFileLimit: caps.softLimit, limitKnown: caps.limitKnown };
    if (caps.overcommitted) this.log.warn(capsLine, 'connection caps leave too few file descriptors free: a flood on one listener can starve the other');
    else this.log.info(capsLine, 'connection caps');
    const httpPort = await listen(this.http, {
      port: this.config.http.port,
      host: this.config.http.host,
      maxConnections: caps.http,
      onRefused: () => this.metrics.connectionsRefused.inc({ listener: 'http' }),
    });
    return { mqttPort, mqttsPort, httpPort, registry };
  }

  async stop(): Promise<void> {
    if (this.http) {
      const forced = await closeGracefully(this.http, this.config.shutdownGraceMs);
      if (forced > 0) this.log.warn({ connections: forced, graceMs: this.config.shutdownGraceMs }, 'HTTP connections still open after the shutdown grace period were closed');
    }
    this.live.stop();
    this.voice?.stop();
    await this.accounts.stop();
    await this.broker.stop();
    await this.chirpstack.stop();
    await this.demoChirpstack?.stop();
    this.demoChirpstack = null;
    await this.zigbee2mqttExternal.stop();
    await this.supervision.stop();
    await this.inactivity.stop();
    await this.testPresses.stop();
    await this.ingest.stop();
    await this.retention.stop();
    await this.recording.stop();
    await this.processor.stop();
    await this.visits.stop();
    await this.timers.stop();
    for (const poller of this.receiptPollers) await poller.stop();
    await this.dispatcher.stop();
    await this.provider.close?.();
    await this.fallbackProvider?.close?.();
    await this.telemetry.stop();
    this.bus.removeAll(this);
    await this.store.close();
  }

  /** After a registry import at runtime: connected devices pick up their new records, and caches reload. */
  async registryChanged(): Promise<void> {
    const dropped = this.broker.refreshDevices(await this.store.registry.listDevices());
    await this.chirpstack.reload();
    await this.zigbee2mqttExternal.reload();
    const bridgeSecrets = new Map<string, string>();
    for (const b of await this.store.registry.listBridges()) if (b.kind === 'zigbee2mqtt' && b.url === undefined && b.secretHash !== undefined) bridgeSecrets.set(b.id, b.secretHash);
    dropped.push(...this.broker.refreshBridges(bridgeSecrets));
    this.log.info({ devicesDisconnected: dropped.length }, 'registry changed at runtime');
    this.bus.emit('registryChanged');
  }

  async health(): Promise<HealthReport> {
    const dbUp = await this.store.ping();
    const sms = this.dispatcher.health();
    const backlog = this.processor.backlog();
    const unassigned = (await this.store.incidents.listActive()).filter((i) => i.unassigned && i.test !== true).length;
    this.metrics.unassignedIncidents.set(unassigned);
    // Every provider's breaker open means they failed again and again and pages are not going out: alarms are taken
    // but nobody is paged, which is what 503 says. (Outbox mode is a choice made at start-up, named but not 503.)
    const pagesStuck = sms.providers.every((p) => p.state !== 'closed');
    return {
      alarmsOk: dbUp && backlog.failures < 3 && this.recording.recording && !pagesStuck,
      unassignedIncidents: unassigned,
      components: {
        broker: { ...this.broker.health(), sockets: this.broker.socketCount(), maxSockets: this.connectionCaps.mqtt },
        database: withRecording(this.databaseHealth(dbUp), this.recording.state()),
        sms: smsHealthComponent(sms),
        signals: { status: backlog.failures > 0 ? 'degraded' : 'up', ...backlog },
        influxdb: this.influxHealth(),
        supervision: supervisionHealthComponent(this.supervision.health()),
        chirpstack: this.chirpstack.health(),
        ...(this.voice ? { voice: this.voice.health() } : {}),
      },
    };
  }

  /** Down when it cannot be read; degraded when the last WAL sync failed or checkpoints had to move back into COMMIT. */
  private databaseHealth(up: boolean): ComponentHealth {
    if (!up) return { status: 'down' };
    const disk = this.store.database.storageHealth();
    const problem = disk.lastWalSyncError
      ? `the last WAL sync failed (${disk.lastWalSyncError}): recent commits may not be on disk`
      : disk.checkpoints?.mode === 'inline'
        ? `checkpoint thread lost (${disk.checkpoints.lastError ?? 'unknown'}); checkpoints run in COMMIT and can hold alarms up`
        : null;
    return { status: problem ? 'degraded' : 'up', walSyncs: disk.walSyncs, walSyncFailures: disk.walSyncFailures, ...(problem ? { detail: problem } : {}) };
  }

  private influxHealth(): ComponentHealth {
    const h = this.telemetry.health();
    if (h.status === 'disabled') return { status: 'disabled', detail: 'INFLUX_URL not set' };
    // InfluxDB is a side branch: when it is down the gateway still takes and pages alarms, so it only degrades.
    return { ...h, status: h.status === 'up' ? 'up' : 'degraded', ...(h.status === 'down' ? { detail: 'InfluxDB unreachable; points buffered (bounded) and retried' } : {}) };
  }

  private wireEvents(): void {
    const m = this.metrics;
    this.bus.on(this, 'signalReceived', (signal) => {
      m.eventsIngested.inc({ type: signal.type });
      if (signal.type === 'sos' || signal.type === 'fall') {
        this.firstPageClock.set(signal.residentId, signal.arrivedHr ?? performance.now());
      }
      this.processor.submit(signal);
    });
    this.bus.on(this, 'signalRejected', (r) => m.eventsRejected.inc({ reason: r.reason }));
    this.bus.on(this, 'signalRedelivered', () => m.eventsDuplicate.inc());
    this.bus.on(this, 'securityEvent', (e) => m.securityEvents.inc({ kind: e.kind }));
    // A device over its limits is likely faulty (or tampered with): its grid worker should look at it.
    this.bus.on(this, 'deviceFlooding', (f) =>
      this.supervision.tasks.open({ kind: 'device_flooding', residentId: f.residentId, deviceId: f.deviceId, detail: { reason: f.reason, detail: f.detail } }, f.at),
    );
    this.bus.on(this, 'incidentChanged', (incident, entry) => {
      // A test press is a check, not an alarm: it stays out of the alarm counts.
      if (entry.action === 'created' && incident.test !== true) m.incidentsOpened.inc({ type: incident.type });
      m.incidentTransitions.inc({ state: incident.state });
    });
    this.bus.on(this, 'smsStatusChanged', async (msg) => {
      // A page another channel took instead (a call, over the SMS caps) is not a failed page.
      if ((msg.status === 'failed' || msg.status === 'undelivered') && msg.errorCode !== DIVERTED_CODE) await this.incidents.onPageFailed(msg);
    });
    this.bus.on(this, 'smsDelayed', (msg) => this.pageDelivery.onPageDelayed(msg));
  }

  private observeFirstPage(msg: OutboundSms, sentAt: number): void {
    if (msg.purpose !== 'page' || msg.step !== 1 || !msg.incidentId) return;
    void this.store.incidents.get(msg.incidentId).then((incident) => {
      const arrived = incident ? this.firstPageClock.get(incident.residentId) : undefined;
      if (!incident || arrived === undefined) return;
      this.firstPageClock.delete(incident.residentId);
      this.metrics.alarmToFirstSms.observe((sentAt - arrived) / 1000);
    });
  }
}
