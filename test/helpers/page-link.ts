// The incident-page link an SMS stands for: the SMS carries the fixed PUBLIC_URL/i and a code; typing the code there
// leads (303) to the person's signed link, which is what the tests open.
import { expect } from 'vitest';
import { waitFor } from './wait.js';

interface SimLike {
  waitForMessage(predicate: (m: { to: string; body: string }) => boolean, timeoutMs?: number): Promise<{ to: string; body: string }>;
  messages(): { to: string; body: string }[];
}

/** The code in a link SMS (`详情及导航 <PUBLIC_URL>/i 查看码K7Q2M9XAPB`), or null for any other SMS. */
export function linkCodeOf(body: string): string | null {
  return /\/i 查看码([A-Z2-9]{10})$/.exec(body)?.[1] ?? null;
}

/** Where a code leads: the signed link (relative to `base`), or null when the page refuses it. */
export async function redeemLinkCode(httpUrl: string, code: string, base = httpUrl): Promise<URL | null> {
  const res = await fetch(`${httpUrl}/i?c=${encodeURIComponent(code)}`, { redirect: 'manual' });
  if (res.status !== 303) return null;
  const location = res.headers.get('location');
  expect(location).toMatch(/^\/i\/[A-Za-z0-9]+\?/);
  return new URL(location ?? '', base);
}

/**
 * The signed link of the latest link SMS to `phone` (for the incident `incidentCode`, when given), resolved as the
 * person would: code typed at /i. The URL is on `base` (PUBLIC_URL by default: what the person sees).
 */
export async function pageLinkFor(
  sim: SimLike,
  httpUrl: string,
  phone: string,
  opts: { incidentCode?: string; base?: string; timeoutMs?: number } = {},
): Promise<URL> {
  // A code is typed once: one that led nowhere, or to another incident, would do the same again.
  const tried = new Set<string>();
  return waitFor(
    `a link SMS to ${phone}${opts.incidentCode ? ` for ${opts.incidentCode}` : ''}`,
    async () => {
      const codes = sim
        .messages()
        .filter((m) => m.to === phone)
        .map((m) => linkCodeOf(m.body))
        .filter((c): c is string => c !== null)
        .reverse();
      for (const code of codes) {
        if (tried.has(code)) continue;
        tried.add(code);
        const url = await redeemLinkCode(httpUrl, code, opts.base ?? httpUrl);
        if (url && (!opts.incidentCode || url.pathname === `/i/${opts.incidentCode}`)) return url;
      }
      return null;
    },
    { timeoutMs: opts.timeoutMs ?? 5000 },
  );
}
