// Short codes that stand for a person's signed incident-page link: the SMS carries the fixed PUBLIC_URL/i and a code
// (domestic providers refuse variable links), so the signed query never travels in an SMS nor sits in the SMS log.
import { randomInt } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { PageLinkCodes } from './pager.js';

/** Letters and digits a person cannot mistake for one another when typing (no 0/O, 1/I/L). */
export const LINK_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
/** 10 of 31 symbols: about 49.5 bits, guessed at most a few times a minute per address (the page throttles). */
export const LINK_CODE_LENGTH = 10;

/** What a code opens: the incident (by its code), for whom, until when. */
export interface PageLinkGrant {
  code: string;
  incidentCode: string;
  personId: string;
  role: string;
  expiresAt: number;
  createdAt: number;
}

/** Storage of the codes (sqlite implements it). */
export interface PageLinkCodeRepo {
  /** False when the code exists already (a collision: the caller draws another). */
  insert(grant: PageLinkGrant): Promise<boolean>;
  get(code: string): Promise<PageLinkGrant | null>;
  /** Forgets codes that expired before `before`. */
  pruneExpired(before: number): Promise<void>;
}

/** Expired codes are forgotten once in this many issued. */
const PRUNE_EVERY = 200;

export class PageLinkCodeBook implements PageLinkCodes {
  private issued = 0;

  constructor(private readonly deps: { repo: PageLinkCodeRepo; clock: Clock }) {}

  async issue(incidentCode: string, personId: string, role: string, expiresAt: number): Promise<string> {
    for (;;) {
      const code = Array.from({ length: LINK_CODE_LENGTH }, () => LINK_CODE_ALPHABET[randomInt(LINK_CODE_ALPHABET.length)]).join('');
      if (!(await this.deps.repo.insert({ code, incidentCode, personId, role, expiresAt, createdAt: this.deps.clock.now() }))) continue;
      if (++this.issued % PRUNE_EVERY === 0) await this.deps.repo.pruneExpired(this.deps.clock.now());
      return code;
    }
  }

  /** The grant of a code typed by a person (case and spaces forgiven); null when unknown or expired. */
  async redeem(typed: string): Promise<PageLinkGrant | null> {
    const code = normaliseLinkCode(typed);
    if (!code) return null;
    const grant = await this.deps.repo.get(code);
    if (!grant || this.deps.clock.now() >= grant.expiresAt) return null;
    return grant;
  }
}

/** Upper case without spaces or dashes; null for anything that cannot be a code. */
export function normaliseLinkCode(typed: string): string | null {
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== LINK_CODE_LENGTH) return null;
  for (const c of code) if (!LINK_CODE_ALPHABET.includes(c)) return null;
  return code;
}
