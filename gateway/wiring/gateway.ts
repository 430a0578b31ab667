// All of the gateway's parts wired together as plain data, in dependency order; nothing is started here.
import type { AccountServiceDeps } from '../accounts/service.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Supervision } from '../supervision/service.js';
import type { VoiceCalls } from '../voice/calls.js';
import { wireBase, type Base } from './base.js';
import { join } from 'node:path';
import { LINK_SECRET_FILE } from '../http/links.js';
import { prepareStore, type SharedWorkTuning } from './storage.js';
import { wireCare, type CareParts } from './care.js';
import { wireDevices, type DeviceParts, type EdgeTuning } from './devices.js';
import { wireAccounts, type AccountParts } from './http.js';
import { wireIncidents, type IncidentParts } from './incidents.js';
import { wireObservers, type ObserverParts } from './observers.js';
import { wirePaging, type PagingInternals, type PagingParts } from './paging.js';

/** Every part the gateway is made of, as tests, the CLI and the benchmarks reach them (`gateway.store`, …). */
export type GatewayParts = Base & DeviceParts & PagingParts & IncidentParts & CareParts & ObserverParts & AccountParts;

/** What only the lifecycle needs: the catalogue load at start, and the first-page latency and slow-alarm log fed by recorded signals. */
export type GatewayInternals = Pick<PagingInternals, 'loadCatalogue' | 'firstPage' | 'slowAlarms'> & {
  /** The 'database' start step: PostgreSQL connects, migrates and checks this node's link secret against the others'. */
  prepareDatabase(): Promise<void>;
};

export interface WireOptions {
  /** How often the live feed sends a heartbeat to idle dashboards (default 15 s; tests shorten it). */
  liveHeartbeatMs?: number;
  /** 'manual': the scheduled jobs (visit reminders and sweeps, the care digest) run only when called; default 'cron'. */
  jobs?: 'cron' | 'manual';
  /** Device-edge tunables no setting exposes (group commit, health flush, sign-in back-off, frame cap). */
  edge?: EdgeTuning;
  /** Sign-in rate limits other than the defaults (dashboard accounts). */
  accountLimits?: AccountServiceDeps['limits'];
  /** Leases, polls and the idle-transaction limit of several nodes on PostgreSQL (tests shorten them). */
  sharedWork?: SharedWorkTuning;
}

export function wireGateway(
  config: GatewayConfig,
  clock: Clock,
  log: Logger,
  options: WireOptions = {},
): GatewayParts & { internals: GatewayInternals } {
  // Supervision and calls are wired after the parts that call them (devices, the dispatcher): those reach them at call
  // time, which is never before start().
  const late: { supervision?: Supervision; voice?: VoiceCalls | null } = {};
  const base = wireBase(config, clock, log, options.sharedWork);
  const devices = wireDevices({
    ...base,
    outages: () => wired(late.supervision, 'supervision'),
    ...(options.edge ? { edge: options.edge } : {}),
  });
  const { pager, replyWindowMs, linkSecret, carriesLinks, firstPage, slowAlarms, loadCatalogue, ...paging } = wirePaging({
    ...base,
    voice: () => wired(late.voice, 'voice'),
  });
  const incidents = wireIncidents({ ...base, ...devices, ...paging, pager, replyWindowMs, slowAlarms });
  const care = wireCare({ ...base, ...devices, ...paging, ...incidents, carriesLinks, ...(options.jobs ? { jobs: options.jobs } : {}) });
  late.supervision = care.supervision;
  late.voice = incidents.voice;
  const accounts = wireAccounts({
    ...base,
    ...paging,
    linkSecret,
    sharedFailures: devices.sharedFailures,
    ...(options.accountLimits ? { limits: options.accountLimits } : {}),
  });
  const prepareDatabase = (): Promise<void> =>
    prepareStore(base.store, {
      linkSecret,
      nodeId: config.nodeId ?? 'gateway',
      source: config.linkSecretFile ?? join(config.dataDir, LINK_SECRET_FILE),
      at: clock.now(),
    });
  const observers = wireObservers({
    ...base,
    ...devices,
    ...incidents,
    ...(options.liveHeartbeatMs ? { liveHeartbeatMs: options.liveHeartbeatMs } : {}),
  });
  return {
    ...base,
    ...devices,
    ...paging,
    ...incidents,
    ...care,
    ...accounts,
    ...observers,
    internals: { loadCatalogue, firstPage, slowAlarms, prepareDatabase },
  };
}

function wired<T>(part: T | undefined, name: string): T {
  if (part === undefined) throw new Error(`${name} is called before it is wired`);
  return part;
}

/** The parts as fields of the gateway object (`gateway.store`, `gateway.dispatcher`, …). */
export class GatewayFields implements GatewayParts {
  declare readonly config: GatewayParts['config'];
  declare readonly clock: GatewayParts['clock'];
  declare readonly log: GatewayParts['log'];
  declare readonly bus: GatewayParts['bus'];
  declare readonly metrics: GatewayParts['metrics'];
  declare readonly store: GatewayParts['store'];
  declare readonly sharedWork: GatewayParts['sharedWork'];
  declare readonly slots: GatewayParts['slots'];
  declare readonly registryFollower: GatewayParts['registryFollower'];
  declare readonly recording: GatewayParts['recording'];
  declare readonly ingest: GatewayParts['ingest'];
  declare readonly bridgeSink: GatewayParts['bridgeSink'];
  declare readonly chirpstack: GatewayParts['chirpstack'];
  declare readonly zigbee2mqtt: GatewayParts['zigbee2mqtt'];
  declare readonly zigbee2mqttExternal: GatewayParts['zigbee2mqttExternal'];
  declare readonly vendorPush: GatewayParts['vendorPush'];
  declare readonly retention: GatewayParts['retention'];
  declare readonly connectionCaps: GatewayParts['connectionCaps'];
  declare readonly broker: GatewayParts['broker'];
  declare readonly sharedFailures: GatewayParts['sharedFailures'];
  declare readonly provider: GatewayParts['provider'];
  declare readonly fallbackProvider: GatewayParts['fallbackProvider'];
  declare readonly linkCodes: GatewayParts['linkCodes'];
  declare readonly pageDelivery: GatewayParts['pageDelivery'];
  declare readonly dispatcher: GatewayParts['dispatcher'];
  declare readonly links: GatewayParts['links'];
  declare readonly checkCatalogue: GatewayParts['checkCatalogue'];
  declare readonly timers: GatewayParts['timers'];
  declare readonly incidents: GatewayParts['incidents'];
  declare readonly processor: GatewayParts['processor'];
  declare readonly replies: GatewayParts['replies'];
  declare readonly views: GatewayParts['views'];
  declare readonly voice: GatewayParts['voice'];
  declare readonly receiptPollers: GatewayParts['receiptPollers'];
  declare readonly deviceState: GatewayParts['deviceState'];
  declare readonly supervision: GatewayParts['supervision'];
  declare readonly inactivity: GatewayParts['inactivity'];
  declare readonly visits: GatewayParts['visits'];
  declare readonly testPresses: GatewayParts['testPresses'];
  declare readonly telemetry: GatewayParts['telemetry'];
  declare readonly live: GatewayParts['live'];
  declare readonly map: GatewayParts['map'];
  declare readonly feedChannel: GatewayParts['feedChannel'];
  declare readonly accounts: GatewayParts['accounts'];
  protected readonly internals: GatewayInternals;

  constructor({ internals, ...parts }: GatewayParts & { internals: GatewayInternals }) {
    Object.assign(this, parts);
    this.internals = internals;
  }
}
