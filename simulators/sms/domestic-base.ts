// What the Aliyun- and Tencent-compatible SMS simulators share: the HTTP listener, fault injection, approved templates,
// the message log with its delivery outcomes, and JSON pushes to the gateway's callback URLs.
import { EventEmitter, setMaxListeners } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { waitForMatch } from '../common/wait.js';
import { SimTimers } from '../common/timers.js';

/** 5xx answers, a destroyed socket, the provider's flow control, or its "template not approved" refusal. */
export type DomesticFault = 500 | 502 | 503 | 'network' | 'throttle' | 'template_unapproved';
export type DomesticOutcome = 'delivered' | 'undelivered';

/** One accepted message, as the phone shows it. */
export interface DomesticMessage {
  provider: 'aliyun' | 'tencent';
  /** The provider's id (Aliyun BizId, Tencent SerialNo). */
  sid: string;
  /** E.164. */
  to: string;
  /** The approved template's text with its parameters filled in. */
  body: string;
  template: string;
  params: Record<string, string> | string[];
  /** Aliyun OutId / Tencent SessionContext: the gateway's message id. */
  context: string | null;
  signName: string;
  status: 'accepted' | DomesticOutcome;
  errorCode: string | null;
  receivedAt: number;
  /** performance.now() at arrival, for latency measurements. */
  receivedHr: number;
}

export interface DomesticRequest {
  action: string | null;
  /** HTTP status answered, or null when the socket was destroyed. */
  status: number | null;
  /** The provider's error code in the answer, if any (e.g. SignatureDoesNotMatch). */
  code: string | null;
  fault: DomesticFault | null;
  receivedAt: number;
  receivedHr: number;
}

/** One push to the gateway (receipt or reply) and what it answered. */
export interface DomesticPush {
  kind: 'receipt' | 'reply';
  url: string;
  body: unknown;
  httpStatus: number | null;
  answer: string;
  error: string | null;
  at: number;
}

export interface DomesticEvents {
  message: [DomesticMessage];
  /** An accepted message reached its outcome (delivered or not). */
  status: [DomesticMessage];
  push: [DomesticPush];
}

export interface DomesticSimOptions {
  /** The approved templates: the registry's catalogue, as submitted and approved. */
  catalogue: TemplateCatalogue;
  /** Approved signatures. */
  signNames: readonly string[];
  /** Pause before a receipt is pushed or queued (ms). */
  receiptDelayMs?: number;
  /** Receipts wait for `releaseReceipts()` instead of the delay: a carrier that answers when told to. */
  holdReceipts?: boolean;
}

export interface HandledAnswer {
  status: number;
  body: unknown;
  code: string | null;
}

export abstract class DomesticSmsSim extends EventEmitter<DomesticEvents> {
  abstract readonly provider: 'aliyun' | 'tencent';
  private server: Server | null = null;
  private host = '127.0.0.1';
  private port = 0;
  protected stopped = false;
  private readonly faults: DomesticFault[] = [];
  private outage: DomesticFault | null = null;
  private readonly outcomes = new Map<string, DomesticOutcome>();
  protected readonly store = new Map<string, DomesticMessage>();
  private readonly requestLog: DomesticRequest[] = [];
  private readonly pushLog: DomesticPush[] = [];
  private readonly timers = new SimTimers();
  private readonly held: (() => Promise<void>)[] = [];
  protected readonly abort = new AbortController();

  constructor(protected readonly opts: DomesticSimOptions) {
    super();
    setMaxListeners(0, this.abort.signal);
  }

  async start(opts: { port?: number; host?: string } = {}): Promise<{ url: string }> {
    this.host = opts.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`simulator error: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.server = server;
    return { url: this.url };
  }

  /** The base URL to give the gateway as ALIYUN_SMS_ENDPOINT / TENCENT_SMS_ENDPOINT. */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    this.abort.abort();
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  // ---- fault injection -------------------------------------------------------------------------

  /** The next `n` send requests fail this way. */
  failNext(n: number, fault: DomesticFault): void {
    for (let i = 0; i < n; i++) this.faults.push(fault);
  }

  /** Every send fails this way until `setOutage(null)`. */
  setOutage(fault: DomesticFault | null): void {
    this.outage = fault;
  }

  /** What happens to messages to `phone` once accepted (default: delivered). */
  setDeliveryOutcome(phone: string, outcome: DomesticOutcome): void {
    this.outcomes.set(phone, outcome);
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.outage = null;
    this.outcomes.clear();
  }

  // ---- observation ------------------------------------------------------------------------------

  messages(): DomesticMessage[] {
    return [...this.store.values()];
  }

  requests(): DomesticRequest[] {
    return [...this.requestLog];
  }

  pushes(): DomesticPush[] {
    return [...this.pushLog];
  }

  waitForMessage(predicate: (m: DomesticMessage) => boolean = () => true, timeoutMs = 5000): Promise<DomesticMessage> {
    const subscribe = (fn: (m: DomesticMessage) => void): (() => void) => {
      this.on('message', fn);
      this.on('status', fn);
      return () => {
        this.off('message', fn);
        this.off('status', fn);
      };
    };
    return waitForMatch({
      existing: this.messages().find(predicate),
      subscribe,
      predicate,
      timeoutMs,
      what: `${this.provider} simulator: no matching message`,
    });
  }

  waitForPush(predicate: (p: DomesticPush) => boolean = () => true, timeoutMs = 5000): Promise<DomesticPush> {
    const subscribe = (fn: (p: DomesticPush) => void): (() => void) => {
      this.on('push', fn);
      return () => this.off('push', fn);
    };
    return waitForMatch({
      existing: this.pushes().find(predicate),
      subscribe,
      predicate,
      timeoutMs,
      what: `${this.provider} simulator: no matching push`,
    });
  }

  /** A phone replies: pushed to the gateway's reply callback (or queued for a pull), in the provider's format. */
  abstract reply(from: string, body: string): Promise<DomesticPush | null>;

  // ---- for the provider servers ------------------------------------------------------------------

  /** Handles one API request whose body has been read; the subclass verifies the signature and answers. */
  protected abstract handle(req: IncomingMessage, raw: string, entry: DomesticRequest): Promise<HandledAnswer>;

  /** A fault for the next send, if one is due. */
  protected takeFault(): DomesticFault | null {
    return this.faults.shift() ?? this.outage;
  }

  protected outcomeFor(phone: string): DomesticOutcome {
    return this.outcomes.get(phone) ?? 'delivered';
  }

  /** Records an accepted message and, after the receipt delay, settles its outcome through `settle`. */
  protected accept(message: DomesticMessage, settle: (m: DomesticMessage) => Promise<void>): void {
    this.store.set(message.sid, message);
    this.emit('message', message);
    const receipt = async (): Promise<void> => {
      const outcome = this.outcomeFor(message.to);
      message.status = outcome;
      message.errorCode = outcome === 'delivered' ? null : 'MK:0001';
      this.emit('status', message);
      await settle(message);
    };
    if (this.opts.holdReceipts) this.held.push(receipt);
    else this.later(this.opts.receiptDelayMs ?? 20, receipt);
  }

  /** With `holdReceipts`: the carrier answers for every message accepted so far; resolves once they are pushed or queued. */
  async releaseReceipts(): Promise<void> {
    const due = this.held.splice(0);
    await Promise.all(due.map((r) => r()));
  }

  /** POSTs JSON to the gateway, as the provider pushes it; never throws. */
  protected async pushJson(kind: DomesticPush['kind'], url: string, body: unknown): Promise<DomesticPush> {
    const record: DomesticPush = { kind, url, body, httpStatus: null, answer: '', error: null, at: Date.now() };
    try {
      const { status, text } = await postJson(url, body, this.abort.signal);
      record.httpStatus = status;
      record.answer = text;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
    }
    if (!this.stopped) {
      this.pushLog.push(record);
      this.emit('push', record);
    }
    return record;
  }

  protected later(ms: number, work: () => Promise<void>): void {
    this.timers.after(ms, () => {
      if (!this.stopped) void work();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: DomesticRequest = {
      action: null,
      status: null,
      code: null,
      fault: null,
      receivedAt: Date.now(),
      receivedHr: performance.now(),
    };
    this.requestLog.push(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const raw = Buffer.concat(chunks).toString('utf8');
    const answer = await this.handle(req, raw, entry);
    if (entry.fault === 'network') {
      req.socket.destroy();
      return;
    }
    entry.status = answer.status;
    entry.code = answer.code;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json;charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
}

/** Fills `${name}` placeholders (Aliyun's) with named values, or `{1}`, `{2}` (Tencent's) with positional ones. */
export function fillTemplate(text: string, params: Record<string, string> | string[]): string {
  if (Array.isArray(params)) return text.replace(/\{(\d+)\}/g, (_m, i: string) => params[Number(i) - 1] ?? '');
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => params[name] ?? '');
}

/** The catalogue text in Tencent's positional form: `${name}` becomes `{n}` after the template's parameter order. */
export function positionalText(text: string, order: readonly string[]): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, name: string) => {
    const i = order.indexOf(name);
    return i >= 0 ? `{${i + 1}}` : m;
  });
}

/** E.164 from a domestic number as a request carries it (11 digits, 86…, 0086… or +86…). */
export function toE164(number: string): string | null {
  const n = number.trim();
  if (/^\+[1-9]\d{6,14}$/.test(n)) return n;
  if (/^1\d{10}$/.test(n)) return `+86${n}`;
  if (/^(0086|86)1\d{10}$/.test(n)) return `+86${n.replace(/^(0086|86)/, '')}`;
  return null;
}

function postJson(url: string, body: unknown, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const data = JSON.stringify(body);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        signal,
        timeout: 10_000,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(data);
  });
}
