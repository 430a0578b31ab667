// Reply codes: the letter after "1"/"2" that names one incident when a phone has pages of several open at once.
import type { Clock } from '../core/clock.js';
import type { OutboundSms } from '../core/types.js';

/** Letters a tired thumb or an old eye will not confuse with digits (no I, O) */
const LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';

/** 30 minutes: a page older than that, or one already answered, takes no bare reply (see docs/paging.md, "Replies"). */
export const DEFAULT_REPLY_WINDOW_MS = 30 * 60_000;

/** What the pager asks before it writes a page. */
export interface ReplyCodes {
  codeFor(phone: string, incidentId: string): Promise<string>;
}

/** A page to a phone, and when that phone last answered the page's incident (null: never). */
export interface RecentPage {
  sms: OutboundSms;
  answeredAt: number | null;
}

/** The reply code one page carried, and its incident. */
export interface PageReplyCode {
  incidentId: string;
  replyCode: string;
}

/** The SMS store as reply codes need it: the port this feature owns, which the storage engines implement. */
export interface RecentPagesRepo {
  /** Pages (purpose `page`) sent to this phone since `since`, newest first, each with when the phone last answered its incident. */
  recentPagesTo(phone: string, since: number): Promise<RecentPage[]>;
  /**
   * The reply codes of the same pages as `recentPagesTo` (the newest 100 at most), newest first; pages carrying
   * none are left out. Only the two fields: every page asks this on the alarm path, and a busy phone holds many pages.
   */
  recentReplyCodesTo(phone: string, since: number): Promise<PageReplyCode[]>;
}

export interface ReplyCodeBookDeps {
  sms: Pick<RecentPagesRepo, 'recentReplyCodesTo'>;
  clock: Clock;
  /** How far back a page still counts (default 30 minutes). */
  windowMs?: number;
}

export class ReplyCodeBook implements ReplyCodes {
  constructor(private readonly deps: ReplyCodeBookDeps) {}

  /**
   * The incident's own code when this phone already had a page of it in the window (a later round keeps its letter);
   * else the first letter no other recent page to this phone carries, so "1B" can never reach the wrong incident.
   */
  async codeFor(phone: string, incidentId: string): Promise<string> {
    const since = this.deps.clock.now() - (this.deps.windowMs ?? DEFAULT_REPLY_WINDOW_MS);
    const pages = await this.deps.sms.recentReplyCodesTo(phone, since);
    const taken = new Set<string>();
    for (const page of pages) {
      if (page.incidentId === incidentId) return page.replyCode;
      taken.add(page.replyCode);
    }
    for (const code of candidates()) if (!taken.has(code)) return code;
    // Unreachable in practice (over 600 incidents paged to one phone in the window): the oldest letter is reused.
    return LETTERS[0] ?? 'A';
  }
}

function* candidates(): Generator<string> {
  yield* LETTERS;
  for (const a of LETTERS) for (const b of LETTERS) yield `${a}${b}`;
}

/** "1", "2", "1A", "2b", "１Ａ" (after normaliseReply: upper case, NFKC): the action and the code, or null for any other reply. */
export function parseIncidentReply(command: string): { action: 'ack' | 'decline'; code: string | null } | null {
  const m = /^([12])\s*([A-Z]{1,2})?$/.exec(command);
  if (!m) return null;
  return { action: m[1] === '1' ? 'ack' : 'decline', code: m[2] ?? null };
}
