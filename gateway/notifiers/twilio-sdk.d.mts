// Types of twilio-sdk.mjs (plain JavaScript, so that the SMS sender thread can load it).
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

export declare class RewritingRequestClient extends twilio.RequestClient {
  constructor(apiUrl: string | null, opts?: RequestClient.RequestClientOptions);
  rewrite(uri: string): string;
}

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** An E.164 number, an alphanumeric sender id, or a Messaging Service SID (MG…). */
  from: string;
  /** Base URL that replaces https://api.twilio.com, or null for Twilio itself. */
  apiUrl: string | null;
  timeoutMs: number;
}

export interface TwilioSms {
  to: string;
  body: string;
  statusCallback: string | null;
}

/** Twilio's answer to a send: the message SID and Twilio's own status word (queued, accepted, sent …). */
export interface TwilioSendAnswer {
  sid: string;
  status: string;
}

export interface SendFailure {
  /** The HTTP status of Twilio's answer; null when nothing answered. */
  httpStatus: number | null;
  /** Twilio's error code (e.g. "21211") or the network error code (e.g. "ECONNREFUSED"). */
  code: string | null;
  message: string;
}

/** A send's result: Twilio's answer, or why it failed. */
export type SendOutcome = { ok: true; answer: TwilioSendAnswer } | { ok: false; failure: SendFailure };

export declare function createTwilioSender(options: TwilioSenderOptions): (sms: TwilioSms) => Promise<SendOutcome>;
export declare function describeSendFailure(err: unknown): SendFailure;
