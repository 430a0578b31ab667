// Visit helpers over the test gateway: the registry's volunteers, SMS in and out, door alarms as raised, and visit jobs run by hand.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { doorUnansweredAlarm } from '../../gateway/incidents/door-unanswered.js';
import { VisitService, type VisitServiceDeps } from '../../gateway/visits/service.js';
import { monthEndWednesday, shanghai, shanghaiDate, shanghaiLast, shanghaiMonth, wallTime } from './calendar.js';
import { startTestGateway, TEST_REGISTRY, type TestGateway, type TestGatewayOptions } from './gateway.js';

export const TZ = 'Asia/Shanghai';
/** Wall time in Asia/Shanghai as an instant. */
export const local = shanghai;

/**
 * Day 0 of the visit rigs: midnight of the latest Wednesday before today in Asia/Shanghai. The schedules are by weekday,
 * so a rig keeps its weekdays and wall times, while its instants stay near the real servers' clocks it meets.
 */
export const WEDNESDAY = shanghaiLast(3, 0);

/** `h:mi` wall time `days` after WEDNESDAY (1 is Thursday, 6 the next Tuesday). */
export function onDay(days: number, h: number, mi = 0): number {
  return wallTime(WEDNESDAY, h, mi, days);
}

/** The day `days` after WEDNESDAY as 'YYYY-MM-DD'. */
export function dateOf(days: number): string {
  return shanghaiDate(onDay(days, 12));
}

/**
 * Day 0 of the visit rigs that cross a month end (schedules, the hours ledger by month): midnight of the Wednesday
 * before the next month end. Its Tuesday before (-1) and Thursday (1) are in one month, the next Tuesday (6) in the next.
 */
export const MONTH_END_WEDNESDAY = monthEndWednesday();

/** Days from MONTH_END_WEDNESDAY, as the visit service writes and reads them. */
export const nearMonthEnd = {
  /** `h:mi` wall time `days` after MONTH_END_WEDNESDAY, as an instant. */
  at: (days: number, h: number, mi = 0): number => wallTime(MONTH_END_WEDNESDAY, h, mi, days),
  /** The day as 'YYYY-MM-DD'. */
  date: (days: number): string => shanghaiDate(wallTime(MONTH_END_WEDNESDAY, 12, 0, days)),
  /** The day's month as 'YYYY-MM'. */
  month: (days: number): string => shanghaiMonth(wallTime(MONTH_END_WEDNESDAY, 12, 0, days)),
  /** A local time on the day as visits are given one: 'YYYY-MM-DDTHH:MM'. */
  local: (days: number, hm: string): string => `${nearMonthEnd.date(days)}T${hm}`,
  /** An occurrence's start as the service prints it: 'YYYY-MM-DDTHH:MM:00+08:00'. */
  start: (days: number, hm: string): string => `${nearMonthEnd.date(days)}T${hm}:00+08:00`,
};

export const V01 = '+8613700000001'; // 王奶奶, apron team (fixture)
export const V02 = '+8613700000002'; // 刘阿姨, apron team leader
export const V03 = '+8613700000003'; // 陈大妈, apron team
export const V04 = '+8613800000001'; // 张伟: a volunteer who is also r-001's son (family pages reach this phone)
export const W01 = '+8613900000001'; // 李明: nearest on-duty worker of r-001 (w-04 is nearer but never on duty)

/** The test registry's volunteers are one; visits need a leader, a colleague and a volunteer who is also family. */
export const EXTRA_VOLUNTEERS = [
  { id: 'v-02', name: '刘阿姨', phone: V02, team: 'apron', leader: true },
  { id: 'v-03', name: '陈大妈', phone: V03, team: 'apron' },
  { id: 'v-04', name: '张伟', phone: V04, team: 'sons' },
];

/** test/fixtures/registry.yaml with the extra volunteers (and anything in `extra` appended to its lists). */
export function visitsRegistry(extra: Record<string, unknown[]> = {}): Record<string, unknown> {
  const doc = parseYaml(readFileSync(TEST_REGISTRY, 'utf8')) as Record<string, unknown>;
  const lists: Record<string, unknown[]> = { volunteers: EXTRA_VOLUNTEERS, ...extra };
  for (const [key, items] of Object.entries(lists)) doc[key] = [...((doc[key] as unknown[] | undefined) ?? []), ...items];
  return doc;
}

type Gateway = TestGateway['gateway'];

/** An inbound SMS through the gateway's ReplyRouter, received now by its clock; resolves with how it was handled. */
export async function textFrom(gateway: Pick<Gateway, 'replies' | 'clock'>, from: string, body: string): Promise<string> {
  const sms = { provider: 'twilio' as const, from, body, providerSid: null, receivedAt: gateway.clock.now() };
  return (await gateway.replies.handle(sms)).handledAs;
}

/** The door alarms raised, as `resident/volunteer`: incidents created or joined by a `door_unanswered` alarm, oldest first. */
export async function doorAlarmsOf(gateway: Pick<Gateway, 'store'>): Promise<string[]> {
  const { store } = gateway;
  const raised: { at: number; id: number; alarm: string }[] = [];
  for (const incident of await store.incidents.list({ limit: 1000 }))
    for (const entry of await store.incidents.listAudit(incident.id))
      if (entry.detail?.alarm === 'door_unanswered' && (entry.action === 'created' || entry.action === 'alarm_joined'))
        raised.push({ at: entry.at, id: entry.id, alarm: `${incident.residentId}/${String(entry.detail.volunteer)}` });
  return raised.sort((a, b) => a.at - b.at || a.id - b.id).map((r) => r.alarm);
}

/** The test gateway on a ManualClock with visit jobs run by hand, and helpers for the visit tests. */
export interface VisitsGateway {
  /** The running test gateway (a new one after restart()). */
  tg: TestGateway;
  gateway: Gateway;
  clock: ManualClock;
  store: Gateway['store'];
  /** The gateway's visit service, or the one a test put in its place (newService). */
  visits: VisitService;
  /** Outbound SMS to a phone, oldest first. */
  smsTo(phone: string): Promise<OutboundSms[]>;
  /** An inbound SMS through the gateway's ReplyRouter; resolves with how it was handled. */
  text(from: string, body: string): Promise<string>;
  /** The door alarms raised, as `resident/volunteer`: incidents created or joined by a `door_unanswered` alarm. */
  doorAlarms(): Promise<string[]>;
  /**
   * A VisitService with other settings (points rate, reminder time, triggers: settings no configuration reaches) over
   * the gateway's own store, dispatcher and replies; stopped on close.
   */
  newService(over?: Partial<VisitServiceDeps>): VisitService;
  /** A process restart over the same data dir and clock; returns the new gateway's visit service. */
  restart(): Promise<VisitService>;
  close(): Promise<void>;
}

export async function startVisitsGateway(opts: TestGatewayOptions & { clock?: ManualClock } = {}): Promise<VisitsGateway> {
  const clock = opts.clock ?? new ManualClock(onDay(0, 12));
  let tg = await startTestGateway({ twilio: false, jobs: 'manual', registry: visitsRegistry(), ...opts, clock });
  let visits = tg.gateway.visits;
  const services: VisitService[] = [];
  const rig: VisitsGateway = {
    get tg() {
      return tg;
    },
    get gateway() {
      return tg.gateway;
    },
    clock,
    get store() {
      return tg.gateway.store;
    },
    get visits() {
      return visits;
    },
    set visits(service) {
      visits = service;
    },
    smsTo: async (phone) => (await tg.gateway.store.sms.list(1000)).filter((m) => m.to === phone).reverse(),
    text: (from, body) => textFrom(tg.gateway, from, body),
    doorAlarms: () => doorAlarmsOf(tg.gateway),
    newService(over = {}) {
      const g = tg.gateway;
      const service = new VisitService({
        store: g.store,
        clock,
        log: silentLogger(),
        timeZone: TZ,
        sms: g.dispatcher,
        replies: g.replies,
        onDoorUnanswered: doorUnansweredAlarm({ volunteers: g.store.registry, incidents: g.incidents }),
        triggers: 'manual',
        ...over,
      });
      services.push(service);
      return service;
    },
    async restart() {
      for (const s of services.splice(0)) await s.stop();
      tg = await tg.restart();
      visits = tg.gateway.visits;
      return visits;
    },
    async close() {
      for (const s of services.splice(0)) await s.stop();
      await tg.stop();
    },
  };
  return rig;
}
