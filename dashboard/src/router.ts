// Hash routes (`#/board?id=…`): pages register themselves with the roles that may open them; the shell renders the match.
import type { Me } from './api.js';
import type { LiveFeed } from './live.js';

export type Role = Me['role'];

export interface PageContext {
  /** Null only on public pages (sign-in, first-admin setup). */
  me: Me | null;
  params: URLSearchParams;
  live: LiveFeed;
  navigate(path: string): void;
  /** Re-reads /auth/me and re-renders the shell (after sign-in or sign-out). */
  reload(): Promise<void>;
}

/** What a page's render returns: nothing, or a cleanup run when the user leaves the page (close feeds, stop timers). */
export type Cleanup = (() => void) | void;

export interface PageDef {
  /** The hash path without `#/`, e.g. `board`. */
  path: string;
  /** i18n key of the title shown in the navigation. */
  title: string;
  /** Who may open it; empty for public pages. */
  roles: Role[];
  /** Shown in the navigation bar (for these roles). */
  nav?: boolean;
  /** Lower comes first in the navigation. */
  order?: number;
  render(el: HTMLElement, ctx: PageContext): Cleanup | Promise<Cleanup>;
}

const pages = new Map<string, PageDef>();

export function definePage(page: PageDef): void {
  if (pages.has(page.path)) throw new Error(`page ${page.path} defined twice`);
  pages.set(page.path, page);
}

export function findPage(path: string): PageDef | undefined {
  return pages.get(path);
}

export function navPages(role: Role): PageDef[] {
  return [...pages.values()].filter((p) => p.nav && p.roles.includes(role)).sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
}

/** The first page a role lands on after sign-in. */
export function homeOf(role: Role): string {
  switch (role) {
    case 'admin':
    case 'duty_officer':
    case 'worker':
      return 'board';
    case 'volunteer':
      return 'my-visits';
  }
}

export interface Location {
  path: string;
  params: URLSearchParams;
}

export function currentLocation(): Location {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?', 2);
  return { path, params: new URLSearchParams(search) };
}
