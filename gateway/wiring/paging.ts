// Wires the paging side: SMS providers and their caps, the template catalogue, the dispatcher, page links and the pager.
import { loadLinkSecret, LinkSigner } from '../http/links.js';
import { PageDelivery } from '../incidents/page-delivery.js';
import { FirstPageLatency } from '../metrics/first-page.js';
import { LoopWatch } from '../metrics/loop-watch.js';
import { SlowAlarmLog } from '../metrics/slow-alarms.js';
import { DEFAULT_CAP_SETTINGS, SendCaps } from '../notifiers/caps.js';
import { SmsDispatcher } from '../notifiers/dispatcher.js';
import type { TemplateCatalogue } from '../notifiers/intent.js';
import type { SmsProvider } from '../notifiers/provider.js';
import { buildSmsProviders, capRules, carriesLinks, catalogueInForce, parseStoredCatalogue, type SmsSettings } from '../notifiers/setup.js';
import { PageLinkCodeBook } from '../paging/link-codes.js';
import { Pager } from '../paging/pager.js';
import { DEFAULT_REPLY_WINDOW_MS, ReplyCodeBook } from '../paging/reply-codes.js';
import type { RegistryRepo } from '../storage/ports.js';
import type { VoiceCalls } from '../voice/calls.js';
import type { Base } from './base.js';

export interface PagingParts {
  provider: SmsProvider;
  /** SMS_FALLBACK_PROVIDER: takes a page at once when the first provider fails it; null without one. */
  fallbackProvider: SmsProvider | null;
  /** The short codes SMS carry for the incident page (the fixed link `PUBLIC_URL/i`). */
  linkCodes: PageLinkCodeBook;
  /** Which of an incident's SMS keep trying through a provider outage, and delayed pages on the timeline. */
  pageDelivery: PageDelivery;
  dispatcher: SmsDispatcher;
  /** Signs the incident-page links in pages and checks them on the page (secret in DATA_DIR/link-secret). */
  links: LinkSigner;
  /** Throws (one line) if these `sms.templates` could not be the catalogue in force: checked before an import commits. */
  checkCatalogue: (templates: TemplateCatalogue) => void;
}

/** What the rest of the wiring needs from the paging side, beyond the gateway's public parts. */
export interface PagingInternals {
  pager: Pager;
  replyWindowMs: number;
  /** The secret in DATA_DIR/link-secret, from which the sign-in code key is derived too. */
  linkSecret: Buffer;
  /** False when a template provider is in use: it cannot carry a signed link in free text. */
  carriesLinks: boolean;
  firstPage: FirstPageLatency;
  /** ALARM_SLOW_LOG_MS: logs an alarm slow to its first SMS send, with where its time went. */
  slowAlarms: SlowAlarmLog;
  /** Loads the catalogue in force (the registry's `sms.templates`, else the built-in one); refuses a bad one. */
  loadCatalogue: () => Promise<void>;
}

export interface PagingWiring extends Base {
  /** Calls are wired after the dispatcher (they need the incidents); a diverted page reaches them at call time. */
  voice: () => VoiceCalls | null;
}

/** SMS_PROVIDER and the rest, or for a config built by hand, Twilio when configured else the outbox. */
function smsSettings(config: Base['config']): SmsSettings {
  return config.sms ?? { provider: config.twilio ? 'twilio' : 'outbox', fallback: null, caps: DEFAULT_CAP_SETTINGS, tencentMaxParam: 12 };
}

export function wirePaging(w: PagingWiring): PagingParts & PagingInternals {
  const { config, store, bus, metrics, clock, log } = w;
  const settings = smsSettings(config);
  let catalogue: TemplateCatalogue | null = null;
  const providers = buildSmsProviders(settings, {
    log,
    twilio: config.twilio,
    aliyun: config.aliyunSms ?? null,
    tencent: config.tencentSms ?? null,
    catalogue: () => catalogue ?? {},
  });
  const firstPage = new FirstPageLatency({ incidents: store.incidents, observe: (s) => metrics.alarmToFirstSms.observe(s) });
  // Through the port: only an engine that caches residents (PostgreSQL) says whether it holds one.
  const registry: RegistryRepo = store.registry;
  const slowAlarmMs = config.alarmSlowLogMs ?? 250;
  const slowAlarms = new SlowAlarmLog({
    thresholdMs: slowAlarmMs,
    log: log.child({ part: 'alarms' }),
    loop: new LoopWatch(),
    residentCached: (id) => registry.residentCached?.(id),
  });
  // Each COMMIT's own time, so a slow alarm's transaction is split into its statements and its COMMIT.
  if (slowAlarmMs > 0) store.database.observeCommits((c) => slowAlarms.commitTimed(c.ms));
  const linkCodes = new PageLinkCodeBook({ repo: store.linkCodes, clock });
  const pageDelivery = new PageDelivery({ incidents: store.incidents, bus, clock });
  const dispatcher = new SmsDispatcher({
    store,
    provider: providers.primary,
    fallback: providers.fallback,
    caps: new SendCaps({ repo: store.smsCaps, clock, rules: capRules(settings.caps) }),
    catalogue: () => catalogue ?? {},
    clock,
    log: log.child({ part: 'sms' }),
    bus,
    publicUrl: config.publicUrl,
    keepTrying: (msg) => pageDelivery.keepTrying(msg),
    // A page every SMS provider caps for this number is given to a call instead, when calls are on.
    divert: (msg, reason) => w.voice()?.callInstead(msg, reason) ?? Promise.resolve(false),
    onSent: (msg, latencyMs, startedAt) => {
      metrics.smsSent.inc({ purpose: msg.purpose, status: msg.status });
      metrics.smsSendDuration.observe(latencyMs / 1000);
      // The send's start, not now less its latency: the state was stored (a round trip or more) after the answer.
      firstPage.pageSent(msg, startedAt);
      slowAlarms.pageSent(msg, startedAt);
    },
    onFailed: (msg) => metrics.smsSendFailures.inc({ code: msg.errorCode ?? 'unknown' }),
    // Several nodes: each unsent SMS is sent by the node that holds its lease; a dead node's are taken over.
    ...(w.sharedWork ? { leasing: w.sharedWork.sms } : {}),
  });
  const linkSecret = loadLinkSecret(config);
  const replyWindowMs = config.smsReplyWindowMs ?? DEFAULT_REPLY_WINDOW_MS;
  const replyCodes = new ReplyCodeBook({ sms: store.sms, clock, windowMs: replyWindowMs });
  const pager = new Pager({
    sms: dispatcher,
    timeZone: config.timeZone,
    publicUrl: config.publicUrl,
    links: linkCodes,
    clock,
    replyCodes,
    pages: store.sms,
  });
  return {
    provider: providers.primary,
    fallbackProvider: providers.fallback,
    linkCodes,
    pageDelivery,
    dispatcher,
    links: new LinkSigner(linkSecret),
    pager,
    replyWindowMs,
    linkSecret,
    carriesLinks: carriesLinks(providers),
    firstPage,
    slowAlarms,
    checkCatalogue: (templates) => {
      catalogueInForce(templates, settings, config.publicUrl);
    },
    loadCatalogue: async () => {
      catalogue = catalogueInForce(parseStoredCatalogue(await store.registry.getSetting('sms_templates')), settings, config.publicUrl);
    },
  };
}
