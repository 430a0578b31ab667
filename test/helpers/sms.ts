// Test helpers for SMS: a local receiver for Twilio webhooks that checks signatures, and a polling wait.
import { createServer, type Server } from 'node:http';
import { text } from 'node:stream/consumers';
import { join } from 'node:path';
import twilio from 'twilio';
import { systemClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { SmsDispatcher, type NewOutboundSms, type NotifierEvents, type SmsDispatcherDeps } from '../../gateway/notifiers/dispatcher.js';
import type { OutboundSms } from '../../gateway/core/types.js';
import { intentOf } from '../../gateway/notifiers/kinds.js';
import { TwilioProvider } from '../../gateway/notifiers/twilio.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { TwilioSimServer, type TwilioSimOptions } from '../../simulators/sms/twilio-server.js';
import { tempDir } from './tmp.js';

export interface ReceivedWebhook {
  path: string;
  params: Record<string, string>;
  signature: string;
  /** What twilio.validateRequest said about the signature. */
  valid: boolean;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and answers 200 for a valid X-Twilio-Signature (over `signedBaseUrl` or its own
 * address, plus the path), 403 otherwise. `onValid` sees each
 * validly signed webhook (e.g. to hand it to the dispatcher) before the answer.
 */
export async function startWebhookReceiver(
  authToken: string,
  onValid: (hook: ReceivedWebhook) => Promise<void> | void = () => undefined,
  opts: { signedBaseUrl?: string } = {},
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let baseUrl = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const params = Object.fromEntries(new URLSearchParams(await text(req)));
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      const path = req.url ?? '/';
      const hook = {
        path,
        params,
        signature,
        valid: twilio.validateRequest(authToken, signature, (opts.signedBaseUrl ?? baseUrl) + path, params),
      };
      received.push(hook);
      if (hook.valid) await onValid(hook);
      res.writeHead(hook.valid ? 200 : 403, { 'content-type': 'text/xml' }).end('<Response/>');
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('receiver has no port');
  baseUrl = `http://127.0.0.1:${addr.port}`;
  return {
    url: baseUrl,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---- a dispatcher wired to the simulator, a real SQLite file and a signature-checking receiver ----

export interface SmsRig {
  sim: TwilioSimServer;
  readonly store: SqliteStore;
  dir: { path: string; remove: () => void };
  receiver: WebhookReceiver;
  bus: EventBus<NotifierEvents>;
  /** Every smsStatusChanged event, as `id:status`. */
  events: string[];
  readonly dispatcher: SmsDispatcher;
  twilioProvider: TwilioProvider;
  /** Builds another dispatcher over the current store (e.g. after a simulated crash); it becomes `dispatcher`, and close() stops it. */
  newDispatcher(over: Partial<SmsDispatcherDeps>): SmsDispatcher;
  /** Opens the same database file again (after the old handle was closed); later dispatchers use it. */
  reopenStore(): SqliteStore;
  close(): Promise<void>;
}

/** The gateway's Twilio provider (the official SDK) pointed at a Twilio simulator's `apiUrl`. */
export function simTwilioProvider(
  sim: TwilioSimServer,
  apiUrl: string,
  over: Partial<ConstructorParameters<typeof TwilioProvider>[0]> = {},
): TwilioProvider {
  return new TwilioProvider({
    accountSid: sim.accountSid,
    authToken: sim.authToken,
    from: '+15005550006',
    apiUrl,
    timeoutMs: 2000,
    log: silentLogger(),
    ...over,
  });
}

export async function startSmsRig(over: Partial<SmsDispatcherDeps> = {}, simOptions: TwilioSimOptions = {}): Promise<SmsRig> {
  const sim = new TwilioSimServer({ callbackDelayMs: 2, ...simOptions });
  const apiUrl = (await sim.start()).url;
  const dir = tempDir('care-gw-sms-');
  const file = join(dir.path, 'gateway.db');
  const dispatchers: SmsDispatcher[] = [];
  const events: string[] = [];
  const bus = new EventBus<NotifierEvents>(silentLogger());
  bus.on(events, 'smsStatusChanged', (m) => {
    events.push(`${m.id}:${m.status}`);
  });
  const twilioProvider = simTwilioProvider(sim, apiUrl);
  // Receipts go to whichever dispatcher is current, as the gateway's webhook route would do.
  const current: { dispatcher: SmsDispatcher | null; store: SqliteStore } = { dispatcher: null, store: openSqliteStore(file) };
  const receiver = await startWebhookReceiver(sim.authToken, async (hook) => {
    const { MessageSid, MessageStatus, ErrorCode } = hook.params;
    if (MessageSid && MessageStatus)
      await current.dispatcher?.handleStatusCallback({ MessageSid, MessageStatus, ErrorCode: ErrorCode ?? null });
  });
  const make = (more: Partial<SmsDispatcherDeps>): SmsDispatcher => {
    const d = new SmsDispatcher({
      store: current.store,
      provider: twilioProvider,
      clock: systemClock,
      log: silentLogger(),
      bus,
      publicUrl: receiver.url,
      backoffMs: () => 20,
      ...over,
      ...more,
    });
    dispatchers.push(d);
    current.dispatcher = d;
    return d;
  };
  const first = make({});
  return {
    sim,
    dir,
    receiver,
    bus,
    events,
    twilioProvider,
    get store() {
      return current.store;
    },
    get dispatcher() {
      return current.dispatcher ?? first;
    },
    newDispatcher: make,
    reopenStore() {
      current.store = openSqliteStore(file);
      return current.store;
    },
    async close() {
      for (const d of dispatchers) await d.stop();
      await twilioProvider.close();
      await sim.stop();
      await receiver.close();
      await current.store.close();
      dir.remove();
    },
  };
}

/** A message as the paging stage would hand it over. */
export function pageSms(to = '+8613800000001', name = '张桂兰'): NewOutboundSms {
  const intent = intentOf('page_first', { name, what: '按了求助', address: '安达里3号楼2门401', time: '14:05', ack: '1', pass: '2' });
  return {
    to,
    intent,
    priority: 'alarm',
    purpose: 'page',
    incidentId: 'inc-test',
    step: 1,
    role: 'worker',
    personId: 'w-01',
    context: { kind: 'incident', incidentId: 'inc-test' },
  };
}

/** The stored row of an SMS, or an error naming it. */
export async function storedSms(r: { store: { sms: { get(id: string): Promise<OutboundSms | null> } } }, id: string): Promise<OutboundSms> {
  const row = await r.store.sms.get(id);
  if (!row) throw new Error(`no stored SMS ${id}`);
  return row;
}
