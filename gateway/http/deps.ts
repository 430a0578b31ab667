// What the HTTP layer needs from the rest of the gateway: narrow interfaces, so routes can be tested with app.inject().
import type { Registry } from 'prom-client';
import type { DeviceHealth, OutboundSms, Resident, Device, SmsProviderName } from '../core/types.js';
import type { Logger } from '../core/logger.js';
import type { VisitApi } from './routes/visits.js';
import type { DashboardPageDeps } from './routes/page-deps.js';
import type { SupervisionApi } from './routes/tasks.js';
import type { TestModeApi } from './routes/test-mode.js';
import type { VendorPushApi } from './routes/ingest-push.js';
import type { Clock } from '../core/clock.js';
import type { LinkCheck, LinkQuery } from './links.js';
import type { AccountApi } from '../accounts/service.js';
import type { DashboardOptions } from './routes/dashboard.js';
import type { CallEnd, CallRef, CallTurn } from '../voice/turns.js';
import type { AuthStrategy } from './auth.js';
import type { HealthReport } from '../core/health.js';
import type { IncidentActions } from '../incidents/views.js';
import type { InboundSmsHandler } from '../incidents/replies.js';
import type { LiveStreamSource } from '../live/feed.js';
import type { MapSource } from '../live/map-data.js';

export interface SmsStatusHandler {
  handleStatusCallback(params: { MessageSid: string; MessageStatus: string; ErrorCode?: string }): Promise<boolean>;
}

/** The voice call step as its webhooks drive it (gateway/voice VoiceCalls). */
export interface VoiceWebhookApi {
  /** WEBHOOK_KEY: the `?key=` unsigned callbacks (Tencent) must carry; null refuses them all. */
  readonly webhookKey: string | null;
  answered(callId: string, providerCallId: string): Promise<CallTurn | null>;
  keyPressed(ref: CallRef, key: string): Promise<CallTurn | null>;
  ended(ref: CallRef, end: CallEnd, detail?: Record<string, unknown>): Promise<boolean>;
  progressed(ref: CallRef, to: 'ringing' | 'in_progress'): Promise<boolean>;
}

export interface DeviceDirectory {
  listDevices(): Promise<Device[]>;
  getDevice(id: string): Promise<Device | null>;
  health(id: string): DeviceHealth | null;
  getResident(id: string): Promise<Resident | null>;
}

export interface HttpDeps {
  log: Logger;
  /** The gateway's clock: when an inbound SMS was received. */
  clock: Clock;
  publicUrl: string;
  /** HTTP_TLS_*: the app serves HTTPS itself with this certificate and key (PEM); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer } | null;
  /** TRUST_PROXY: addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Proto headers are believed; none by default. */
  trustProxy?: readonly string[];
  apiToken: string | null;
  /** Twilio auth token used to verify webhook signatures; null in outbox mode (then webhooks are refused). */
  twilioAuthToken: string | null;
  /** WEBHOOK_KEY: the ?key= the unsigned Aliyun and Tencent callbacks must carry; without it they are all refused. */
  webhookKey?: string | null;
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
  /** Test presses: test windows per device or building, and the weekly list of untested buttons. */
  testMode?: TestModeApi;
  /** Vendor-cloud pushes at /ingest/v1/:bridgeId (signature-checked, not behind /api's auth). */
  vendorPush?: VendorPushApi;
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
  /** Dashboard pages' API (reports, people, roster, registry editor, SMS log, my visits): gateway/wiring/dashboard-pages.ts. */
  dashboardPages?: DashboardPageDeps;
  /** Voice calls (VOICE_PROVIDER): their webhooks are served only with it. */
  voice?: VoiceWebhookApi;
  /** A request's headers and body must have arrived within this (default REQUEST_TIMEOUT_MS in app.ts). */
  requestTimeoutMs?: number;
}

export interface UiConfig {
  timeZone: string;
  /** Leaflet URL template of an optional base map; null: the map draws outlines on a plain background. */
  mapTileUrl: string | null;
  smsMode: SmsProviderName;
  version: string;
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
