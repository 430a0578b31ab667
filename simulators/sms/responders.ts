// Simulated phones that answer pages: each phone replies (e.g. "1") after a delay, or never, through the gateway's signed inbound-SMS webhook.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { parseDuration, durationSchema } from '../common/duration.js';

/** A message as a phone sees it, from whichever provider's simulator sent it. */
export interface PhoneMessage {
  sid: string;
  to: string;
  body: string;
  receivedAt: number;
}

/**
 * The provider simulator the phones live on: it announces each message it delivers, and carries a phone's reply to the
 * gateway in its own format (Twilio's signed form, Aliyun's SmsUp, Tencent's reply callback).
 */
export interface PhoneNetwork {
  on(event: 'message', fn: (m: PhoneMessage) => void): unknown;
  off(event: 'message', fn: (m: PhoneMessage) => void): unknown;
  reply(from: string, body: string, opts: { webhookUrl: string; signedUrl?: string }): Promise<{ status: number; body: string }>;
}

/** How one phone behaves: `reply` null means it never answers. */
export interface PhoneBehaviour {
  reply: string | null;
  afterMs: number;
}

export interface ResponderRule extends PhoneBehaviour {
  phone: string;
}

export interface ResponderSet {
  rules: ResponderRule[];
  /** Phones without a rule. */
  fallback: PhoneBehaviour;
  /** Only messages containing this are answered: pages and family alerts say "回1". */
  trigger: string;
}

export const NEVER: PhoneBehaviour = { reply: null, afterMs: 0 };
export const DEFAULT_TRIGGER = '回1';

/** One reply a phone sent to the gateway. */
export interface SentReply {
  from: string;
  body: string;
  at: number;
  /** What the gateway's webhook answered, or null when it could not be reached. */
  httpStatus: number | null;
  error: string | null;
  /** The message it answered; null for a reply typed by hand. */
  inReplyTo: string | null;
}

// ---- configuration: YAML or flags -------------------------------------------------------------------------------

const duration = durationSchema;

// `reply: never` (or null) and `reply: "1"`; numbers are accepted because YAML reads an unquoted 1 as one.
const replyText = z
  .union([z.literal('never'), z.null(), z.string().min(1), z.number()])
  .transform((v) => (v === 'never' || v === null ? null : String(v)));

const behaviourSchema = z.union([
  z.literal('never').transform((): PhoneBehaviour => ({ ...NEVER })),
  z
    .strictObject({ reply: replyText, after: duration.optional() })
    .transform((b): PhoneBehaviour => ({ reply: b.reply, afterMs: b.after ?? 0 })),
]);

/** A phone entry before "who" strings are resolved: either `phone` or `who` (a scenario's registry name). */
export const phoneEntrySchema = z
  .strictObject({
    phone: z
      .string()
      .regex(/^\+\d{7,15}$/, 'expected an E.164 phone number such as "+8613900000001"')
      .optional(),
    who: z.string().min(1).optional(),
    reply: replyText,
    after: duration.optional(),
  })
  .refine((e) => (e.phone === undefined) !== (e.who === undefined), 'give exactly one of "phone" or "who"');

export const responderConfigSchema = z.strictObject({
  default: behaviourSchema.optional(),
  trigger: z.string().min(1).optional(),
  phones: z.array(phoneEntrySchema).default([]),
});

export type ResponderConfigInput = z.input<typeof responderConfigSchema>;
export type ResponderConfig = z.output<typeof responderConfigSchema>;

/**
 * Turns a parsed config into rules; `who` entries are resolved by `resolve` (a registry), and phone entries
 * stand for themselves.
 */
export function responderSet(config: ResponderConfig, resolve: ((who: string) => string[]) | null): ResponderSet {
  const rules: ResponderRule[] = [];
  for (const entry of config.phones) {
    const behaviour = { reply: entry.reply, afterMs: entry.after ?? 0 };
    let phones: string[];
    if (entry.phone !== undefined) phones = [entry.phone];
    else if (resolve) phones = resolve(entry.who ?? '');
    else throw new Error(`"who: ${entry.who}" needs a registry (--registry) to find the phone`);
    for (const phone of phones) rules.push({ phone, ...behaviour });
  }
  return { rules, fallback: config.default ?? { ...NEVER }, trigger: config.trigger ?? DEFAULT_TRIGGER };
}

/** Reads a YAML responder file; errors name the entry. */
export function parseResponderYaml(text: string, source: string): ResponderConfig {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message ?? 'YAML syntax error'}`);
  const parsed = responderConfigSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where =
      issue?.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '') ?? '';
    throw new Error(`${source}: ${where || '(document)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A `--reply` flag: `+8613900000001=1@5s` (reply "1" after 5 s) or `+8613900000001=never`. */
export function parseReplyFlag(value: string): ResponderRule {
  const m = /^(\+\d{7,15})=(.+?)(?:@(.+))?$/.exec(value.trim());
  if (!m?.[1] || m[2] === undefined)
    throw new Error(`--reply: expected PHONE=TEXT[@DELAY] or PHONE=never, e.g. "+8613900000001=1@5s", got "${value}"`);
  const reply = m[2] === 'never' ? null : m[2];
  return { phone: m[1], reply, afterMs: m[3] ? parseDuration(m[3]) : 0 };
}

/** A `--default` flag: `never` or `TEXT@DELAY`. */
export function parseDefaultFlag(value: string): PhoneBehaviour {
  if (value.trim() === 'never') return { ...NEVER };
  const [reply, after] = value.split('@');
  if (!reply) throw new Error(`--default: expected "never" or TEXT[@DELAY], e.g. "1@30s", got "${value}"`);
  return { reply, afterMs: after ? parseDuration(after) : 0 };
}

// ---- the phones at work -----------------------------------------------------------------------------------------

export interface RespondersDeps {
  sim: PhoneNetwork;
  set: ResponderSet;
  /** Where replies are posted: the gateway's `/webhooks/twilio/sms` as reachable from here (domestic networks know their own). */
  webhookUrl: string;
  /** The URL the signature covers (PUBLIC_URL + path) when it differs from webhookUrl. */
  signedUrl?: string;
  /** A message that arrives this soon after the phone's own reply is taken as the answer to it, and not answered again. */
  quietAfterReplyMs?: number;
}

/** Emits 'reply' once each reply has been posted (or failed to be). */
export class Responders extends EventEmitter<{ reply: [SentReply] }> {
  private readonly sent: SentReply[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly lastReplyAt = new Map<string, number>();
  private readonly onMessage = (m: PhoneMessage): void => this.consider(m);
  private running = false;

  constructor(private readonly deps: RespondersDeps) {
    super();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.sim.on('message', this.onMessage);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.sim.off('message', this.onMessage);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** How `phone` behaves under the current rules. */
  behaviourOf(phone: string): PhoneBehaviour {
    return this.deps.set.rules.find((r) => r.phone === phone) ?? this.deps.set.fallback;
  }

  rules(): readonly ResponderRule[] {
    return this.deps.set.rules;
  }

  replies(): SentReply[] {
    return [...this.sent];
  }

  /** The phone sends `body` now (a reply typed by hand, or a scenario step). */
  async reply(from: string, body: string, inReplyTo: string | null = null): Promise<SentReply> {
    const at = Date.now();
    this.lastReplyAt.set(from, at);
    const record: SentReply = { from, body, at, httpStatus: null, error: null, inReplyTo };
    this.sent.push(record);
    const work = this.deps.sim
      .reply(from, body, { webhookUrl: this.deps.webhookUrl, ...(this.deps.signedUrl ? { signedUrl: this.deps.signedUrl } : {}) })
      .then(
        (r) => {
          record.httpStatus = r.status;
          if (r.status >= 300) record.error = `webhook answered ${r.status}: ${r.body.slice(0, 200)}`;
        },
        (err: unknown) => {
          record.error = err instanceof Error ? err.message : String(err);
        },
      );
    this.inFlight.add(work);
    await work;
    this.inFlight.delete(work);
    this.emit('reply', record);
    return record;
  }

  private consider(m: PhoneMessage): void {
    if (!this.running || !m.body.includes(this.deps.set.trigger)) return;
    const { reply, afterMs } = this.behaviourOf(m.to);
    if (reply === null) return;
    const last = this.lastReplyAt.get(m.to);
    if (last !== undefined && m.receivedAt - last < (this.deps.quietAfterReplyMs ?? 2000)) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) void this.reply(m.to, reply, m.sid);
    }, afterMs);
    this.timers.add(t);
  }
}
