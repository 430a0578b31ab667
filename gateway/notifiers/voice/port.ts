// The voice provider port: place a call that speaks a page and collects one key; outcomes come back through webhooks.
import { GatewayError } from '../../core/errors.js';
import type { VoiceProviderName } from '../intent.js';

export interface OutgoingCall {
  /** The stored call's id; it rides along (URL, SessionContext) so callbacks find the call. */
  id: string;
  to: string;
  /** The whole text spoken (Twilio), and the same parts as template parameters (Tencent). */
  text: string;
  params: string[];
}

export interface PlacedCall {
  /** The provider's id of the call (Twilio CallSid, Tencent CallId). */
  providerCallId: string;
}

export interface VoiceProvider {
  readonly name: VoiceProviderName;
  /** Resolves once the provider took the call; throws VoiceCallError when it refused or could not be reached. */
  place(call: OutgoingCall): Promise<PlacedCall>;
  /**
   * Says `text` on a call in progress, then hangs up: the incident was taken meanwhile. Absent where the provider
   * cannot change a call once it is placed (Tencent plays its template to the end).
   */
  announce?(providerCallId: string, text: string): Promise<void>;
}

export class VoiceCallError extends GatewayError {
  /** The provider's error code, or a network error code. */
  readonly providerCode: string | null;

  constructor(message: string, providerCode: string | null, cause?: unknown) {
    super('GW_ERR_VOICE_CALL_FAILED', message, { providerCode }, { cause });
    this.name = 'VoiceCallError';
    this.providerCode = providerCode;
  }
}
