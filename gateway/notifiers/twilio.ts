// Twilio SMS through the official SDK; TWILIO_API_URL points it at a Twilio-compatible server instead of api.twilio.com.
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type { Logger } from '../core/logger.js';
import { mapTwilioStatus } from './sms-status.js';
import { SmsSendError, isTransientHttpStatus, type OutgoingSms, type SmsProvider, type SmsSendResult } from './provider.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface TwilioProviderDeps {
  accountSid: string;
  authToken: string;
  /** An E.164 number, an alphanumeric sender id, or a Messaging Service SID (MG…). */
  from: string;
  /** Base URL that replaces https://api.twilio.com, or null for Twilio itself. */
  apiUrl: string | null;
  /** Per-request timeout; a send that takes longer fails as transient. */
  timeoutMs?: number;
  log: Logger;
}

/**
 * The SDK's HTTP client with the API origin swapped: every request the SDK builds for
 * https://api.twilio.com goes to `apiUrl` instead, with the same path, query, auth and body.
 */
export class RewritingRequestClient extends twilio.RequestClient {
  private readonly apiUrl: string | null;

  constructor(apiUrl: string | null, opts: RequestClient.RequestClientOptions = {}) {
    super(opts);
    this.apiUrl = apiUrl ? apiUrl.replace(/\/+$/, '') : null;
  }

  // Return type inferred from super: the SDK's Response class is not importable as a type from ESM.
  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request({ ...opts, uri: this.rewrite(opts.uri) });
  }

  rewrite(uri: string): string {
    if (!this.apiUrl) return uri;
    // The SDK gives the origin with or without the default port; only that exact host is swapped.
    const m = /^https:\/\/api\.twilio\.com(?::443)?(?=\/|\?|$)/.exec(uri);
    return m ? this.apiUrl + uri.slice(m[0].length) : uri;
  }
}

export class TwilioProvider implements SmsProvider {
  readonly name = 'twilio' as const;
  private client: twilio.Twilio | null = null;

  constructor(private readonly deps: TwilioProviderDeps) {
    // The SDK loads its REST modules on first use (about 70 ms on 2 cores): done here, at start, not in the first page.
    void this.sdk().messages;
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const sender = /^MG[0-9a-fA-F]{32}$/.test(this.deps.from) ? { messagingServiceSid: this.deps.from } : { from: this.deps.from };
    try {
      const created = await this.sdk().messages.create({
        to: msg.to,
        body: msg.body,
        ...sender,
        ...(msg.statusCallback ? { statusCallback: msg.statusCallback } : {}),
      });
      return { sid: created.sid, status: mapTwilioStatus(created.status) ?? 'accepted' };
    } catch (err) {
      throw toSendError(err);
    }
  }

  private sdk(): twilio.Twilio {
    if (!this.client) {
      const timeout = this.deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      // Retries belong to the dispatcher (it persists every attempt), so the SDK's own 429 retry stays off.
      const httpClient = new RewritingRequestClient(this.deps.apiUrl, { timeout, autoRetry: false });
      this.client = twilio(this.deps.accountSid, this.deps.authToken, { httpClient, timeout });
      if (this.deps.apiUrl) this.deps.log.info({ apiUrl: this.deps.apiUrl }, 'Twilio API requests go to a Twilio-compatible server');
    }
    return this.client;
  }
}

interface HttpErrorLike {
  status: number;
  code?: unknown;
  message: string;
}

function isHttpError(err: unknown): err is HttpErrorLike {
  return err instanceof Error && 'status' in err && typeof err.status === 'number';
}

/** Maps SDK failures: RestException (HTTP status + Twilio code) and axios network errors (no answer at all). */
export function toSendError(err: unknown): SmsSendError {
  if (err instanceof SmsSendError) return err;
  if (isHttpError(err)) {
    const code = typeof err.code === 'number' || typeof err.code === 'string' ? String(err.code) : null;
    return new SmsSendError({
      transient: isTransientHttpStatus(err.status),
      providerCode: code,
      httpStatus: err.status,
      message: `Twilio answered ${err.status}${code ? ` (${code})` : ''}: ${err.message}`,
      cause: err,
    });
  }
  // No HTTP answer: refused, reset, DNS, or our timeout. Always worth another try.
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : null;
  const message = err instanceof Error ? err.message : String(err);
  return new SmsSendError({ transient: true, providerCode: code, message: `Twilio unreachable: ${message}`, cause: err });
}
