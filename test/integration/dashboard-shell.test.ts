// The built dashboard is served at `/` with a strict CSP, and says how to build it when it is missing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { dashboardCsp, dashboardRoutes } from '../../gateway/http/routes/dashboard.js';

describe('dashboard static serving', () => {
  const apps: FastifyInstance[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('serves index.html and hashed assets from dist/dashboard with the CSP and cache rules', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(dashboardRoutes, {});
    const index = await app.inject({ method: 'GET', url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['cache-control']).toBe('no-cache');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    expect(asset).toBeDefined();
    const js = await app.inject({ method: 'GET', url: asset ?? '' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toContain('immutable');
  });

  it('answers 503 with the build command when the dashboard was never built', async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(dashboardRoutes, { dist: mkdtempSync(join(tmpdir(), 'no-dashboard-')) });
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
  });

  it('allows a configured tile origin for images and nothing else from outside', () => {
    expect(dashboardCsp(null)).toContain("img-src 'self' data: blob:;");
    const csp = dashboardCsp('https://t0.tianditu.gov.cn');
    expect(csp).toContain("img-src 'self' data: blob: https://t0.tianditu.gov.cn");
    expect(csp).toContain("connect-src 'self'");
  });
});
