// Wires the HTTP side: dashboard accounts, the app's dependencies from the gateway's parts, and listening and closing with the caps.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { AccountService, type AccountServiceDeps } from '../accounts/service.js';
import type { HealthReport } from '../core/health.js';
import { buildApp } from '../http/app.js';
import { tileOrigin } from '../http/routes/dashboard.js';
import { closeGracefully, listen } from '../http/server.js';
import type { Base } from './base.js';
import type { CareParts } from './care.js';
import { createDashboardPageDeps } from './dashboard-pages.js';
import type { DeviceParts } from './devices.js';
import type { IncidentParts } from './incidents.js';
import type { ObserverParts } from './observers.js';
import type { PagingInternals, PagingParts } from './paging.js';

/** Shown in the dashboard's footer and /api/ui-config; package.json's version. */
const GATEWAY_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AccountParts {
  /** Dashboard users, sessions, sign-in codes and the first-admin setup link. */
  accounts: AccountService;
}

export function wireAccounts(
  w: Base &
    Pick<PagingParts, 'dispatcher'> &
    Pick<PagingInternals, 'linkSecret'> & {
      /** Sign-in rate limits other than the defaults (no setting exposes them; tests set them apart). */
      limits?: AccountServiceDeps['limits'];
    } & Pick<DeviceParts, 'sharedFailures'>,
): AccountParts {
  const { config, store, clock, log } = w;
  const accounts = new AccountService({
    store,
    sms: w.dispatcher,
    // Kept in DATA_DIR beside the database, not in it: a copy of the database alone cannot test guesses at a code.
    otpKey: createHmac('sha256', w.linkSecret).update('sign-in codes').digest(),
    clock,
    log: log.child({ part: 'accounts' }),
    publicUrl: config.publicUrl,
    admin: config.admin ?? null,
    ...(w.limits ? { limits: w.limits } : {}),
    sharedFailures: w.sharedFailures,
  });
  return { accounts };
}

export type HttpWiring = Base &
  DeviceParts &
  PagingParts &
  IncidentParts &
  CareParts &
  ObserverParts &
  AccountParts & {
    health(): Promise<HealthReport>;
    registryChanged(): Promise<void>;
  };

/** Builds the app (API, webhooks, incident pages, dashboard); nothing listens yet. */
export function buildHttp(w: HttpWiring): Promise<FastifyInstance> {
  const { config, store, clock, log, metrics } = w;
  return buildApp({
    log: log.child({ part: 'http' }),
    clock,
    publicUrl: config.publicUrl,
    tls: config.httpTls ?? null,
    trustProxy: config.trustProxy ?? [],
    apiToken: config.apiToken,
    twilioAuthToken: config.twilio?.authToken ?? null,
    webhookKey: config.webhookKey ?? null,
    incidents: w.views,
    inbound: w.replies,
    smsStatus: w.dispatcher,
    devices: {
      listDevices: () => store.registry.listDevices(),
      getDevice: (id) => store.registry.getDevice(id),
      health: (id) => w.ingest.healthOf(id),
      getResident: (id) => store.registry.getResident(id),
    },
    health: () => w.health(),
    metrics: metrics.registry,
    smsLog: (limit) => store.sms.list(limit),
    visits: w.visits,
    supervision: w.supervision,
    testMode: w.testPresses,
    vendorPush: w.vendorPush,
    accounts: w.accounts,
    dashboardPages: createDashboardPageDeps({
      store,
      clock,
      timeZone: config.timeZone,
      log: log.child({ part: 'dashboard' }),
      deviceHealth: (id) => w.ingest.healthOf(id),
      smsProvider: () => w.dispatcher.health().provider,
      visits: w.visits,
      checkTemplates: (templates) => w.checkCatalogue(templates),
      onRegistryImported: () => w.registryChanged(),
    }),
    incidentPage: {
      links: w.links,
      clock,
      timeZone: config.timeZone,
      map: w.map,
      linkCodes: {
        signedLinkFor: async (typed) => {
          const grant = await w.linkCodes.redeem(typed);
          return grant
            ? { incidentCode: grant.incidentCode, query: w.links.sign(grant.incidentCode, grant.personId, grant.role, grant.expiresAt) }
            : null;
        },
      },
    },
    live: w.live,
    map: w.map,
    ui: {
      timeZone: config.timeZone,
      mapTileUrl: config.mapTileUrl,
      smsMode: config.twilio ? 'twilio' : 'outbox',
      version: GATEWAY_VERSION,
    },
    dashboard: { tileOrigin: tileOrigin(config.mapTileUrl) },
    requestTimeoutMs: config.http.requestTimeoutMs,
    ...(w.voice ? { voice: w.voice } : {}),
  });
}

/** Listens within the HTTP connection cap, after logging both caps (a warning when they overcommit the fd limit). */
export async function listenHttp(
  app: FastifyInstance,
  w: Pick<Base, 'config' | 'log' | 'metrics'> & Pick<DeviceParts, 'connectionCaps'>,
): Promise<number> {
  const { config, log, metrics } = w;
  const caps = w.connectionCaps;
  const capsLine = {
    httpMaxConnections: caps.http,
    mqttMaxConnections: caps.mqtt,
    openFileLimit: caps.softLimit,
    limitKnown: caps.limitKnown,
  };
  if (caps.overcommitted)
    log.warn(capsLine, 'connection caps leave too few file descriptors free: a flood on one listener can starve the other');
  else log.info(capsLine, 'connection caps');
  return listen(app, {
    port: config.http.port,
    host: config.http.host,
    maxConnections: caps.http,
    onRefused: () => metrics.connectionsRefused.inc({ listener: 'http' }),
  });
}

/** Lets requests under way finish within SHUTDOWN_GRACE_MS, then closes what is left (and says how many). */
export async function closeHttp(app: FastifyInstance, w: Pick<Base, 'config' | 'log'>): Promise<void> {
  const graceMs = w.config.shutdownGraceMs;
  const forced = await closeGracefully(app, graceMs);
  if (forced > 0) w.log.warn({ connections: forced, graceMs }, 'HTTP connections still open after the shutdown grace period were closed');
}
