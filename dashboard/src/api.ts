// The dashboard's only door to the gateway: same-origin fetch with the session cookie, the CSRF header on every change, typed errors.

/** The signed-in user as `GET /auth/me` returns it. */
export interface Me {
  id: string;
  name: string;
  role: 'admin' | 'duty_officer' | 'worker' | 'volunteer';
  community?: string;
  workerId?: string;
  volunteerId?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Set from the login answer or `GET /auth/me`; sent as `x-csrf-token` on every POST/PUT/PATCH/DELETE. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

interface ErrorBody {
  error?: { code?: string; message?: string } | string;
}

async function failure(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as ErrorBody;
    if (typeof body.error === 'string') message = body.error;
    else if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // Not JSON (a proxy's page): keep the status text.
  }
  return new ApiError(res.status, code, message);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** `GET /healthz` as it answers: 200 or 503 both carry the report (the 503 is the news). */
export interface GatewayHealth {
  status: 'ok' | 'degraded' | 'down';
  alarmsOk: boolean;
  components: Record<string, { status: string; detail?: string }>;
}

export async function gatewayHealth(): Promise<GatewayHealth> {
  const res = await fetch('/healthz', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (res.status !== 200 && res.status !== 503) throw await failure(res);
  return (await res.json()) as GatewayHealth;
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
