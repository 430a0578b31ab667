// What the HTTP layer needs from the rest of the gateway: narrow interfaces, so routes can be tested with app.inject().
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { AuditChannel, AuditEntry, DeviceHealth, Incident, InboundSms, OutboundSms, Resident, Responder, Device, SmsProviderName } from '../core/types.js';
import type { IncidentFilter } from '../storage/ports.js';
import type { Logger } from '../core/logger.js';
import type { VisitApi } from './routes/visits.js';
import type { DashboardPageDeps } from './routes/page-deps.js';
import type { SupervisionApi } from './routes/tasks.js';
import type { Clock } from '../core/clock.js';
import type { LinkCheck, LinkQuery } from './links.js';
import type { AccountApi } from '../accounts/service.js';
import type { DashboardOptions } from './routes/dashboard.js';

/** An incident as the API shows it: the stored incident plus its pages (SMS) and, for one incident, its timeline. */
export interface IncidentView extends Incident {
  resident: string;
  residentName: string | null;
  address: string | null;
  pages: PageView[];
  timeline?: AuditEntry[];
  /** Who and where, for the duty board's resident card (issue 5); absent when the resident left the registry. */
  residentCard?: ResidentCard;
}

/** The resident as responders need them: where to go, whom to call, what to know on arrival. */
export interface ResidentCard {
  name: string;
  address: string;
  building: string | null;
  community: string;
  communityName: string | null;
  family: { name: string; relation: string | null; phone: string }[];
  /** Care notes (medication, mobility); shown to staff and the paged worker, never to volunteers. */
  notes: string | null;
  /** Who holds a spare key (registry field `keyHolder`, free text or `{name, phone}`). */
  keyHolder: string | null;
  location: { lat: number; lon: number } | null;
}

export interface PageView {
  id: string;
  to: string;
  role: string;
  name: string | null;
  step: number | null;
  purpose: string;
  status: string;
  createdAt: number;
  sentAt: number | null;
  updatedAt: number;
  errorCode: string | null;
  /** Tries so far. */
  attempts: number;
  /** Not yet handed to the provider, and failed at least once or held back past the delay threshold by a provider outage. */
  retrying: boolean;
}

export interface IncidentActions {
  list(filter: IncidentFilter): Promise<IncidentView[]>;
  /** With its timeline; null when there is no such incident. */
  view(id: string): Promise<IncidentView | null>;
  viewByCode(code: string): Promise<IncidentView | null>;
  /** Throws GatewayError GW_ERR_INCIDENT_NOT_FOUND or GW_ERR_INVALID_TRANSITION. */
  acknowledge(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
  resolve(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
  /** "已到达" (issue 5); optional so older implementations still fit. Throws like acknowledge. */
  markOnSite?(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident>;
}

export interface InboundSmsHandler {
  /** Acts on a verified inbound SMS (ack, decline, help reply); resolves once it is recorded. */
  handle(sms: InboundSms): Promise<{ handledAs: string }>;
}

export interface SmsStatusHandler {
  handleStatusCallback(params: { MessageSid: string; MessageStatus: string; ErrorCode?: string }): Promise<boolean>;
}

export interface DeviceDirectory {
  listDevices(): Promise<Device[]>;
  getDevice(id: string): Promise<Device | null>;
  health(id: string): DeviceHealth | null;
  getResident(id: string): Promise<Resident | null>;
}

export type ComponentStatus = 'up' | 'degraded' | 'down' | 'disabled';

export interface ComponentHealth {
  status: ComponentStatus;
  detail?: string;
  [key: string]: unknown;
}

export interface HealthReport {
  /** False when alarms cannot be taken or paged: /healthz answers 503. */
  alarmsOk: boolean;
  components: Record<string, ComponentHealth>;
  /** Active incidents nobody could be paged for. */
  unassignedIncidents: number;
}

/** Dashboard roles (issue 5). A machine client with the API token acts with full rights, like an admin. */
export const ROLES = ['admin', 'duty_officer', 'worker', 'volunteer'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling /api/…: a machine client with the API token, or a dashboard session. */
export interface Caller {
  kind: 'api_token' | 'session';
  /** Shown as the actor when the caller acknowledges or resolves without naming someone. */
  name: string;
  /** 'admin' for the API token. */
  role: Role;
  /** The dashboard user's id (session callers only). */
  userId?: string;
  /** A worker sees only this community; also set for a duty officer tied to one station. */
  community?: string;
  /** The registry worker behind a worker session. */
  workerId?: string;
  /** The registry volunteer behind a volunteer session: she sees only her own visits. */
  volunteerId?: string;
}

/** One way to recognise a caller (bearer token, session cookie...); null when the request does not carry it. */
export type AuthStrategy = (request: FastifyRequest) => Promise<Caller | null>;

export interface HttpDeps {
  log: Logger;
  publicUrl: string;
  /** HTTP_TLS_*: the app serves HTTPS itself with this certificate and key (PEM); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer } | null;
  /** TRUST_PROXY: addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto headers are believed; none by default. */
  trustProxy?: readonly string[];
  apiToken: string | null;
  /** Twilio auth token used to verify webhook signatures; null in outbox mode (then webhooks are refused). */
  twilioAuthToken: string | null;
  incidents: IncidentActions;
  inbound: InboundSmsHandler;
  smsStatus: SmsStatusHandler;
  devices: DeviceDirectory;
  health(): Promise<HealthReport>;
  metrics: Registry;
  /** Volunteer visits and the hours ledger (/api/visits, /api/volunteers). */
  visits?: VisitApi;
  /** Device supervision: care tasks and grouped outages (/api/tasks, /api/outages). */
  supervision?: SupervisionApi;
  /** Recent SMS for the log view. */
  smsLog(limit: number): Promise<OutboundSms[]>;
  /**
   * Dashboard accounts (gateway/accounts AccountService): serves /auth/*, /api/users and /api/audit, and lets a
   * session cookie authenticate /api callers (with a CSRF token on every change). Without it only the API token works.
   */
  accounts?: AccountApi;
  /** Further ways to authenticate /api callers (e.g. dashboard sessions), tried after the API token. */
  authStrategies?: AuthStrategy[];
  /** The dashboard app at `/` (built into dist/dashboard); without it no dashboard is served. */
  dashboard?: DashboardOptions;
  /** The incident page behind the SMS link (`/i/:code`); without it the page is not served. */
  incidentPage?: IncidentPageDeps;
  /** Server-sent events at /api/stream (gateway/live/feed.ts); without it the route is absent. */
  live?: LiveStreamSource;
  /** What the dashboard needs to know about this installation (/api/ui-config). */
  ui?: UiConfig;
  /** Residents, buildings and communities with coordinates for /api/map (gateway/live/map-data.ts). */
  map?: MapSource;
  /** Dashboard pages' API (reports, people, roster, registry editor, SMS log, my visits): gateway/reports/dashboard-deps.ts. */
  dashboardPages?: DashboardPageDeps;
  /** A request's headers and body must have arrived within this (default REQUEST_TIMEOUT_MS in app.ts). */
  requestTimeoutMs?: number;
}

/** Subscribes one SSE client; the returned function unsubscribes it. */
export interface LiveStreamSource {
  subscribe(client: LiveClient): () => void;
  /** Called when the app closes, so open streams end and the server can stop. */
  closeAll(): void;
}

/** One connected dashboard tab, as the live feed sees it. */
export interface LiveClient {
  caller: Caller;
  /** Writes one named event; returns false when the client was dropped (slow or gone). */
  send(event: string, data: unknown): boolean;
  /** A comment line that keeps the connection alive; false when the client was dropped. */
  ping(): boolean;
  close(): void;
}

export interface UiConfig {
  timeZone: string;
  /** Leaflet URL template of an optional base map; null: the map draws outlines on a plain background. */
  mapTileUrl: string | null;
  smsMode: SmsProviderName;
  version: string;
}

export interface MapSource {
  /** Everything in one community, or everywhere when `community` is null. */
  snapshot(community: string | null): Promise<MapModel>;
}

export interface MapResident {
  id: string;
  name: string;
  lat: number;
  lon: number;
  community: string;
  building: string;
  address: string;
  /** The resident's active incident, if any: the marker turns red. */
  activeIncident: { id: string; state: string; type: string } | null;
  /** Worst device state: 'offline', 'unknown' (never heard from), 'warning' (low battery), 'ok', or 'none' without devices. */
  deviceHealth: 'ok' | 'warning' | 'unknown' | 'offline' | 'none';
}

export interface MapBuilding {
  community: string;
  name: string;
  /** Mean position of its residents. */
  lat: number;
  lon: number;
  residents: string[];
}

export interface MapCommunity {
  id: string;
  name: string;
}

export interface MapModel {
  communities: MapCommunity[];
  buildings: MapBuilding[];
  residents: MapResident[];
}

/** Checks the signed query of an incident-page link (gateway/http/links.ts LinkSigner). */
export interface LinkVerifier {
  check(code: string, query: LinkQuery, now: number): LinkCheck;
}

/** Opens the short code an SMS carries (typed at `/i`): the signed link it stands for, or null when unknown or expired. */
export interface LinkCodeOpener {
  signedLinkFor(typed: string): Promise<{ incidentCode: string; query: string } | null>;
}

export interface IncidentPageDeps {
  links: LinkVerifier;
  /** Serves `/i`, where the code from the SMS is typed; absent: no such page. */
  linkCodes?: LinkCodeOpener;
  /** Link expiry is judged on this clock. */
  clock: Clock;
  /** Times on the page are shown in this zone (config TZ). */
  timeZone: string;
  /** Building positions of the resident's community, drawn as a small map on the page; absent: no map. */
  map?: MapSource;
}
