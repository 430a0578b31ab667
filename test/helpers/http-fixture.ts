// HTTP-layer test fixture: small real implementations of the HttpDeps interfaces over a real SQLite store in a temp dir.
import { Writable } from 'node:stream';
import { expect } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '../../gateway/core/clock.js';
import { GatewayError } from '../../gateway/core/errors.js';
import { createLogger, type Logger } from '../../gateway/core/logger.js';
import type {
  AuditChannel,
  Device,
  DeviceHealth,
  EscalationPlan,
  InboundSms,
  Incident,
  IncidentState,
  OutboundSms,
  Resident,
  Responder,
} from '../../gateway/core/types.js';
import { buildApp } from '../../gateway/http/app.js';
import type { DeviceDirectory, HttpDeps, SmsStatusHandler } from '../../gateway/http/deps.js';
import type { HealthReport } from '../../gateway/core/health.js';
import type { IncidentActions, IncidentView } from '../../gateway/incidents/views.js';
import type { InboundSmsHandler } from '../../gateway/incidents/replies.js';
import { createMetrics, type GatewayMetrics } from '../../gateway/metrics/metrics.js';
import type { IncidentFilter, Store } from '../../gateway/storage/ports.js';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from './tmp.js';

export const PUBLIC_URL = 'https://care.example.org';
export const API_TOKEN = 'test-api-token-0123456789abcdef';
export const TWILIO_AUTH_TOKEN = 'twilio-auth-token-for-tests';

export const RESIDENT: Resident = {
  id: 'r-001',
  name: '张桂兰',
  community: 'andali',
  address: '安达里3号楼2门401',
  family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }],
};

const PLAN: EscalationPlan = {
  frozenAt: 0,
  ackTimeoutSeconds: 180,
  fallCancelSeconds: 30,
  responders: [{ role: 'worker', id: 'w-01', name: '李明', phone: '+8613900000001', distanceM: 120 }],
  family: RESIDENT.family,
};

/** Incident rules of the real service, in miniature: enough for the routes to call through. */
const ACK_FROM: readonly IncidentState[] = ['pending', 'open'];
const RESOLVE_FROM: readonly IncidentState[] = ['pending', 'open', 'acknowledged'];

export class StoreIncidentActions implements IncidentActions {
  readonly calls: { action: string; id: string; by: Responder; channel: AuditChannel; note: string | undefined }[] = [];

  constructor(private readonly store: Store) {}

  async list(filter: IncidentFilter): Promise<IncidentView[]> {
    return Promise.all((await this.store.incidents.list(filter)).map((i) => this.toView(i, false)));
  }

  async view(id: string): Promise<IncidentView | null> {
    const incident = await this.store.incidents.get(id);
    return incident ? this.toView(incident, true) : null;
  }

  async viewByCode(code: string): Promise<IncidentView | null> {
    const incident = await this.store.incidents.getByCode(code);
    return incident ? this.toView(incident, true) : null;
  }

  async acknowledge(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    this.calls.push({ action: 'acknowledge', id, by, channel, note });
    return this.transition(id, ACK_FROM, 'acknowledged', by, channel, note);
  }

  async resolve(id: string, by: Responder, channel: AuditChannel, note?: string): Promise<Incident> {
    this.calls.push({ action: 'resolve', id, by, channel, note });
    return this.transition(id, RESOLVE_FROM, 'resolved', by, channel, note);
  }

  private async transition(
    id: string,
    from: readonly IncidentState[],
    to: IncidentState,
    by: Responder,
    channel: AuditChannel,
    note?: string,
  ): Promise<Incident> {
    return this.store.transaction(async () => {
      const incident = await this.store.incidents.get(id);
      if (!incident) throw new GatewayError('GW_ERR_INCIDENT_NOT_FOUND');
      if (!from.includes(incident.state)) throw new GatewayError('GW_ERR_INVALID_TRANSITION', `incident is ${incident.state}`);
      const now = Date.now();
      const updated: Incident =
        to === 'acknowledged'
          ? { ...incident, state: to, acknowledgedAt: now, acknowledgedBy: by }
          : { ...incident, state: to, resolvedAt: now };
      await this.store.incidents.update(updated);
      await this.store.incidents.appendAudit({
        incidentId: id,
        at: now,
        action: to,
        actor: by.name,
        channel,
        detail: note ? { note } : null,
      });
      return updated;
    });
  }

  private async toView(incident: Incident, withTimeline: boolean): Promise<IncidentView> {
    const resident = await this.store.registry.getResident(incident.residentId);
    const pages = (await this.store.sms.listForIncident(incident.id)).map((m) => ({
      id: m.id,
      to: m.to,
      role: m.role ?? 'unknown',
      name: null,
      step: m.step,
      purpose: m.purpose,
      status: m.status,
      createdAt: m.createdAt,
      sentAt: m.sentAt,
      updatedAt: m.updatedAt,
      errorCode: m.errorCode,
      attempts: m.attempts,
      retrying: false,
    }));
    const view: IncidentView = {
      ...incident,
      resident: incident.residentId,
      residentName: resident?.name ?? null,
      address: resident?.address ?? null,
      pages,
    };
    if (withTimeline) view.timeline = await this.store.incidents.listAudit(incident.id);
    return view;
  }
}

export class RecordingInbound implements InboundSmsHandler {
  readonly received: InboundSms[] = [];
  constructor(private readonly store: Store) {}
  async handle(sms: InboundSms): Promise<{ handledAs: string }> {
    this.received.push(sms);
    await this.store.sms.recordInbound(sms, 'recorded', null);
    return { handledAs: 'recorded' };
  }
}

export class StoreSmsStatus implements SmsStatusHandler {
  readonly received: { MessageSid: string; MessageStatus: string; ErrorCode?: string }[] = [];
  constructor(private readonly store: Store) {}
  async handleStatusCallback(params: { MessageSid: string; MessageStatus: string; ErrorCode?: string }): Promise<boolean> {
    this.received.push(params);
    const message = await this.store.sms.getBySid(params.MessageSid);
    if (!message) return false;
    const status = params.MessageStatus === 'delivered' ? 'delivered' : params.MessageStatus === 'failed' ? 'failed' : 'sent';
    await this.store.sms.update(message.id, { status, errorCode: params.ErrorCode ?? null, at: Date.now() });
    return true;
  }
}

export class StoreDeviceDirectory implements DeviceDirectory {
  readonly healthById = new Map<string, DeviceHealth>();
  constructor(private readonly store: Store) {}
  listDevices(): Promise<Device[]> {
    return this.store.registry.listDevices();
  }
  getDevice(id: string): Promise<Device | null> {
    return this.store.registry.getDevice(id);
  }
  health(id: string): DeviceHealth | null {
    return this.healthById.get(id) ?? null;
  }
  getResident(id: string): Promise<Resident | null> {
    return this.store.registry.getResident(id);
  }
}

export interface HttpFixture {
  app: FastifyInstance;
  deps: HttpDeps;
  store: Store;
  incidents: StoreIncidentActions;
  inbound: RecordingInbound;
  smsStatus: StoreSmsStatus;
  devices: StoreDeviceDirectory;
  metrics: GatewayMetrics;
  /** What /healthz reports; tests change it in place. */
  healthReport: HealthReport;
  /** Every log line the app wrote, as raw JSON text. */
  logLines: string[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  apiToken?: string | null;
  twilioAuthToken?: string | null;
  publicUrl?: string;
  /** Replace single dependencies, e.g. a failing smsLog. */
  override?: Partial<HttpDeps>;
}

function capturingLogger(lines: string[]): Logger {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return createLogger({ level: 'debug', destination });
}

export async function createHttpFixture(options: FixtureOptions = {}): Promise<HttpFixture> {
  const dir = tempDir('care-gw-http-');
  const store = openSqliteStore(join(dir.path, 'gateway.db'));
  await store.registry.upsert({
    communities: [{ id: 'andali', name: '安达里社区', dutyContacts: [] }],
    residents: [
      RESIDENT,
      { ...RESIDENT, id: 'r-002', name: '王秀英', family: [] },
      { ...RESIDENT, id: 'r-003', name: '赵淑珍', family: [] },
    ],
    workers: [],
    devices: [
      { id: 'btn-001', kind: 'sos_button', resident: 'r-001', secretHash: 'scrypt$x' },
      { id: 'fall-001', kind: 'fall_sensor', resident: 'r-001', secretHash: 'scrypt$y' },
      { id: 'btn-002', kind: 'sos_button', resident: 'r-002', secretHash: 'scrypt$z' },
    ],
    volunteers: [],
    visits: [],
  });
  const logLines: string[] = [];
  const metrics = createMetrics();
  const incidents = new StoreIncidentActions(store);
  const inbound = new RecordingInbound(store);
  const smsStatus = new StoreSmsStatus(store);
  const devices = new StoreDeviceDirectory(store);
  const healthReport: HealthReport = {
    alarmsOk: true,
    components: { broker: { status: 'up' }, database: { status: 'up' }, sms: { status: 'up' }, influx: { status: 'disabled' } },
    unassignedIncidents: 0,
  };
  const deps: HttpDeps = {
    log: capturingLogger(logLines),
    clock: systemClock,
    publicUrl: options.publicUrl ?? PUBLIC_URL,
    apiToken: options.apiToken === undefined ? API_TOKEN : options.apiToken,
    twilioAuthToken: options.twilioAuthToken === undefined ? TWILIO_AUTH_TOKEN : options.twilioAuthToken,
    incidents,
    inbound,
    smsStatus,
    devices,
    health: async () => structuredClone(healthReport),
    metrics: metrics.registry,
    smsLog: (limit) => store.sms.list(limit),
    ...options.override,
  };
  const app = await buildApp(deps);
  return {
    app,
    deps,
    store,
    incidents,
    inbound,
    smsStatus,
    devices,
    metrics,
    healthReport,
    logLines,
    close: async () => {
      await app.close();
      await store.close();
      dir.remove();
    },
  };
}

export function makeIncident(overrides: Partial<Incident> & { id: string; openedAt: number }): Incident {
  return {
    code: overrides.id
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, '')
      .slice(-8),
    residentId: RESIDENT.id,
    communityId: 'andali',
    type: 'sos',
    state: 'open',
    step: 1,
    unassigned: false,
    plan: PLAN,
    firstPagedAt: overrides.openedAt + 5,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    cancelledAt: null,
    signalCount: 1,
    lastSignalAt: overrides.openedAt,
    nextStepAt: null,
    ...overrides,
  };
}

export function makePage(overrides: Partial<OutboundSms> & { id: string; incidentId: string; createdAt: number }): OutboundSms {
  return {
    to: '+8613900000001',
    body: '紧急求助: 张桂兰 安达里3号楼2门401, 回复1确认',
    intent: null,
    priority: 'alarm',
    purpose: 'page',
    step: 1,
    role: 'worker',
    personId: 'w-01',
    context: { kind: 'incident', incidentId: overrides.incidentId },
    status: 'sent',
    provider: 'twilio',
    providerSid: null,
    attempts: 1,
    errorCode: null,
    error: null,
    sentAt: overrides.createdAt + 10,
    updatedAt: overrides.createdAt + 10,
    ...overrides,
  };
}

export function bearer(token: string = API_TOKEN): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Asserts the one error shape of the API: exactly `{ error: { code, message } }` with a non-empty message. */
export function expectErrorBody(body: unknown, code: string): void {
  expect(body).toMatchObject({ error: { code } });
  if (typeof body !== 'object' || body === null || !('error' in body)) throw new Error('not an error body');
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error;
  if (typeof error !== 'object' || error === null || !('message' in error)) throw new Error('error without a message');
  expect(Object.keys(error).sort()).toEqual(['code', 'message']);
  expect(error.message).toBeTypeOf('string');
  expect(String(error.message).length).toBeGreaterThan(0);
}
