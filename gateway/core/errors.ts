// The one catalogue of coded errors: each has a stable code and the HTTP status it maps to.

export const ErrorCodes = {
  GW_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
  GW_ERR_REGISTRY_INVALID: { status: 400, message: 'registry document is invalid' },
  GW_ERR_UNKNOWN_DEVICE: { status: 404, message: 'unknown device' },
  GW_ERR_UNKNOWN_RESIDENT: { status: 404, message: 'unknown resident' },
  GW_ERR_INCIDENT_NOT_FOUND: { status: 404, message: 'incident not found' },
  GW_ERR_INVALID_TRANSITION: { status: 409, message: 'incident cannot make that transition' },
  GW_ERR_UNAUTHORIZED: { status: 401, message: 'authentication required' },
  GW_ERR_FORBIDDEN: { status: 403, message: 'not allowed' },
  GW_ERR_BAD_SIGNATURE: { status: 403, message: 'invalid X-Twilio-Signature' },
  GW_ERR_BAD_REQUEST: { status: 400, message: 'bad request' },
  GW_ERR_SMS_TRANSIENT: { status: 502, message: 'SMS provider temporarily unavailable' },
  GW_ERR_SMS_REJECTED: { status: 502, message: 'SMS provider rejected the message' },
  GW_ERR_STORAGE: { status: 500, message: 'storage failure' },
  GW_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  GW_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type' },
  GW_ERR_INTERNAL: { status: 500, message: 'internal error' },
  GW_ERR_NOT_RECORDED: { status: 503, message: 'not recorded; send it again' },
  // Dashboard accounts and sessions.
  GW_ERR_BAD_CREDENTIALS: { status: 401, message: 'wrong username or password' },
  GW_ERR_BAD_OTP: { status: 401, message: 'wrong or expired code' },
  GW_ERR_CSRF: { status: 403, message: 'CSRF token missing or invalid' },
  GW_ERR_CROSS_ORIGIN: { status: 403, message: 'cross-origin request refused' },
  GW_ERR_SETUP_TOKEN: { status: 403, message: 'setup link invalid or already used' },
  GW_ERR_CONFLICT: { status: 409, message: 'conflicts with the current state' },
  GW_ERR_RATE_LIMITED: { status: 429, message: 'too many attempts, try again later' },
  GW_ERR_TASK_NOT_FOUND: { status: 404, message: 'care task not found' },
  GW_ERR_TASK_NOT_OPEN: { status: 409, message: 'care task is already closed' },
  GW_ERR_OUTAGE_NOT_FOUND: { status: 404, message: 'outage not found' },
  GW_ERR_OUTAGE_NOT_OPEN: { status: 409, message: 'outage is already closed' },
  // Voice calls to responders.
  GW_ERR_VOICE_CALL_FAILED: { status: 502, message: 'voice provider did not place the call' },
  GW_ERR_BAD_WEBHOOK_KEY: { status: 403, message: 'webhook key missing or wrong' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown, options?: ErrorOptions) {
    super(message ?? ErrorCodes[code].message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = ErrorCodes[code].status;
    this.details = details;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * An Error for anything thrown. An error thrown in a worker thread arrives as a copy that may have lost its Error
 * prototype on the way, so an object with a `message` keeps that message.
 */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  const message = typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : String(err);
  return new Error(message);
}
