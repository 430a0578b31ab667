// The Twilio SDK calls, shared by the SMS sender thread (twilio-worker.mjs) and the provider's fallback on the event
// loop. Plain JavaScript: a worker thread starts without the TypeScript loader. Types: twilio-sdk.d.mts.
import twilio from 'twilio';

const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;

/**
 * The SDK's HTTP client with the API origin swapped: every request the SDK builds for https://api.twilio.com goes to
 * `apiUrl` instead, with the same path, query, auth and body.
 */
export class RewritingRequestClient extends twilio.RequestClient {
  constructor(apiUrl, opts = {}) {
    super(opts);
    this.apiUrl = apiUrl ? apiUrl.replace(/\/+$/, '') : null;
  }

  request(opts) {
    return super.request({ ...opts, uri: this.rewrite(opts.uri) });
  }

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
 */
export function describeSendFailure(err) {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof Error && 'code' in err && (typeof err.code === 'number' || typeof err.code === 'string') ? String(err.code) : null;
  const httpStatus = err instanceof Error && 'status' in err && typeof err.status === 'number' ? err.status : null;
  return { httpStatus, code, message };
}
