// Visit tests' rig: a real SQLite store with the test registry, a real SMS dispatcher, the real ReplyRouter, a VisitService.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ManualClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { EscalationEngine } from '../../gateway/escalation/engine.js';
import { DurableTimers } from '../../gateway/escalation/timers.js';
import { ReplyRouter } from '../../gateway/incidents/replies.js';
import { IncidentService, type DeviceCommand, type IncidentEvents } from '../../gateway/incidents/service.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { OutboxProvider } from '../../gateway/notifiers/outbox.js';
import { Pager, type SmsQueue } from '../../gateway/paging/pager.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { VisitService, type VisitServiceDeps } from '../../gateway/visits/service.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

export const TZ = 'Asia/Shanghai';
/** Wall time in Asia/Shanghai (UTC+8, no daylight saving) as an instant. */
export const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h - 8, mi, s);

export const V01 = '+8613700000001'; // 王奶奶, apron team (fixture)
export const V02 = '+8613700000002'; // 刘阿姨, apron team leader
export const V03 = '+8613700000003'; // 陈大妈, apron team
export const V04 = '+8613800000001'; // 张伟: a volunteer who is also r-001's son (family pages reach this phone)
export const W01 = '+8613900000001'; // 李明: nearest on-duty worker of r-001 (w-04 is nearer but never on duty)

/** The test registry's volunteers are one; visits need a leader, a colleague and a volunteer who is also family. */
export const EXTRA_VOLUNTEERS = {
  volunteers: [
    { id: 'v-02', name: '刘阿姨', phone: V02, team: 'apron', leader: true },
    { id: 'v-03', name: '陈大妈', phone: V03, team: 'apron' },
    { id: 'v-04', name: '张伟', phone: V04, team: 'sons' },
  ],
};

export interface VisitRig {
  clock: ManualClock;
  store: SqliteStore;
  dispatcher: SmsDispatcher;
  router: ReplyRouter;
  incidents: IncidentService;
  visits: VisitService;
  /** Device commands the incident service published. */
  commands: DeviceCommand[];
  /** Calls of the door-unanswered hook, as `resident/volunteer`. */
  doorAlarms: string[];
  /** Outbound SMS to a phone, oldest first. */
  smsTo(phone: string): Promise<OutboundSms[]>;
  /** An inbound SMS through the real ReplyRouter; resolves with how it was handled. */
  text(from: string, body: string): Promise<string>;
  /** A new VisitService over the same store (a restart of the visit feature). */
  newService(over?: Partial<VisitServiceDeps>): VisitService;
  start(): Promise<void>;
  /** Closes and reopens the database file, then builds and starts a new service: a process restart. */
  restart(over?: Partial<VisitServiceDeps>): Promise<VisitService>;
  close(): Promise<void>;
}

export interface VisitRigOptions {
  clock?: ManualClock;
  /** The outbound queue (e.g. a dispatcher pointed at the Twilio simulator); default: a real SmsDispatcher over the local outbox. */
  sms?: SmsQueue;
  /** Use this store (e.g. startSmsRig's) instead of a new one in a temp dir. */
  store?: SqliteStore;
  service?: Partial<VisitServiceDeps>;
  registry?: boolean;
  /** Start the service (registers the reply handler, runs the start-up catch-up); default true. */
  start?: boolean;
}

export async function startVisitRig(opts: VisitRigOptions = {}): Promise<VisitRig> {
  const clock = opts.clock ?? new ManualClock(local(2026, 11, 25, 12, 0));
  const dir = opts.store ? null : tempDir('care-gw-visits-');
  const file = dir ? join(dir.path, 'gateway.db') : null;
  let store = opts.store ?? openSqliteStore(file ?? ':memory:');
  const log = silentLogger();
  if (opts.registry !== false) {
    await importRegistryDocument({ store, log }, parseYaml(readFileSync(TEST_REGISTRY, 'utf8')));
    await importRegistryDocument({ store, log }, EXTRA_VOLUNTEERS);
  }
  const bus = new EventBus<NotifierEvents & IncidentEvents>(log);
  const doorAlarms: string[] = [];
  const commands: DeviceCommand[] = [];
  const services: VisitService[] = [];

  const build = () => {
    const dispatcher = new SmsDispatcher({
      store,
      provider: new OutboxProvider({ log }),
      clock,
      log,
      bus,
      publicUrl: 'http://127.0.0.1:1',
    });
    const sms: SmsQueue = opts.sms ?? dispatcher;
    const pager = new Pager({ sms, timeZone: TZ, publicUrl: 'http://127.0.0.1:1' });
    const timers = new DurableTimers({ store, clock, log });
    const engine = new EscalationEngine({ store, timers, pager, clock, log, timeZone: TZ });
    const incidents = new IncidentService({
      store,
      bus,
      clock,
      log,
      timeZone: TZ,
      timers,
      engine,
      pager,
      commands: { publishCommand: async (_device, command) => void commands.push(command) },
    });
    const router = new ReplyRouter({ store, incidents, pager, log, clock });
    return { dispatcher, sms, incidents, router };
  };
  let parts = build();
  const newService = (over: Partial<VisitServiceDeps> = {}) => {
    const service = new VisitService({
      store,
      clock,
      log,
      timeZone: TZ,
      sms: parts.sms,
      replies: parts.router,
      onDoorUnanswered: async (residentId, volunteerId) => void doorAlarms.push(`${residentId}/${volunteerId}`),
      triggers: 'manual',
      ...opts.service,
      ...over,
    });
    services.push(service);
    return service;
  };
  // With a queue of the caller's own, the outbox dispatcher stays idle.
  if (!opts.sms) await parts.dispatcher.start();
  const rig: VisitRig = {
    clock,
    get store() {
      return store;
    },
    get dispatcher() {
      return parts.dispatcher;
    },
    get router() {
      return parts.router;
    },
    get incidents() {
      return parts.incidents;
    },
    visits: newService(),
    doorAlarms,
    commands,
    smsTo: async (phone) => (await store.sms.list(1000)).filter((m) => m.to === phone).reverse(),
    text: async (from, body) =>
      (await parts.router.handle({ provider: 'twilio', from, body, providerSid: null, receivedAt: clock.now() })).handledAs,
    newService,
    async restart(over = {}) {
      for (const s of services) await s.stop();
      if (!file) throw new Error('restart needs a file-backed store');
      await parts.dispatcher.stop();
      await store.close();
      store = openSqliteStore(file);
      parts = build();
      if (!opts.sms) await parts.dispatcher.start();
      const service = newService(over);
      rig.visits = service;
      await service.start();
      return service;
    },
    async start() {
      await rig.visits.start();
    },
    async close() {
      for (const s of services) await s.stop();
      await parts.dispatcher.stop();
      if (!opts.store) await store.close();
      dir?.remove();
    },
  };
  if (opts.start !== false) await rig.visits.start();
  return rig;
}
