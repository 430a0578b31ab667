// Serves the built dashboard (dist/dashboard, made by `npm run build`) at `/`; says plainly how to build it when it is missing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Where `vite build --config dashboard/vite.config.ts` writes the app. */
export const DASHBOARD_DIST = fileURLToPath(new URL('../../../dist/dashboard', import.meta.url));

/** The bundle carries everything it needs: no outside scripts, fonts or tiles unless a tile URL is configured. */
export function dashboardCsp(tileOrigin: string | null): string {
  const img = ["'self'", 'data:', 'blob:', ...(tileOrigin ? [tileOrigin] : [])].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src ${img}`,
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The CSP source for a tile URL template: its origin, with a `{s}` subdomain placeholder widened to `*`. */
export function tileOrigin(template: string | null): string | null {
  if (!template) return null;
  const match = /^(https?:\/\/[^/?#]+)/.exec(template);
  return match?.[1] ? match[1].replace(/\{s\}/g, '*') : null;
}

export interface DashboardOptions {
  dist?: string;
  /** Origin of the configured base-map tiles (e.g. Tianditu), allowed in the CSP; null offline. */
  tileOrigin?: string | null;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const dist = opts.dist ?? DASHBOARD_DIST;
  const csp = dashboardCsp(opts.tileOrigin ?? null);
  if (!existsSync(`${dist}/index.html`)) {
    app.log.warn({ dist }, 'dashboard not built: run `npm run build`');
    app.get('/', async (_request, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `npm run build` (npm start does it for you), then reload.\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dist,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    // Hashed asset names may be cached for long; index.html must be revalidated so a new build is picked up.
    setHeaders: (res, path) => {
      res.header('content-security-policy', csp);
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'same-origin');
      res.header('x-frame-options', 'DENY');
      res.header('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
  });
};
