// Twilio Voice through the official SDK: calls.create fetches its TwiML from the gateway's signed voice webhook.
import twilio from 'twilio';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { RewritingRequestClient, describeSendFailure } from '../twilio-sdk.mjs';
import { VoiceCallError, type OutgoingCall, type PlacedCall, type VoiceProvider } from './port.js';

export interface TwilioVoiceDeps {
  accountSid: string;
  authToken: string;
  /** The number the call comes from (TWILIO_FROM; a Messaging Service cannot place calls). */
  from: string;
  apiUrl: string | null;
  /** PUBLIC_URL: Twilio fetches the call's TwiML and posts its keys and status there. */
  publicUrl: string;
  /** How long a phone rings before Twilio gives up (no-answer). */
  ringSeconds?: number;
  timeoutMs?: number;
  log: Logger;
}

export const TWILIO_VOICE_PATH = '/webhooks/twilio/voice';
export const TWILIO_VOICE_STATUS_PATH = '/webhooks/twilio/voice-status';

/**
 * Calls are placed on the event loop, not on the SMS sender thread: a call follows a page by a minute, never sits on
 * an alarm's first-page path, and is one request per unanswered page.
 */
export class TwilioVoiceProvider implements VoiceProvider {
  readonly name = 'twilio' as const;
  private readonly client: twilio.Twilio;
  private readonly base: string;

  constructor(private readonly deps: TwilioVoiceDeps) {
    const timeout = deps.timeoutMs ?? 10_000;
    const httpClient = new RewritingRequestClient(deps.apiUrl, { timeout, autoRetry: false });
    this.client = twilio(deps.accountSid, deps.authToken, { httpClient, timeout });
    this.base = deps.publicUrl.replace(/\/+$/, '');
  }

  async place(call: OutgoingCall): Promise<PlacedCall> {
    const q = `?call=${encodeURIComponent(call.id)}`;
    try {
      const created = await this.client.calls.create({
        to: call.to,
        from: this.deps.from,
        url: `${this.base}${TWILIO_VOICE_PATH}${q}`,
        method: 'POST',
        statusCallback: `${this.base}${TWILIO_VOICE_STATUS_PATH}${q}`,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        timeout: this.deps.ringSeconds ?? 30,
      });
      return { providerCallId: created.sid };
    } catch (err) {
      const f = describeSendFailure(err);
      throw new VoiceCallError(
        `Twilio did not place the call${f.httpStatus ? ` (${f.httpStatus}${f.code ? ` ${f.code}` : ''})` : ''}: ${f.message}`,
        f.code,
        err,
      );
    }
  }

  async announce(providerCallId: string, text: string): Promise<void> {
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.say({ language: 'zh-CN' }, text);
    twiml.hangup();
    try {
      await this.client.calls(providerCallId).update({ twiml: twiml.toString() });
    } catch (err) {
      // The call may have ended a moment ago: nothing is lost, the outcome arrives by its status callback.
      this.deps.log.warn({ err: errorMessage(err), call: providerCallId }, 'could not announce on a Twilio call');
    }
  }
}
