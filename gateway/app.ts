// The composition root: builds the gateway's parts (gateway/wiring/) and starts and stops them as one ordered lifecycle.
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config/schema.js';
import { systemClock, type Clock } from './core/clock.js';
import type { HealthReport } from './core/health.js';
import { createLogger, type Logger } from './core/logger.js';
import { loadRegistry, type RegistryLoadResult } from './registry/startup.js';
import { demoStandInStep, devicesChanged } from './wiring/devices.js';
import { wireEvents } from './wiring/events.js';
import { GatewayFields, wireGateway, type WireOptions } from './wiring/gateway.js';
import { gatewayHealth } from './wiring/health.js';
import { buildHttp, closeHttp, listenHttp } from './wiring/http.js';
import { Lifecycle, type LifecycleStep } from './wiring/lifecycle.js';

export type { GatewayEvents } from './wiring/base.js';
export type { GatewayParts } from './wiring/gateway.js';

export interface GatewayOptions extends WireOptions {
  config: GatewayConfig;
  clock?: Clock;
  log?: Logger;
}

export interface StartedGateway {
  mqttPort: number;
  /** MQTT over TLS; null when no MQTT_TLS_* certificate is configured. */
  mqttsPort: number | null;
  httpPort: number;
  registry: RegistryLoadResult;
}

export class Gateway extends GatewayFields {
  private readonly lifecycle: Lifecycle;
  private http: FastifyInstance | null = null;
  private started: Partial<StartedGateway> = {};

  /** The HTTP app (API, webhooks, incident pages, dashboard) once started; null before start(). */
  get httpApp(): FastifyInstance | null {
    return this.http;
  }

  constructor(config: GatewayConfig, clock: Clock, log: Logger, options: WireOptions = {}) {
    super(wireGateway(config, clock, log, options));
    this.lifecycle = new Lifecycle(this.steps(), log);
  }

  static create(opts: GatewayOptions): Gateway {
    const log = opts.log ?? createLogger({ level: opts.config.logLevel });
    return new Gateway(opts.config, opts.clock ?? systemClock, log, opts);
  }

  /**
   * The start-up order, and backwards the shutdown order. The database closes last. The inputs (HTTP, the bridges,
   * the broker) stop first, so no alarm arrives while the rest stop; the ingest then commits what they left before
   * the signal processor stops, so those alarms are still paged. Telemetry flushes after everything that writes points.
   */
  private steps(): LifecycleStep[] {
    const { config, log, store } = this;
    return [
      // PostgreSQL connects and migrates here (one line naming DATABASE_URL if it cannot); SQLite opened at construction.
      { name: 'database', start: () => this.internals.prepareDatabase(), stop: () => store.close() },
      // Other nodes' sign-in failures (PostgreSQL only) are read before any device or browser can sign in here.
      { name: 'shared failures', start: () => this.sharedFailures?.start(), stop: () => this.sharedFailures?.stop() },
      { name: 'registry', start: async () => Object.assign(this.started, { registry: await loadRegistry({ store, log, config }) }) },
      // Other nodes' imports from here on reload what a local import reloads; the parts below read the registry as they start.
      {
        name: 'registry follower',
        start: () => this.registryFollower.start(() => this.registryChanged()),
        stop: () => this.registryFollower.stop(),
      },
      { name: 'sms catalogue', start: () => this.internals.loadCatalogue() },
      {
        name: 'events',
        start: () => {
          wireEvents(this, { ...this, firstPage: this.internals.firstPage, slowAlarms: this.internals.slowAlarms });
          this.internals.slowAlarms.start();
        },
        stop: () => {
          this.bus.removeAll(this);
          this.internals.slowAlarms.stop();
        },
      },
      { name: 'telemetry flush', stop: () => this.telemetry.stop() },
      { name: 'accounts', start: () => this.accounts.start(), stop: () => this.accounts.stop() },
      { name: 'voice', start: () => this.voice?.start(), stop: () => this.voice?.stop() },
      { name: 'recording', start: () => this.recording.start(), stop: () => this.recording.stop() },
      { name: 'zigbee2mqtt', start: () => this.zigbee2mqtt.start() },
      { name: 'sms fallback provider', stop: () => this.fallbackProvider?.close?.() },
      { name: 'sms provider', stop: () => this.provider.close?.() },
      // Stops after the inputs, so the pages of the last alarms taken still go out; starts sending after the HTTP server.
      { name: 'sms', stop: () => this.dispatcher.stop() },
      {
        name: 'receipt pollers',
        start: () => this.receiptPollers.forEach((p) => p.start()),
        stop: () => Promise.all(this.receiptPollers.map((p) => p.stop())),
      },
      { name: 'timers', start: () => this.timers.start(), stop: () => this.timers.stop() },
      { name: 'voice resume', start: () => this.voice?.resume() },
      { name: 'signal processor', start: () => this.processor.start(), stop: () => this.processor.stop() },
      { name: 'ingest', start: () => this.ingest.start(), stop: () => this.ingest.stop() },
      { name: 'visits', start: () => this.visits.start(), stop: () => this.visits.stop() },
      { name: 'supervision', start: () => this.supervision.start(), stop: () => this.supervision.stop() },
      { name: 'inactivity', start: () => this.inactivity.start(), stop: () => this.inactivity.stop() },
      { name: 'test presses', start: () => this.testPresses.start(), stop: () => this.testPresses.stop() },
      // Never waits for InfluxDB: an unreachable server is reported as down and retried in the background.
      { name: 'telemetry', start: () => this.telemetry.start() },
      // Nodes sharing PostgreSQL: listens before the feed starts, so no other node's event after start-up is missed.
      { name: 'live feed channel', start: () => this.feedChannel?.start(), stop: () => this.feedChannel?.stop() },
      { name: 'live feed', start: () => this.live.start(), stop: () => this.live.stop() },
      { name: 'retention', start: () => this.retention.start(), stop: () => this.retention.stop() },
      // Listens before the broker takes a device, so no session start is missed; stops after it, once its sends are done.
      { name: 'device state resync', start: () => this.deviceState.start(), stop: () => this.deviceState.stop() },
      { name: 'broker', start: () => this.startBroker(), stop: () => this.broker.stop() },
      demoStandInStep(this, () => this.started.registry?.source),
      // Never waits for ChirpStack's (or zigbee2mqtt's) broker: an unreachable one is reported in /healthz and retried.
      { name: 'chirpstack', start: () => this.chirpstack.start(), stop: () => this.chirpstack.stop() },
      { name: 'zigbee2mqtt external', start: () => this.zigbee2mqttExternal.start(), stop: () => this.zigbee2mqttExternal.stop() },
      { name: 'http', start: () => this.startHttp(), stop: () => (this.http ? closeHttp(this.http, this) : undefined) },
      // Sends and calls wait for this: a status callback must find the HTTP server listening, since Twilio sends it once.
      // Pages enqueued before it wait in the outbox; sending begins with them.
      { name: 'sms sending', start: () => this.dispatcher.start() },
      { name: 'voice callbacks', start: () => this.voice?.callbacksReady() },
      // Stops first: no retry of a slot another node was busy with starts while the jobs' parts stop.
      { name: 'job slot retries', stop: () => this.slots.stop() },
    ];
  }

  async start(): Promise<StartedGateway> {
    await this.lifecycle.start();
    const { mqttPort, mqttsPort, httpPort, registry } = this.started;
    if (mqttPort === undefined || mqttsPort === undefined || httpPort === undefined || !registry)
      throw new Error('gateway start-up did not finish');
    return { mqttPort, mqttsPort, httpPort, registry };
  }

  /** Stops every part in reverse start order; one that fails is logged by name and the rest, the database last, still stop. */
  stop(): Promise<void> {
    return this.lifecycle.stop();
  }

  /** After a registry import at runtime: connected devices pick up their new records, caches and the SMS catalogue reload. */
  async registryChanged(): Promise<void> {
    await devicesChanged(this, this);
    await this.internals.loadCatalogue();
  }

  health(): Promise<HealthReport> {
    return gatewayHealth(this);
  }

  private async startBroker(): Promise<void> {
    const { port, mqttsPort } = await this.broker.start({ ...this.config.mqtt, tls: this.config.mqtts ?? null });
    Object.assign(this.started, { mqttPort: port, mqttsPort });
  }

  private async startHttp(): Promise<void> {
    this.http = await buildHttp({ ...this, health: () => this.health(), registryChanged: () => this.registryChanged() });
    this.started.httpPort = await listenHttp(this.http, this);
  }
}
