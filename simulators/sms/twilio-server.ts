// A local Twilio-compatible SMS API: the real twilio SDK sends through it, and it answers with Twilio's JSON,
// signed status callbacks and simulated replies, plus fault injection for tests.
import { EventEmitter, setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { text } from 'node:stream/consumers';
import { postSigned, type SignedPostResult } from './signed-post.js';
import {
  API_VERSION,
  OUTCOME_ERRORS,
  callbackParams,
  errorBody,
  messageJson,
  messageListJson,
  newSid,
  segmentsOf,
  validateCreate,
  type SimMessage,
} from './twilio-format.js';

import { TwilioCalls } from './twilio-calls.js';
import {
  LIFECYCLES,
  type DeliveryOutcome,
  type FaultKind,
  type SimCallback,
  type SimEvents,
  type SimRequest,
  type TwilioSimOptions,
} from './sim-types.js';
import { waitForMatch } from '../common/wait.js';
import { SimTimers } from '../common/timers.js';

export type { SimMessage, TwilioMessageStatus } from './twilio-format.js';
export type { DeliveryOutcome, FaultKind, SimCallback, SimRequest, TwilioSimOptions } from './sim-types.js';

/** Twilio's magic test number, used as the sender when none is known. */
const DEFAULT_NUMBER = '+15005550006';

/**
 * One controller cancels every pending callback when the server stops. Each in-flight callback listens on its signal,
 * and a storm has hundreds in flight at once: that is by design, not a leak, so the listener warning is lifted.
 */
function abortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export class TwilioSimServer extends EventEmitter<SimEvents> {
  readonly accountSid: string;
  readonly authToken: string;
  private server: Server | null = null;
  private host = '127.0.0.1';
  private port = 0;
  private down = false;
  private stopped = false;
  private latencyMs = 0;
  /** While set, every API answer waits for it: a provider that is slow for exactly as long as a test says. */
  private held: { answered: Promise<void>; release: () => void } | null = null;
  private faults: FaultKind[] = [];
  /** Set during a simulated outage: every message-create fails this way until it is cleared. */
  private outage: FaultKind | null = null;
  private readonly outcomes = new Map<string, DeliveryOutcome>();
  private readonly store = new Map<string, SimMessage>();
  private readonly requestLog: SimRequest[] = [];
  private readonly callbackLog: SimCallback[] = [];
  private readonly timers = new SimTimers();
  private readonly abort = abortController();
  /** Voice calls (the Calls resource): scripted phones for tests, live ones for the phones page. */
  readonly calls: TwilioCalls;

  constructor(private readonly opts: TwilioSimOptions = {}) {
    super();
    this.accountSid = opts.accountSid ?? `AC${randomBytes(16).toString('hex')}`;
    this.authToken = opts.authToken ?? randomBytes(16).toString('hex');
    this.calls = new TwilioCalls({
      accountSid: this.accountSid,
      authToken: this.authToken,
      signal: this.abort.signal,
      sleep: (ms) => this.timers.sleep(ms),
      ...(opts.deliverTo ? { deliverTo: opts.deliverTo } : {}),
      ...opts.voice,
    });
  }

  async start(opts: { port?: number; host?: string } = {}): Promise<{ url: string }> {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    await this.listen();
    return { url: this.url };
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    this.abort.abort();
    this.releaseAnswers();
    await this.close();
  }

  // ---- fault injection -------------------------------------------------------------------------

  /** The next `n` message-create requests fail: a 429/5xx JSON error, or a destroyed socket for 'network'. */
  failNext(n: number, fault: { status: FaultKind }): void {
    for (let i = 0; i < n; i++) this.faults.push(fault.status);
  }

  /**
   * An outage of the messaging API: from now until `setOutage(null)`, every message-create fails with this fault (a
   * 5xx or 429 with Twilio's JSON error body, or a destroyed socket). Fetches and lists keep working, as they tend to.
   */
  setOutage(fault: FaultKind | null): void {
    this.outage = fault;
  }

  /** What happens to messages sent to `phone` after they are accepted (default: delivered). */
  setDeliveryOutcome(phone: string, outcome: DeliveryOutcome): void {
    this.outcomes.set(phone, outcome);
  }

  /** Down: the listener is closed, so connections are refused. Up again: it listens on the same port. */
  async setDown(down: boolean): Promise<void> {
    if (down === this.down) return;
    this.down = down;
    if (down) await this.close();
    else await this.listen();
  }

  /** Delays every API answer by `ms`. */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /**
   * Holds every API answer from now until `releaseAnswers()` (or stop): requests are received and logged, and answered
   * only then. Shows what does not wait for the provider, by order instead of by time.
   */
  holdAnswers(): void {
    if (this.held) return;
    let release = (): void => undefined;
    const answered = new Promise<void>((resolve) => (release = resolve));
    this.held = { answered, release };
  }

  releaseAnswers(): void {
    this.held?.release();
    this.held = null;
  }

  clearFaults(): void {
    this.faults = [];
    this.outage = null;
    this.outcomes.clear();
    this.latencyMs = 0;
  }

  // ---- observation ------------------------------------------------------------------------------

  /** Accepted outbound messages, oldest first, with their current status. */
  messages(): SimMessage[] {
    return [...this.store.values()];
  }

  requests(): SimRequest[] {
    return [...this.requestLog];
  }

  callbacks(): SimCallback[] {
    return [...this.callbackLog];
  }

  /** How many messages were accepted and status callbacks posted, without copying either log. */
  counts(): { messages: number; callbacks: number } {
    return { messages: this.store.size, callbacks: this.callbackLog.length };
  }

  /** Resolves with the first accepted message matching `predicate`, including ones already received. */
  waitForMessage(predicate: (m: SimMessage) => boolean = () => true, timeoutMs = 5000): Promise<SimMessage> {
    const subscribe = (fn: (m: SimMessage) => void): (() => void) => {
      this.on('message', fn);
      return () => this.off('message', fn);
    };
    return waitForMatch({
      existing: this.messages().find(predicate),
      subscribe,
      predicate,
      timeoutMs,
      what: 'Twilio simulator: no matching message',
    });
  }

  /** Resolves with the first status callback (delivered or not) matching `predicate`. */
  waitForCallback(predicate: (c: SimCallback) => boolean = () => true, timeoutMs = 5000): Promise<SimCallback> {
    const subscribe = (fn: (c: SimCallback) => void): (() => void) => {
      this.on('callback', fn);
      return () => this.off('callback', fn);
    };
    return waitForMatch({
      existing: this.callbacks().find(predicate),
      subscribe,
      predicate,
      timeoutMs,
      what: 'Twilio simulator: no matching status callback',
    });
  }

  /**
   * A phone replies: posts a signed inbound-SMS webhook to the gateway. `signedUrl` is the URL Twilio is
   * configured with (PUBLIC_URL + path) when it differs from the address reached.
   */
  async reply(
    from: string,
    body: string,
    opts: { webhookUrl: string; signedUrl?: string; to?: string },
  ): Promise<SignedPostResult & { params: Record<string, string> }> {
    const sid = newSid('SM');
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: API_VERSION,
      Body: body,
      From: from,
      MessageSid: sid,
      NumMedia: '0',
      NumSegments: String(segmentsOf(body).numSegments),
      SmsMessageSid: sid,
      SmsSid: sid,
      SmsStatus: 'received',
      To: opts.to ?? this.numberLastUsedFor(from),
    };
    const result = await postSigned({
      authToken: this.authToken,
      signedUrl: opts.signedUrl ?? opts.webhookUrl,
      deliverTo: opts.webhookUrl,
      params,
      signal: this.abort.signal,
    });
    return { ...result, params };
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.json(res, 500, errorBody(500, 20500, `simulator error: ${String(err)}`));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.server = server;
  }

  private async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive sockets would otherwise keep answering after the listener is gone.
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: SimRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: null,
      fault: null,
      receivedAt: Date.now(),
      receivedHr: performance.now(),
    };
    this.requestLog.push(entry);
    const raw = await readBody(req);
    if (this.latencyMs > 0) await this.timers.sleep(this.latencyMs);
    if (this.held) await this.held.answered;
    const reply = (status: number, body: unknown): void => {
      entry.status = status;
      this.json(res, status, body);
    };

    const path = new URL(entry.path, 'http://sim').pathname;
    if (/\/Calls(?:\/[^/]+)?\.json$/.test(path)) {
      if (!this.authorized(req) || !path.startsWith(`/${API_VERSION}/Accounts/${this.accountSid}/`))
        return reply(401, errorBody(401, 20003, 'Authenticate'));
      const answer = this.calls.handle(entry.method, path, new URLSearchParams(raw));
      if (answer) return reply(answer.status, answer.body);
    }
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\/([^/]+))?\.json$/.exec(path);
    if (!m) return reply(404, errorBody(404, 20404, `The requested resource ${path} was not found`));
    const [, account, messageSid] = m;

    if (entry.method === 'POST' && !messageSid) {
      const fault = this.faults.shift() ?? this.outage ?? undefined;
      if (fault !== undefined) {
        entry.fault = fault;
        if (fault === 'network') {
          req.socket.destroy();
          return;
        }
        return reply(fault, errorBody(fault, fault === 429 ? 20429 : 20500, fault === 429 ? 'Too Many Requests' : 'Internal Server Error'));
      }
    }
    if (!this.authorized(req)) return reply(401, errorBody(401, 20003, 'Authenticate'));
    if (account !== this.accountSid) {
      return reply(404, errorBody(404, 20404, `The requested resource ${path} was not found`));
    }

    if (entry.method === 'POST' && !messageSid) {
      const created = this.create(new URLSearchParams(raw), entry);
      return reply(created.status, created.body);
    }
    if (entry.method === 'GET' && messageSid) {
      const found = this.store.get(messageSid);
      return found ? reply(200, messageJson(found)) : reply(404, errorBody(404, 20404, `The requested resource ${path} was not found`));
    }
    if (entry.method === 'GET') {
      const q = new URL(entry.path, 'http://sim').searchParams;
      const pageSize = Math.min(1000, Number(q.get('PageSize') ?? 50) || 50);
      const list = this.messages()
        .filter((x) => (!q.get('To') || x.to === q.get('To')) && (!q.get('From') || x.from === q.get('From')))
        .reverse()
        .slice(0, pageSize);
      return reply(200, messageListJson(this.accountSid, list, pageSize));
    }
    return reply(405, errorBody(405, 20004, 'Method not allowed'));
  }

  private create(params: URLSearchParams, entry: SimRequest): { status: number; body: unknown } {
    const checked = validateCreate(params);
    if (!checked.ok) return { status: checked.error.status, body: checked.error };
    const { to, from, service, body, callback } = checked;
    const now = Date.now();
    const message: SimMessage = {
      sid: newSid('SM'),
      accountSid: this.accountSid,
      to,
      from,
      messagingServiceSid: service,
      body,
      statusCallback: callback,
      status: from ? 'queued' : 'accepted',
      direction: 'outbound-api',
      ...segmentsOf(body),
      errorCode: null,
      errorMessage: null,
      dateCreated: now,
      dateUpdated: now,
      dateSent: null,
      receivedAt: entry.receivedAt,
      receivedHr: entry.receivedHr,
    };
    this.store.set(message.sid, message);
    const answer = messageJson(message);
    this.emit('message', message);
    void this.runLifecycle(message);
    return { status: 201, body: answer };
  }

  /** Moves an accepted message through its outcome, posting a signed callback for each state. */
  private async runLifecycle(message: SimMessage): Promise<void> {
    const steps = LIFECYCLES[this.outcomes.get(message.to) ?? 'delivered'];
    for (const status of steps) {
      await this.timers.sleep(this.opts.callbackDelayMs ?? 10);
      if (this.stopped) return;
      message.status = status;
      message.dateUpdated = Date.now();
      if (status === 'sent') message.dateSent = message.dateUpdated;
      if (status === 'failed' || status === 'undelivered') {
        message.errorCode = OUTCOME_ERRORS[status].code;
        message.errorMessage = OUTCOME_ERRORS[status].message;
      }
      if (message.statusCallback) await this.postCallback(message, message.statusCallback);
    }
  }

  private async postCallback(message: SimMessage, url: string): Promise<void> {
    const params = callbackParams(message, this.opts.defaultNumber ?? DEFAULT_NUMBER);
    const record: SimCallback = {
      messageSid: message.sid,
      status: message.status,
      url,
      params,
      signature: '',
      httpStatus: null,
      error: null,
      at: Date.now(),
    };
    try {
      const result = await postSigned({
        authToken: this.authToken,
        signedUrl: url,
        deliverTo: this.opts.deliverTo ? this.opts.deliverTo(url) : url,
        params,
        signal: this.abort.signal,
      });
      record.signature = result.signature;
      record.httpStatus = result.status;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
    }
    if (this.stopped) return;
    this.callbackLog.push(record);
    this.emit('callback', record);
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 && decoded.slice(0, colon) === this.accountSid && decoded.slice(colon + 1) === this.authToken;
  }

  private numberLastUsedFor(phone: string): string {
    const last = this.messages()
      .filter((x) => x.to === phone && x.from)
      .at(-1);
    return last?.from ?? this.opts.defaultNumber ?? DEFAULT_NUMBER;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  return text(req);
}
