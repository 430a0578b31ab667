// The SMS simulator as one server: the Twilio-, Aliyun- or Tencent-compatible API (behind a small proxy), answering
// phones, and a web page of every phone's messages.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { text } from 'node:stream/consumers';
import { renderPhonesPage, type PhoneView } from './phone-page.js';
import { Responders, type PhoneNetwork, type ResponderSet, type SentReply } from './responders.js';
import { TwilioSimServer } from './twilio-server.js';
import type { DomesticSmsSim } from './domestic-base.js';
import { createDomesticSim, domesticPhoneNetwork, type DomesticSimSetup } from './domestic-network.js';
import { formatDuration } from '../common/duration.js';
import { parsePhoneAction, type CallSource } from '../common/phone-calls.js';

export interface SmsSimulatorOptions {
  host?: string;
  port?: number;
  accountSid?: string;
  authToken?: string;
  callbackDelayMs?: number;
  /** The gateway's PUBLIC_URL: replies and status callbacks are signed over it. */
  gatewayUrl: string;
  /** Where the gateway is actually reached from here, when that differs from gatewayUrl (port mapping, proxy). */
  reachGatewayAt?: string;
  set: ResponderSet;
  /** Who a phone belongs to, when a registry is known. */
  label?: (phone: string) => string | null;
  /** Phones listed on the page before anyone texted them. */
  knownPhones?: readonly string[];
  timeZone?: string;
  /** Aliyun or Tencent instead of Twilio: the API answered, and the format replies and receipts are pushed in. */
  domestic?: DomesticSimSetup;
}

const API_PREFIX = '/2010-04-01/';
const WEBHOOK_PATH = '/webhooks/twilio/sms';
const MAX_FORM_BYTES = 4096;

export class SmsSimulator {
  readonly twilio: TwilioSimServer;
  /** The Aliyun or Tencent simulator when `domestic` is given; the Twilio one then stays idle. */
  readonly domestic: DomesticSmsSim | null;
  readonly responders: Responders;
  private server: Server | null = null;
  private address = '';
  /** Voice calls shown on the phones page: the Twilio server's own, and any other provider's (Tencent VMS). */
  private readonly callSources: CallSource[] = [];

  constructor(private readonly opts: SmsSimulatorOptions) {
    const gateway = opts.gatewayUrl.replace(/\/+$/, '');
    const reach = opts.reachGatewayAt?.replace(/\/+$/, '');
    const deliverTo = reach ? (url: string) => (url.startsWith(gateway) ? reach + url.slice(gateway.length) : url) : undefined;
    this.twilio = new TwilioSimServer({
      ...(opts.accountSid ? { accountSid: opts.accountSid } : {}),
      ...(opts.authToken ? { authToken: opts.authToken } : {}),
      callbackDelayMs: opts.callbackDelayMs ?? 200,
      ...(deliverTo ? { deliverTo } : {}),
    });
    this.domestic = opts.domestic ? createDomesticSim(opts.domestic, reach ?? gateway) : null;
    const network: PhoneNetwork = this.domestic ? domesticPhoneNetwork(this.domestic) : this.twilio;
    this.responders = new Responders({
      sim: network,
      set: opts.set,
      webhookUrl: (reach ?? gateway) + WEBHOOK_PATH,
      signedUrl: gateway + WEBHOOK_PATH,
    });
    this.callSources.push(this.twilio.calls);
  }

  /** Shows another voice provider's calls (a Tencent VMS simulator) on the phones page, with the same keypad. */
  addCallSource(source: CallSource): void {
    this.callSources.push(source);
  }

  /** The base URL to give the gateway as TWILIO_API_URL (or ALIYUN_SMS_ENDPOINT / TENCENT_SMS_ENDPOINT), and to open in a browser. */
  get url(): string {
    return this.address;
  }

  async start(): Promise<{ url: string }> {
    await this.twilio.start({ host: '127.0.0.1', port: 0 });
    await this.domestic?.start({ host: '127.0.0.1', port: 0 });
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`simulator error: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address();
    const port = addr && typeof addr === 'object' ? addr.port : 0;
    this.address = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
    this.responders.start();
    return { url: this.address };
  }

  async stop(): Promise<void> {
    await this.responders.stop();
    const server = this.server;
    this.server = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.twilio.stop();
    await this.domestic?.stop();
  }

  /** Every message the phones received, from whichever provider is simulated. */
  private received(): { to: string; body: string; receivedAt: number; status: string }[] {
    return this.domestic ? this.domestic.messages() : this.twilio.messages();
  }

  /** Every phone that was texted, replied, has a rule or is known, with its conversation; most recent activity first. */
  phones(): PhoneView[] {
    const messages = this.received();
    const replies = this.responders.replies();
    const calls = this.callSources.flatMap((s) => s.list());
    const numbers = new Set<string>([
      ...(this.opts.knownPhones ?? []),
      ...this.responders.rules().map((r) => r.phone),
      ...messages.map((m) => m.to),
      ...replies.map((r) => r.from),
      ...calls.map((c) => c.to),
    ]);
    const views = [...numbers].map((phone): PhoneView & { last: number } => {
      const received = messages.filter((m) => m.to === phone);
      const sent = replies.filter((r) => r.from === phone);
      const b = this.responders.behaviourOf(phone);
      return {
        phone,
        label: this.opts.label?.(phone) ?? null,
        behaviour: b.reply === null ? 'never replies' : `replies "${b.reply}" after ${formatDuration(b.afterMs)}`,
        received,
        sent,
        calls: calls.filter((c) => c.to === phone).sort((a, b) => a.createdAt - b.createdAt),
        last: Math.max(
          0,
          ...received.map((m) => m.receivedAt),
          ...sent.map((r) => r.at),
          ...calls.filter((c) => c.to === phone).map((c) => c.createdAt),
        ),
      };
    });
    return views.sort((a, b) => b.last - a.last || (a.phone < b.phone ? -1 : 1)).map(({ last: _last, ...view }) => view);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname.startsWith(API_PREFIX)) return this.proxy(req, res, this.twilio.url, false);
    // Aliyun's and Tencent's SDKs post to "/" and name the action in a header; their signatures cover the Host header.
    if (this.domestic && (req.headers['x-acs-action'] || req.headers['x-tc-action'])) return this.proxy(req, res, this.domestic.url, true);
    if (req.method === 'GET' && url.pathname === '/') {
      const replyFormat = this.domestic
        ? this.domestic.provider === 'aliyun'
          ? 'Aliyun SmsUp pushes'
          : 'Tencent reply callbacks'
        : 'signed Twilio webhooks';
      const html = renderPhonesPage(this.phones(), {
        timeZone: this.opts.timeZone ?? 'Asia/Shanghai',
        refreshSeconds: 3,
        gatewayUrl: this.opts.gatewayUrl,
        replyFormat,
      });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/phones.json') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(this.phones()));
      return;
    }
    const reply = /^\/phones\/([^/]+)\/reply$/.exec(url.pathname);
    if (req.method === 'POST' && reply?.[1]) {
      const phone = decodeURIComponent(reply[1]);
      const form = new URLSearchParams((await text(req)).slice(0, MAX_FORM_BYTES));
      const body = (form.get('body') ?? '').trim();
      if (!/^\+\d{7,15}$/.test(phone) || body === '') {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('expected a phone number and a non-empty body');
        return;
      }
      await this.responders.reply(phone, body);
      res.writeHead(303, { location: '/' }).end();
      return;
    }
    const call = /^\/calls\/([^/]+)\/act$/.exec(url.pathname);
    if (req.method === 'POST' && call?.[1]) {
      const action = parsePhoneAction(new URLSearchParams((await text(req)).slice(0, MAX_FORM_BYTES)).get('action') ?? '');
      const id = decodeURIComponent(call[1]);
      if (!action || !this.callSources.some((s) => s.act(id, action))) {
        res.writeHead(409, { 'content-type': 'text/plain; charset=utf-8' }).end('no such call waiting for that, or an unknown action');
        return;
      }
      res.writeHead(303, { location: '/' }).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
  }

  /** Passes an API request to the inner simulator as is; a destroyed socket there is a destroyed socket here. */
  private proxy(req: IncomingMessage, res: ServerResponse, target: string, keepHost: boolean): Promise<void> {
    const inner = new URL(target);
    return new Promise<void>((resolve) => {
      const upstream = httpRequest(
        {
          host: inner.hostname,
          port: inner.port,
          method: req.method,
          path: req.url,
          headers: keepHost ? req.headers : { ...req.headers, host: inner.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => resolve());
          answer.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      upstream.on('error', () => {
        res.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  }
}

export type { SentReply };
