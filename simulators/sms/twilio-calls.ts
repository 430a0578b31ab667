// The Calls resource of the local Twilio server: places a simulated call, fetches its TwiML, "plays" it, posts keys and statuses.
import { EventEmitter } from 'node:events';
import { PhoneActions, type PhoneAction, type SimCall } from '../common/phone-calls.js';
import { postSigned } from './signed-post.js';
import { parseTwiml } from './twiml.js';
import { API_VERSION, E164, errorBody, newSid, rfc2822 } from './twilio-format.js';
import { waitForCall } from '../common/wait.js';

export interface TwilioCallsOptions {
  accountSid: string;
  authToken: string;
  signal: AbortSignal;
  sleep: (ms: number) => Promise<void>;
  /** Maps a webhook URL to the address actually reached (as the SMS callbacks do). */
  deliverTo?: (url: string) => string;
  /** How long a live phone rings before no-answer, and waits for a key (default: the call's and the TwiML's timeouts). */
  ringMs?: number;
  gatherMs?: number;
  /** Pause between steps of a call, so statuses arrive in order and a demo can be followed (default 5 ms). */
  stepMs?: number;
}

interface CallState extends SimCall {
  url: string;
  statusCallback: string | null;
  events: Set<string>;
  ringSeconds: number;
  actions: PhoneActions;
  /** TwiML set by an update while the call plays: it replaces what is playing. */
  pendingTwiml: string | null;
  sequence: number;
  answeredAt: number | null;
}

export interface TwilioCallsEvents {
  call: [SimCall];
  callChanged: [SimCall];
}

type Answer = { status: number; body: unknown };

export class TwilioCalls extends EventEmitter<TwilioCallsEvents> {
  private readonly calls = new Map<string, CallState>();
  private readonly scripts = new Map<string, PhoneAction[]>();

  constructor(private readonly opts: TwilioCallsOptions) {
    super();
  }

  /** What the phone `to` does with its next calls: a script of actions, or null for a live phone (the phones page). */
  setScript(phone: string, actions: PhoneAction[] | null): void {
    if (actions) this.scripts.set(phone, actions);
    else this.scripts.delete(phone);
  }

  /** A person acts on a live call (the phones page's keypad). */
  act(sid: string, action: PhoneAction): boolean {
    const call = this.calls.get(sid);
    if (!call || call.endedAt !== null) return false;
    call.actions.push(action);
    return true;
  }

  list(): SimCall[] {
    return [...this.calls.values()].map(view);
  }

  /** Resolves with the first call matching `predicate` (already placed or yet to come). */
  waitFor(predicate: (c: SimCall) => boolean, timeoutMs = 5000): Promise<SimCall> {
    return waitForCall<SimCall>(this, this.list().find(predicate), predicate, timeoutMs, 'Twilio simulator');
  }

  /** POST …/Calls.json, GET or POST …/Calls/{sid}.json; null for any other path. */
  handle(method: string, path: string, params: URLSearchParams): Answer | null {
    const m = /^\/2010-04-01\/Accounts\/[^/]+\/Calls(?:\/([^/]+))?\.json$/.exec(path);
    if (!m) return null;
    const sid = m[1];
    if (!sid && method === 'POST') return this.create(params);
    const call = sid ? this.calls.get(sid) : undefined;
    if (sid && !call) return { status: 404, body: errorBody(404, 20404, `The requested resource ${path} was not found`) };
    if (call && method === 'GET') return { status: 200, body: this.json(call) };
    if (call && method === 'POST') return this.update(call, params);
    return { status: 405, body: errorBody(405, 20004, 'Method not allowed') };
  }

  private create(params: URLSearchParams): Answer {
    const to = params.get('To') ?? '';
    const from = params.get('From') ?? '';
    const url = params.get('Url');
    if (!E164.test(to)) return { status: 400, body: errorBody(400, 21211, `The 'To' number ${to} is not a valid phone number.`) };
    if (!E164.test(from)) return { status: 400, body: errorBody(400, 21212, `The 'From' number ${from} is not a valid phone number.`) };
    if (!url && !params.get('Twiml')) return { status: 400, body: errorBody(400, 21205, 'Url parameter is required.') };
    const script = this.scripts.get(to) ?? null;
    const now = Date.now();
    const call: CallState = {
      id: newSid('CA'),
      to,
      from,
      status: 'queued',
      spoken: [],
      keys: [],
      live: script === null,
      createdAt: now,
      endedAt: null,
      url: url ?? '',
      statusCallback: params.get('StatusCallback'),
      events: new Set(params.getAll('StatusCallbackEvent').flatMap((e) => e.split(' '))),
      ringSeconds: Number(params.get('Timeout') ?? 60),
      actions: new PhoneActions(script, this.opts.sleep),
      pendingTwiml: params.get('Twiml'),
      sequence: 0,
      answeredAt: null,
    };
    if (call.events.size === 0) call.events.add('completed');
    this.calls.set(call.id, call);
    this.emit('call', view(call));
    void this.run(call).catch(() => this.end(call, 'failed'));
    return { status: 201, body: this.json(call) };
  }

  /** `Twiml` (or `Url`) replaces what the call plays; `Status=completed` hangs it up. */
  private update(call: CallState, params: URLSearchParams): Answer {
    const twiml = params.get('Twiml');
    if (twiml) call.pendingTwiml = twiml;
    if (params.get('Status') === 'completed' || params.get('Status') === 'canceled') call.pendingTwiml = '<Response><Hangup/></Response>';
    call.actions.interrupt();
    return { status: 200, body: this.json(call) };
  }

  private async run(call: CallState): Promise<void> {
    await this.step();
    await this.status(call, 'initiated', 'queued');
    call.status = 'ringing';
    this.changed(call);
    await this.status(call, 'ringing', 'ringing');
    const first = await call.actions.next(this.opts.ringMs ?? call.ringSeconds * 1000);
    if (!first || first.kind === 'no_answer') return this.end(call, 'no-answer');
    if (first.kind === 'busy' || first.kind === 'hang_up') return this.end(call, 'busy');
    if (first.kind === 'fail') return this.end(call, 'failed');
    call.status = 'in-progress';
    call.answeredAt = Date.now();
    this.changed(call);
    await this.status(call, 'answered', 'in-progress');
    // A key pressed before the page was heard is kept for the first prompt.
    if (first.kind === 'key') call.actions.push(first);
    const xml = call.pendingTwiml ?? (await this.post(call, call.url, {}));
    call.pendingTwiml = null;
    await this.play(call, xml);
    await this.end(call, 'completed');
  }

  /** Plays TwiML until it hangs up or runs out; a <Gather> key posts to its action and plays the answer. */
  private async play(call: CallState, xml: string): Promise<void> {
    for (const verb of parseTwiml(xml)) {
      if (call.pendingTwiml) return this.playPending(call);
      await this.step();
      switch (verb.verb) {
        case 'Say':
          call.spoken.push(verb.text);
          this.changed(call);
          break;
        case 'Gather': {
          call.spoken.push(...verb.says);
          this.changed(call);
          const action = await call.actions.next(this.opts.gatherMs ?? verb.timeoutSeconds * 1000);
          if (call.pendingTwiml) return this.playPending(call);
          if (action?.kind === 'hang_up') return;
          if (action?.kind !== 'key') break;
          call.keys.push(action.key);
          this.changed(call);
          if (!verb.action) break;
          return this.play(call, await this.post(call, verb.action, { Digits: action.key, FinishedOnKey: '' }));
        }
        case 'Hangup':
          return;
        case 'Pause':
        case 'Other':
          break;
      }
    }
  }

  private playPending(call: CallState): Promise<void> {
    const xml = call.pendingTwiml ?? '<Response/>';
    call.pendingTwiml = null;
    return this.play(call, xml);
  }

  private async end(call: CallState, status: 'completed' | 'busy' | 'no-answer' | 'failed'): Promise<void> {
    if (call.endedAt !== null) return;
    call.status = status;
    call.endedAt = Date.now();
    this.changed(call);
    const duration = call.answeredAt === null ? 0 : Math.ceil((call.endedAt - call.answeredAt) / 1000);
    await this.status(call, 'completed', status, { CallDuration: String(duration) });
  }

  private async status(call: CallState, event: string, callStatus: string, extra: Record<string, string> = {}): Promise<void> {
    if (!call.statusCallback || !call.events.has(event)) return;
    call.sequence += 1;
    await this.post(call, call.statusCallback, {
      CallStatus: callStatus,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.sequence),
      Timestamp: rfc2822(Date.now()),
      ...extra,
    }).catch(() => undefined);
  }

  /** A signed form post as Twilio makes it; resolves with the answer's body (TwiML for the voice URL). */
  private async post(call: CallState, url: string, extra: Record<string, string>): Promise<string> {
    const params: Record<string, string> = {
      AccountSid: this.opts.accountSid,
      ApiVersion: API_VERSION,
      CallSid: call.id,
      CallStatus: call.status,
      Direction: 'outbound-api',
      From: call.from,
      To: call.to,
      ...extra,
    };
    const result = await postSigned({
      authToken: this.opts.authToken,
      signedUrl: url,
      deliverTo: this.opts.deliverTo ? this.opts.deliverTo(url) : url,
      params,
      signal: this.opts.signal,
    });
    if (result.status >= 300) throw new Error(`voice webhook ${url} answered ${result.status}`);
    return result.body;
  }

  private step(): Promise<void> {
    return this.opts.sleep(this.opts.stepMs ?? 5);
  }

  private changed(call: CallState): void {
    this.emit('callChanged', view(call));
  }

  private json(c: CallState): Record<string, unknown> {
    const uri = `/${API_VERSION}/Accounts/${this.opts.accountSid}/Calls/${c.id}.json`;
    return {
      sid: c.id,
      account_sid: this.opts.accountSid,
      api_version: API_VERSION,
      to: c.to,
      from: c.from,
      status: c.status,
      direction: 'outbound-api',
      date_created: rfc2822(c.createdAt),
      date_updated: rfc2822(Date.now()),
      start_time: c.answeredAt === null ? null : rfc2822(c.answeredAt),
      end_time: c.endedAt === null ? null : rfc2822(c.endedAt),
      duration: c.answeredAt !== null && c.endedAt !== null ? String(Math.ceil((c.endedAt - c.answeredAt) / 1000)) : null,
      price: null,
      price_unit: 'USD',
      uri,
    };
  }
}

function view(c: CallState): SimCall {
  return {
    id: c.id,
    to: c.to,
    from: c.from,
    status: c.status,
    spoken: [...c.spoken],
    keys: [...c.keys],
    live: c.live,
    createdAt: c.createdAt,
    endedAt: c.endedAt,
  };
}
