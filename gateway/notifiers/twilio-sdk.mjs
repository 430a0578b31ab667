// The Twilio SDK calls, shared by the SMS sender thread (twilio-worker.mjs) and the provider's fallback on the event
// loop. Plain JavaScript, so a worker thread starts without the TypeScript loader; its types are the JSDoc below,
// checked by tsc (checkJs) and read by the TypeScript that imports it.
// @ts-check
import twilio from 'twilio';

/** @import RequestClient from 'twilio/lib/base/RequestClient.js' */

/**
 * @typedef {object} TwilioSenderOptions
 * @property {string} accountSid
 * @property {string} authToken
 * @property {string} from An E.164 number, an alphanumeric sender id, or a Messaging Service SID (MG…).
 * @property {string | null} apiUrl Base URL that replaces https://api.twilio.com, or null for Twilio itself.
 * @property {number} timeoutMs
 */

/**
 * @typedef {object} TwilioSms
 * @property {string} to
 * @property {string} body
 * @property {string | null} statusCallback
 */

/**
 * Twilio's answer to a send: the message SID and Twilio's own status word (queued, accepted, sent …).
 * @typedef {object} TwilioSendAnswer
 * @property {string} sid
 * @property {string} status
 */

/**
 * @typedef {object} SendFailure
 * @property {number | null} httpStatus The HTTP status of Twilio's answer; null when nothing answered.
 * @property {string | null} code Twilio's error code (e.g. "21211") or the network error code (e.g. "ECONNREFUSED").
 * @property {string} message
 */

/**
 * A send's result: Twilio's answer, or why it failed.
 * @typedef {{ ok: true, answer: TwilioSendAnswer } | { ok: false, failure: SendFailure }} SendOutcome
 */

const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;

/**
 * The SDK's HTTP client with the API origin swapped: every request the SDK builds for https://api.twilio.com goes to
 * `apiUrl` instead, with the same path, query, auth and body.
 */
export class RewritingRequestClient extends twilio.RequestClient {
  /**
   * @param {string | null} apiUrl
   * @param {RequestClient.RequestClientOptions} [opts]
   */
  constructor(apiUrl, opts = {}) {
    super(opts);
    this.apiUrl = apiUrl ? apiUrl.replace(/\/+$/, '') : null;
  }

  /**
   * @override
   * @template TData
   * @param {RequestClient.RequestOptions<TData>} opts
   */
  request(opts) {
    return super.request({ ...opts, uri: this.rewrite(opts.uri) });
  }

  /**
   * @param {string} uri
   * @returns {string}
   */
  rewrite(uri) {
    if (!this.apiUrl) return uri;
    // The SDK gives the origin with or without the default port; only that exact host is swapped.
    const m = /^https:\/\/api\.twilio\.com(?::443)?(?=\/|\?|$)/.exec(uri);
    return m ? this.apiUrl + uri.slice(m[0].length) : uri;
  }
}

/**
 * Builds the client once and returns the send function. The SDK's REST modules load here, not in the first page.
 * A send never rejects: it resolves with Twilio's answer or with the failure as plain data, which crosses a thread.
 * @param {TwilioSenderOptions} options
 * @returns {(sms: TwilioSms) => Promise<SendOutcome>}
 */
export function createTwilioSender({ accountSid, authToken, from, apiUrl, timeoutMs }) {
  // Retries belong to the dispatcher (it persists every attempt), so the SDK's own 429 retry stays off.
  const httpClient = new RewritingRequestClient(apiUrl, { timeout: timeoutMs, autoRetry: false });
  const messages = twilio(accountSid, authToken, { httpClient, timeout: timeoutMs }).messages;
  const sender = MESSAGING_SERVICE_SID.test(from) ? { messagingServiceSid: from } : { from };
  return async (sms) => {
    try {
      const created = await messages.create({
        to: sms.to,
        body: sms.body,
        ...sender,
        ...(sms.statusCallback ? { statusCallback: sms.statusCallback } : {}),
      });
      return { ok: true, answer: { sid: created.sid, status: created.status } };
    } catch (err) {
      return { ok: false, failure: describeSendFailure(err) };
    }
  };
}

/**
 * What a failed send says, as plain data that crosses a thread: the HTTP status and Twilio error code of a
 * RestException, or the network error code (ECONNREFUSED, ECONNABORTED for our timeout …) when nothing answered.
 * @param {unknown} err
 * @returns {SendFailure}
 */
export function describeSendFailure(err) {
  const message = err instanceof Error ? err.message : String(err);
  const code =
    err instanceof Error && 'code' in err && (typeof err.code === 'number' || typeof err.code === 'string') ? String(err.code) : null;
  const httpStatus = err instanceof Error && 'status' in err && typeof err.status === 'number' ? err.status : null;
  return { httpStatus, code, message };
}
