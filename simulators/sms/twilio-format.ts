// Twilio's wire formats for the SMS simulator: message JSON, error JSON, SIDs, dates and segment counts.
import { randomBytes } from 'node:crypto';

export const API_VERSION = '2010-04-01';

/** Twilio's message states, as the REST API and status callbacks spell them. */
export type TwilioMessageStatus = 'accepted' | 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'received';

export interface SimMessage {
  sid: string;
  accountSid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  status: TwilioMessageStatus;
  direction: 'outbound-api' | 'inbound';
  encoding: 'GSM-7' | 'UCS-2';
  numSegments: number;
  errorCode: number | null;
  errorMessage: string | null;
  dateCreated: number;
  dateUpdated: number;
  dateSent: number | null;
  /** Wall-clock arrival time of the create request (Date.now()). */
  receivedAt: number;
  /** High-resolution arrival time of the create request (performance.now()), for latency measurements. */
  receivedHr: number;
}

export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

/** The legacy error shape the SDK turns into a RestException. */
export function errorBody(status: number, code: number, message: string): TwilioErrorBody {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/** A Twilio SID: two-letter prefix and 32 hex digits. */
export function newSid(prefix: 'SM' | 'MM' | 'CA'): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Twilio's RFC 2822 dates, e.g. `Thu, 26 Nov 2026 02:00:00 +0000`. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

export const E164 = /^\+[1-9]\d{1,14}$/;

// GSM 03.38 basic alphabet; every other character forces UCS-2 for the whole message.
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
// The extension table costs two septets per character (escape + code).
const GSM_EXTENDED = '^{}\\[~]|€\f';

/** Encoding and segment count as a carrier would split the body (153 septets / 67 units per concatenated part). */
export function segmentsOf(body: string): { encoding: 'GSM-7' | 'UCS-2'; numSegments: number } {
  let septets = 0;
  let gsm = true;
  for (const ch of body) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    return { encoding: 'GSM-7', numSegments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  // UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
  const units = body.length;
  return { encoding: 'UCS-2', numSegments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** The message resource as `GET /Messages/{Sid}.json` returns it. */
export function messageJson(m: SimMessage): Record<string, unknown> {
  const base = `/${API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}`;
  return {
    account_sid: m.accountSid,
    api_version: API_VERSION,
    body: m.body,
    date_created: rfc2822(m.dateCreated),
    date_sent: m.dateSent === null ? null : rfc2822(m.dateSent),
    date_updated: rfc2822(m.dateUpdated),
    direction: m.direction,
    error_code: m.errorCode,
    error_message: m.errorMessage,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: '0',
    num_segments: String(m.numSegments),
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: `${base}/Media.json`, feedback: `${base}/Feedback.json` },
    to: m.to,
    uri: `${base}.json`,
  };
}

/** One page holding every matching message (the simulator never paginates). */
export function messageListJson(accountSid: string, list: SimMessage[], pageSize: number): Record<string, unknown> {
  const uri = `/${API_VERSION}/Accounts/${accountSid}/Messages.json?PageSize=${pageSize}&Page=0`;
  return {
    first_page_uri: uri,
    end: Math.max(0, list.length - 1),
    previous_page_uri: null,
    messages: list.map(messageJson),
    uri,
    page_size: pageSize,
    start: 0,
    next_page_uri: null,
    page: 0,
  };
}

/** Error codes a handset outcome reports in callbacks, as Twilio does. */
export const OUTCOME_ERRORS: Record<'failed' | 'undelivered', { code: number; message: string }> = {
  failed: { code: 30008, message: 'Unknown error' },
  undelivered: { code: 30003, message: 'Unreachable destination handset' },
};

const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const MAX_BODY = 1600;

export type CreateCheck =
  | { ok: true; to: string; from: string | null; service: string | null; body: string; callback: string | null }
  | { ok: false; error: TwilioErrorBody };

/** Validates a message-create form the way Twilio does, with Twilio's error codes. */
export function validateCreate(params: URLSearchParams): CreateCheck {
  const to = params.get('To');
  const from = params.get('From');
  const service = params.get('MessagingServiceSid');
  const body = params.get('Body');
  const callback = params.get('StatusCallback');
  const bad = (code: number, message: string): CreateCheck => ({ ok: false, error: errorBody(400, code, message) });
  if (!to) return bad(21604, "A 'To' phone number is required.");
  if (!E164.test(to)) return bad(21211, `The 'To' number ${to} is not a valid phone number.`);
  if (!from && !service) return bad(21603, "A 'From' phone number is required.");
  if (from && !E164.test(from) && !ALPHANUMERIC_SENDER.test(from)) {
    return bad(21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
  }
  if (service && !/^MG[0-9a-fA-F]{32}$/.test(service)) return bad(21701, `The Messaging Service Sid ${service} is invalid.`);
  if (!body) return bad(21602, 'Message body is required.');
  if (body.length > MAX_BODY) return bad(21617, 'The concatenated message body exceeds the 1600 character limit.');
  if (callback && !/^https?:\/\/\S+$/.test(callback)) return bad(21609, `Invalid StatusCallback url: ${callback}`);
  return { ok: true, to, from: from || null, service: service || null, body, callback: callback || null };
}

/** The form fields of a status callback, as Twilio posts them. */
export function callbackParams(m: SimMessage, defaultNumber: string): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: m.accountSid,
    ApiVersion: API_VERSION,
    From: m.from ?? defaultNumber,
    MessageSid: m.sid,
    MessageStatus: m.status,
    SmsSid: m.sid,
    SmsStatus: m.status,
    To: m.to,
  };
  if (m.messagingServiceSid) params.MessagingServiceSid = m.messagingServiceSid;
  if (m.errorCode !== null) params.ErrorCode = String(m.errorCode);
  return params;
}
