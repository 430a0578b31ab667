// The session cookie `cg_session`: read from the Cookie header, written HttpOnly, SameSite=Strict, Secure behind https.
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'cg_session';

/** The first `cg_session` value of the Cookie header (RFC 6265 §5.4 order), or null. */
export function readSessionCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    return value.length > 0 ? value : null;
  }
  return null;
}

/** Secure only when the outside world reaches us over https: a plain-http LAN install must still be able to sign in. */
export function isSecureUrl(publicUrl: string): boolean {
  return publicUrl.toLowerCase().startsWith('https:');
}

function attributes(secure: boolean): string {
  return `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function setSessionCookie(reply: FastifyReply, value: string, maxAgeSeconds: number, secure: boolean): void {
  void reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; ${attributes(secure)}`);
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  void reply.header('set-cookie', `${SESSION_COOKIE}=; Max-Age=0; ${attributes(secure)}`);
}
