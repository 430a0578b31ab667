// The text of an outbound SMS: rendered from its intent, with a masked message's clear intent held in this process only.
import type { MessageIntent, OutboundSms, SmsPurpose } from '../core/types.js';
import { freeText } from './catalogue.js';
import type { TemplateCatalogue } from './intent.js';
import { defaultCatalogue, hasSecrets, maskedIntent } from './kinds.js';

/** Purposes whose stored body is masked: without the clear text held by this process, such a message cannot be sent. */
const MASKED_PURPOSES: ReadonlySet<SmsPurpose> = new Set<SmsPurpose>(['otp']);

export interface SmsTextsDeps {
  /** PUBLIC_URL, for the links in the built-in catalogue. */
  publicUrl: string;
  /** The registry's catalogue (`sms.templates`); kinds it lacks come from the built-in demo catalogue. */
  catalogue?: () => TemplateCatalogue;
}

export class SmsTexts {
  private readonly defaults: TemplateCatalogue;
  /** Clear intents of messages stored masked (a sign-in code), by message id, until sent or failed for good. */
  private readonly clear = new Map<string, MessageIntent>();

  constructor(private readonly deps: SmsTextsDeps) {
    this.defaults = defaultCatalogue(deps.publicUrl);
  }

  /** What is stored of a new message: the body rendered from its intent with secrets masked, and that intent. */
  stored(intent: MessageIntent): { body: string; intent: MessageIntent } {
    const stored = maskedIntent(intent);
    return { body: this.render(stored), intent: stored };
  }

  /** Keeps the clear intent of a stored message whose secrets were masked, for its sending. */
  hold(id: string, intent: MessageIntent): void {
    if (hasSecrets(intent)) this.clear.set(id, intent);
  }

  /** The message is sent or failed for good: its clear intent goes. */
  forget(id: string): void {
    this.clear.delete(id);
  }

  /**
   * What goes to the provider: the clear intent (null for a message stored as plain text) and the body; null when a
   * masked message's clear text died with an earlier process.
   */
  forSending(msg: OutboundSms): { intent: MessageIntent | null; body: string } | null {
    const intent = this.clear.get(msg.id) ?? (msg.intent && hasSecrets(msg.intent) ? null : msg.intent);
    const body = intent ? this.render(intent) : msg.intent === null && !MASKED_PURPOSES.has(msg.purpose) ? msg.body : null;
    return body === null ? null : { intent, body };
  }

  /** The free text of an intent, from the registry's catalogue or the built-in one. */
  private render(intent: MessageIntent): string {
    const entry = this.deps.catalogue?.()[intent.kind] ?? this.defaults[intent.kind];
    if (!entry) return `${intent.kind} ${Object.values(intent.params).join(' ')}`.trim();
    return freeText(entry, intent);
  }
}
