// GET /v/visits?…: the link in a volunteer's visit reminder signs her in (no password on a small phone) and opens her visits page.
import type { FastifyPluginAsync } from 'fastify';
import { renderMessagePage } from '../pages/incident-page.js';
import type { AccountApi } from '../../accounts/service.js';
import { GatewayError } from '../../core/errors.js';
import type { IncidentPageDeps } from '../deps.js';
import type { LinkRefusal, LinkSigner } from '../links.js';
import { isSecureUrl, setSessionCookie } from '../session/cookies.js';
import { PAGE_HEADERS } from './incident-page.js';

/** The signed "code" of every volunteer link: the link names the volunteer, not an incident. */
export const VISITS_LINK_CODE = 'visits';
export const VISITS_LINK_ROLE = 'volunteer';

/** `PUBLIC_URL/v/visits?p=<volunteer>&r=volunteer&e=…&s=…`, valid until `expiresAt`. */
export function volunteerLink(links: Pick<LinkSigner, 'sign'>, publicUrl: string, volunteerId: string, expiresAt: number): string {
  return `${publicUrl}/v/${VISITS_LINK_CODE}?${links.sign(VISITS_LINK_CODE, volunteerId, VISITS_LINK_ROLE, expiresAt)}`;
}

const REFUSED: Record<LinkRefusal, string> = {
  missing: '请点开提醒短信里的完整链接，或用手机号和短信验证码登录。',
  malformed: '此链接不完整或已被改动。请点开提醒短信里的原始链接，或用手机号和短信验证码登录。',
  bad_signature: '此链接不完整或已被改动。请点开提醒短信里的原始链接，或用手机号和短信验证码登录。',
  expired: '此链接已过期（只在探访当天有效）。请用手机号和短信验证码登录。',
};

export interface VisitLinkOptions {
  accounts: Pick<AccountApi, 'signInVolunteerByLink'>;
  page: Pick<IncidentPageDeps, 'links' | 'clock'>;
  publicUrl: string;
}

export const visitLinkRoutes: FastifyPluginAsync<VisitLinkOptions> = async (app, { accounts, page, publicUrl }) => {
  const secure = isSecureUrl(publicUrl);
  app.get<{ Params: { code: string }; Querystring: Record<string, unknown> }>('/v/:code', async (request, reply) => {
    void reply.headers(PAGE_HEADERS);
    const check = page.links.check(request.params.code, request.query, page.clock.now());
    const refused = !check.ok
      ? check.reason
      : check.grant.role !== VISITS_LINK_ROLE || request.params.code !== VISITS_LINK_CODE
        ? 'bad_signature'
        : null;
    if (refused || !check.ok) {
      const reason = refused ?? 'malformed';
      return reply
        .code(reason === 'expired' ? 410 : 403)
        .type('text/html; charset=utf-8')
        .send(renderMessagePage({ title: reason === 'expired' ? '链接已过期' : '链接无效', message: REFUSED[reason] }));
    }
    try {
      const signedIn = await accounts.signInVolunteerByLink(check.grant.personId, { ip: request.ip ?? null });
      setSessionCookie(reply, signedIn.sessionId, signedIn.maxAgeSeconds, secure);
    } catch (err) {
      if (!(err instanceof GatewayError) || err.statusCode !== 403) throw err;
      return reply
        .code(403)
        .type('text/html; charset=utf-8')
        .send(renderMessagePage({ title: '无法登录', message: '此链接对应的志愿者账号已停用或已不在名册中，请联系社区。' }));
    }
    // 303: the browser loads the dashboard with GET; the page itself reads who she is from /auth/me.
    return reply.redirect('/#/my-visits', 303);
  });
};
