// A local Tencent Cloud VMS: SendTtsVoice checked as the real service checks it (TC3 signature, app, template,
// number), answered in its JSON, and the call played to a simulated phone whose keys and outcome are pushed back.
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { buffer } from 'node:stream/consumers';
import { PhoneActions, type PhoneAction, type SimCall } from '../common/phone-calls.js';
import { verifyTc3 } from '../common/tc3.js';
import { waitForCall } from '../common/wait.js';
import { SimTimers } from '../common/timers.js';

export interface TencentVmsSimOptions {
  secretId?: string;
  secretKey?: string;
  sdkAppId?: string;
  /** The approved TTS template: its id and text with `{1}`, `{2}`, … */
  template?: { id: string; text: string };
  /** Where keypress and call status callbacks go (the URL configured in the VMS console), e.g. with `?key=`. */
  callbackUrl?: string | null;
  /** How long a live phone rings, and how long a played message waits for a key (ms). */
  ringMs?: number;
  keyWaitMs?: number;
  stepMs?: number;
}

export interface VmsRequestRecord {
  action: string | null;
  params: Record<string, unknown>;
  error: string | null;
  at: number;
}

export interface VmsCallback {
  body: Record<string, unknown>;
  status: number | null;
  error: string | null;
}

export interface TencentVmsSimEvents {
  call: [SimCall];
  callChanged: [SimCall];
  callback: [VmsCallback];
}

export const DEMO_VOICE_TEMPLATE = {
  id: '1400001',
  text: '社区紧急求助。{1}，{2}，{3}，{4}。短信无人接单。接单请按一，转给下一位请按二，重听请按星号键。',
};

interface VmsCall extends SimCall {
  text: string;
  actions: PhoneActions;
}

type VmsAnswer = { Response: Record<string, unknown> };

export class TencentVmsSimServer extends EventEmitter<TencentVmsSimEvents> {
  readonly secretId: string;
  readonly secretKey: string;
  readonly sdkAppId: string;
  readonly template: { id: string; text: string };
  callbackUrl: string | null;
  private server: Server | null = null;
  private readonly calls = new Map<string, VmsCall>();
  private readonly scripts = new Map<string, PhoneAction[]>();
  private readonly log: VmsRequestRecord[] = [];
  private readonly callbackLog: VmsCallback[] = [];
  private readonly timers = new SimTimers();
  private outage: 'InternalError' | null = null;
  private stopped = false;

  constructor(private readonly opts: TencentVmsSimOptions = {}) {
    super();
    this.secretId = opts.secretId ?? `AKID${randomBytes(16).toString('hex')}`;
    this.secretKey = opts.secretKey ?? randomBytes(16).toString('hex');
    this.sdkAppId = opts.sdkAppId ?? '1400000001';
    this.template = opts.template ?? DEMO_VOICE_TEMPLATE;
    this.callbackUrl = opts.callbackUrl ?? null;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) =>
        this.answer(res, 500, { Response: { Error: { Code: 'InternalError', Message: String(err) }, RequestId: randomUUID() } }),
      );
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.server = server;
    return { url: this.url };
  }

  get url(): string {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? `http://127.0.0.1:${addr.port}` : '';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    for (const c of this.calls.values()) c.actions.interrupt();
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** What the phone does with its next calls; null makes it a live phone (the phones page). */
  setScript(phone: string, actions: PhoneAction[] | null): void {
    if (actions) this.scripts.set(phone, actions);
    else this.scripts.delete(phone);
  }

  /** Every SendTtsVoice from now on fails with Tencent's InternalError, until cleared. */
  setOutage(down: boolean): void {
    this.outage = down ? 'InternalError' : null;
  }

  act(callId: string, action: PhoneAction): boolean {
    const call = this.calls.get(callId);
    if (!call || call.endedAt !== null) return false;
    call.actions.push(action);
    return true;
  }

  requests(): VmsRequestRecord[] {
    return [...this.log];
  }

  callbacks(): VmsCallback[] {
    return [...this.callbackLog];
  }

  list(): SimCall[] {
    return [...this.calls.values()].map(view);
  }

  waitFor(predicate: (c: SimCall) => boolean, timeoutMs = 5000): Promise<SimCall> {
    return waitForCall<SimCall>(this, this.list().find(predicate), predicate, timeoutMs, 'Tencent VMS simulator');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await buffer(req);
    const record: VmsRequestRecord = { action: headerOf(req, 'x-tc-action'), params: {}, error: null, at: Date.now() };
    this.log.push(record);
    const fail = (code: string, message: string): void => {
      record.error = code;
      this.answer(res, 200, { Response: { Error: { Code: code, Message: message }, RequestId: randomUUID() } });
    };
    if (req.method !== 'POST') return fail('UnsupportedOperation', 'Only POST is supported here.');
    const auth = verifyTc3(
      { method: req.method, url: req.url ?? '/', headers: req.headers, body },
      (id) => (id === this.secretId ? this.secretKey : null),
      Date.now(),
    );
    if (!auth.ok) return fail(auth.code, auth.message);
    if (auth.service !== 'vms') return fail('AuthFailure.SignatureFailure', `This endpoint serves vms, not ${auth.service}.`);
    if (record.action !== 'SendTtsVoice') return fail('InvalidAction', `The action ${record.action ?? ''} is not supported.`);
    if (headerOf(req, 'x-tc-version') !== '2020-09-02') return fail('InvalidParameter', 'X-TC-Version must be 2020-09-02.');
    let params: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return fail('InvalidParameter', 'The body must be a JSON object.');
      params = Object.fromEntries(Object.entries(parsed));
    } catch {
      return fail('InvalidParameter', 'The body is not JSON.');
    }
    record.params = params;
    if (this.outage) return fail(this.outage, 'Internal error.');
    const { TemplateId, CalledNumber, VoiceSdkAppid, TemplateParamSet, PlayTimes, SessionContext } = params;
    if (VoiceSdkAppid !== this.sdkAppId) return fail('InvalidParameterValue.SdkAppidNotExist', 'VoiceSdkAppid does not exist.');
    if (TemplateId !== this.template.id)
      return fail('InvalidParameterValue.TemplateIdNotExist', 'TemplateId does not exist or is not approved.');
    if (typeof CalledNumber !== 'string' || !/^\+[1-9]\d{6,14}$/.test(CalledNumber))
      return fail('InvalidParameterValue.InvalidPhoneNumber', 'CalledNumber is not an e.164 number.');
    const args = Array.isArray(TemplateParamSet) ? TemplateParamSet : [];
    if (!args.every((a): a is string => typeof a === 'string'))
      return fail('InvalidParameterValue.TemplateParameterFormatError', 'TemplateParamSet must hold strings.');
    const text = this.template.text.replace(/\{(\d+)\}/g, (_m, n: string) => args[Number(n) - 1] ?? '');
    if ([...text].length > 350)
      return fail('InvalidParameterValue.TemplateParameterLengthLimit', 'The message is longer than 350 characters.');
    if (PlayTimes !== undefined && (typeof PlayTimes !== 'number' || PlayTimes < 1 || PlayTimes > 3))
      return fail('InvalidParameterValue', 'PlayTimes must be 1 to 3.');
    const callId = randomBytes(16).toString('hex');
    const call: VmsCall = {
      id: callId,
      to: CalledNumber,
      from: '',
      status: 'queued',
      spoken: [],
      keys: [],
      live: !this.scripts.has(CalledNumber),
      createdAt: Date.now(),
      endedAt: null,
      text,
      actions: new PhoneActions(this.scripts.get(CalledNumber) ?? null, (ms) => this.timers.sleep(ms)),
    };
    this.calls.set(callId, call);
    this.emit('call', view(call));
    void this.run(call, typeof PlayTimes === 'number' ? PlayTimes : 2);
    this.answer(res, 200, {
      Response: {
        SendStatus: { CallId: callId, SessionContext: typeof SessionContext === 'string' ? SessionContext : '' },
        RequestId: randomUUID(),
      },
    });
  }

  /** Rings; once answered plays the message up to `playTimes` times, a key ends it; then the status push. */
  private async run(call: VmsCall, playTimes: number): Promise<void> {
    await this.timers.sleep(this.opts.stepMs ?? 5);
    call.status = 'ringing';
    this.emit('callChanged', view(call));
    const first = await call.actions.next(this.opts.ringMs ?? 45_000);
    if (!first || first.kind !== 'answer') {
      const status = first?.kind === 'fail' ? 'failed' : first?.kind === 'busy' || first?.kind === 'hang_up' ? 'busy' : 'no-answer';
      return this.end(call, status, status === 'failed' ? '2' : '1', null);
    }
    const answeredAt = Math.floor(Date.now() / 1000);
    call.status = 'in-progress';
    for (let i = 0; i < playTimes; i++) {
      call.spoken.push(call.text);
      this.emit('callChanged', view(call));
      const action = await call.actions.next(this.opts.keyWaitMs ?? 10_000);
      if (this.stopped || action?.kind === 'hang_up') break;
      if (action?.kind !== 'key') continue;
      call.keys.push(action.key);
      this.emit('callChanged', view(call));
      await this.push({
        voicekey_callback: {
          call_from: '',
          callid: call.id,
          keypress: action.key,
          mobile: national(call.to),
          nationcode: nationCode(call.to),
        },
      });
      // Any key but * ends the message; * plays it again.
      if (action.key !== '*') break;
    }
    await this.end(call, 'completed', '0', answeredAt);
  }

  private async end(
    call: VmsCall,
    status: 'completed' | 'busy' | 'no-answer' | 'failed',
    result: '0' | '1' | '2',
    acceptTime: number | null,
  ): Promise<void> {
    if (this.stopped) return;
    call.status = status;
    call.endedAt = Date.now();
    this.emit('callChanged', view(call));
    const start = Math.floor(call.createdAt / 1000);
    const end = Math.floor(call.endedAt / 1000);
    await this.push({
      voiceprompt_callback: {
        result,
        accept_time: acceptTime === null ? '0' : String(acceptTime),
        call_from: '',
        callid: call.id,
        end_calltime: String(end),
        fee: acceptTime === null ? '0' : String(Math.max(1, Math.ceil((end - acceptTime) / 60))),
        mobile: national(call.to),
        nationcode: nationCode(call.to),
        start_calltime: String(start),
      },
    });
  }

  /** Posts a callback as Tencent does: JSON, unsigned; the URL configured in the console carries any key. */
  private async push(body: Record<string, unknown>): Promise<void> {
    if (!this.callbackUrl || this.stopped) return;
    const record: VmsCallback = { body, status: null, error: null };
    try {
      const res = await fetch(this.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      record.status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
    }
    this.callbackLog.push(record);
    this.emit('callback', record);
  }

  private answer(res: ServerResponse, status: number, body: VmsAnswer): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  }
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}

/** `+8613900000001` → `86`; the simulator only serves +86 and +1 numbers in its callbacks' split. */
function nationCode(e164: string): string {
  return e164.startsWith('+86') ? '86' : e164.startsWith('+1') ? '1' : e164.slice(1, 3);
}

function national(e164: string): string {
  return e164.slice(1 + nationCode(e164).length);
}

function view(c: VmsCall): SimCall {
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
