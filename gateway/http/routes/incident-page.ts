// GET /i/:code and POST /i/:code/ack|resolve: the incident page behind the SMS link, authorised by the link's signature alone.
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { GatewayError } from '../../core/errors.js';
import type { Responder } from '../../core/types.js';
import { METRIC_NAMES } from '../../metrics/metrics.js';
import { familyMemberOf } from '../../paging/pager.js';
import {
  formatLocal,
  NOTE_MAX_CHARS,
  pageHrefs,
  renderIncidentPage,
  renderMessagePage,
  takenBy,
  type PageNotice,
  type PageOrigin,
} from '../pages/incident-page.js';
import type { SiteMapModel } from '../pages/incident-map.js';
import type { HttpDeps, IncidentPageDeps } from '../deps.js';
import type { IncidentView } from '../../incidents/views.js';
import type { LinkRefusal } from '../links.js';
import { SlidingWindowLimiter, type RateLimitRule } from '../../accounts/rate-limit.js';

/** Wrong codes typed at `/i` from one address: 10 in 10 minutes, then it waits (a code has ~49 bits). */
const WRONG_CODE_LIMIT: RateLimitRule = { max: 10, windowMs: 10 * 60_000 };

/** The form at the SMS's fixed link: one field for the code. */
function renderCodeForm(problem: string | null): string {
  const note = problem ? `<p role="alert">${problem}</p>` : '<p>请输入短信中的查看码。</p>';
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>查看求助</title>
<style>body{font:20px/1.5 sans-serif;margin:1.5em}input,button{font-size:1.2em;padding:.4em}</style></head>
<body><h1>查看求助</h1>${note}<form method="get" action="/i"><input name="c" autocomplete="off" autocapitalize="characters" inputmode="text" maxlength="16" required aria-label="查看码"> <button>打开</button></form></body></html>`;
}

/** A note of 500 characters is at most ~4.5 KB form-encoded; anything much larger is not our form. */
export const PAGE_FORM_BODY_LIMIT = 16 * 1024;

/** Sent with every answer here: the page holds personal data and its URL is a credential. */
export const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

interface CodeParams {
  code: string;
}

/** The route generic of every route here: the code in the path, the signed link in the query. */
interface PageRoute {
  Params: CodeParams;
  Querystring: Record<string, unknown>;
}

interface Link {
  incident: IncidentView;
  responder: Responder & { id: string };
  /** The checked signed query, for the forms and the redirect back. */
  query: string;
}

const REFUSED: Record<LinkRefusal, { title: string; message: string }> = {
  missing: { title: '链接不完整', message: '请点开短信里的完整链接；如链接被截断，可直接回复短信“1”接单。' },
  malformed: { title: '链接无效', message: '此链接不完整或已被改动。请点开短信里的原始链接，或直接回复短信“1”接单。' },
  bad_signature: { title: '链接无效', message: '此链接不完整或已被改动。请点开短信里的原始链接，或直接回复短信“1”接单。' },
  expired: { title: '链接已过期', message: '此链接已超过24小时失效。如仍需处理，请联系社区值班室。' },
};

const ROLES: readonly Responder['role'][] = ['worker', 'duty_contact', 'family', 'staff'];

function isRole(role: string): role is Responder['role'] {
  return (ROLES as readonly string[]).includes(role);
}

/** Logs the route, never the URL: its query string is the link's credential. */
const logSerializers = {
  req: (request: FastifyRequest) => ({ method: request.method, route: request.routeOptions.url ?? null, remoteAddress: request.ip }),
};

export const incidentPageRoutes: FastifyPluginAsync<{ deps: HttpDeps; page: IncidentPageDeps }> = async (app, { deps, page }) => {
  // Only the page's own forms are accepted: form-encoded, small.
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: PAGE_FORM_BODY_LIMIT });

  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.headers(PAGE_HEADERS);
    return payload;
  });

  // A phone gets a page it can read, never the API's JSON; and no message here carries personal data.
  app.setErrorHandler(async (err: unknown, request, reply) => {
    const status = statusOf(err);
    if (status >= 500) request.log.error({ err, route: request.routeOptions.url ?? null }, 'incident page failed');
    return html(reply, status >= 400 ? status : 500, renderMessagePage(errorText(status)));
  });

  const refusedCounter = (): Counter | null => {
    const metric = deps.metrics.getSingleMetric(METRIC_NAMES.securityEvents);
    return metric instanceof Counter ? metric : null;
  };

  /** The incident and the responder a valid link speaks for; otherwise answers 403/404 itself and returns null. */
  const open = async (request: FastifyRequest<PageRoute>, reply: FastifyReply): Promise<Link | null> => {
    const { code } = request.params;
    const check = page.links.check(code, request.query, page.clock.now());
    if (!check.ok || !isRole(check.grant.role)) {
      const reason: LinkRefusal = check.ok ? 'malformed' : check.reason;
      request.log.warn({ reason }, 'incident link refused');
      if (reason === 'bad_signature' || reason === 'malformed') refusedCounter()?.inc({ kind: 'incident_link_forged' });
      html(reply, 403, renderMessagePage(REFUSED[reason]));
      return null;
    }
    const incident = await deps.incidents.viewByCode(code);
    if (!incident) {
      html(reply, 404, renderMessagePage({ title: '未找到此求助', message: '此求助记录不存在。请联系社区值班室。' }));
      return null;
    }
    const { personId, role } = check.grant;
    const planned =
      incident.plan.responders.find((r) => r.id === personId) ?? (role === 'family' ? familyMemberOf(incident, personId) : null);
    const responder = { role, id: personId, name: planned?.name ?? personId, phone: planned?.phone ?? null };
    return { incident, responder, query: check.query };
  };

  /** The buildings of the resident's community, for the page's small map; null when there is nothing to draw. */
  const siteMap = async (incident: IncidentView): Promise<SiteMapModel | null> => {
    if (!page.map) return null;
    const model = await page.map.snapshot(incident.communityId);
    const card = incident.residentCard;
    if (model.buildings.length === 0 && !card?.location) return null;
    return { buildings: model.buildings, own: card?.building ?? null, home: card?.location ?? null };
  };

  const show = async (
    reply: FastifyReply,
    link: Link,
    at: PageOrigin,
    status: number,
    notice: PageNotice | null = null,
    noteDraft?: string,
  ): Promise<FastifyReply> =>
    html(
      reply,
      status,
      renderIncidentPage({
        incident: link.incident,
        viewer: { personId: link.responder.id, name: link.responder.name, role: link.responder.role },
        siteMap: await siteMap(link.incident),
        query: link.query,
        timeZone: page.timeZone,
        at,
        notice,
        ...(noteDraft === undefined ? {} : { noteDraft }),
      }),
    );

  /** After a refused transition: the page as it is now, saying why nothing changed. */
  const refusedTransition = async (reply: FastifyReply, link: Link, noteDraft?: string): Promise<FastifyReply> => {
    const now = (await deps.incidents.view(link.incident.id)) ?? link.incident;
    const fresh = { ...link, incident: now };
    switch (now.state) {
      case 'acknowledged':
        return show(reply, fresh, 'action', 409, { kind: 'warning', text: `${takenBy(now)}，您无需前往。` }, noteDraft);
      case 'resolved':
        return show(reply, fresh, 'action', 409, { kind: 'info', text: '此求助已解决，无需再操作。' });
      case 'cancelled':
        return show(reply, fresh, 'action', 409, { kind: 'info', text: '此求助已取消，无需再操作。' });
      case 'pending':
      case 'open':
        return show(reply, fresh, 'action', 409, { kind: 'error', text: '操作未成功，请刷新后再试。' }, noteDraft);
    }
  };

  // The fixed link of the SMS: the person types the code the SMS gave them, and goes on to their signed link.
  const codes = page.linkCodes;
  if (codes) {
    const wrongCodes = new SlidingWindowLimiter({ clock: page.clock, rule: WRONG_CODE_LIMIT });
    app.get<{ Querystring: Record<string, unknown> }>('/i', { logSerializers }, async (request, reply) => {
      const typed = request.query.c;
      if (typeof typed !== 'string' || typed.trim() === '') return html(reply, 200, renderCodeForm(null));
      const key = `ip:${request.ip}`;
      if (wrongCodes.retryAfterSeconds(key) > 0) {
        refusedCounter()?.inc({ kind: 'incident_code_throttled' });
        return html(reply, 429, renderCodeForm('输错次数过多，请稍后再试，或直接回复短信“1”接单。'));
      }
      const link = await codes.signedLinkFor(typed);
      if (!link) {
        wrongCodes.record(key);
        request.log.warn('incident link code refused');
        return html(reply, 404, renderCodeForm('查看码不对或已过期（24小时有效），请核对短信。'));
      }
      return reply.redirect(`/i/${encodeURIComponent(link.incidentCode)}?${link.query}`, 303);
    });
  }

  app.get<PageRoute>('/i/:code', { logSerializers }, async (request, reply) => {
    const link = await open(request, reply);
    if (!link) return reply;
    return show(reply, link, 'page', 200);
  });

  app.post<PageRoute>('/i/:code/ack', { logSerializers }, async (request, reply) => {
    const link = await open(request, reply);
    if (!link) return reply;
    const { incident, responder, query } = link;
    // A second tap by the same person (slow network, back button) is not an error: the page already says so.
    if (incident.state === 'acknowledged' && incident.acknowledgedBy?.id === responder.id)
      return reply.redirect(pageHrefs(incident.code, query, 'action').page, 303);
    try {
      await deps.incidents.acknowledge(incident.id, responder, 'dashboard');
    } catch (err) {
      if (!isInvalidTransition(err)) throw err;
      return refusedTransition(reply, link);
    }
    return reply.redirect(pageHrefs(incident.code, query, 'action').page, 303);
  });

  // "已到达": an incident nobody has taken yet is taken by whoever arrives (acknowledged first, then on site).
  app.post<PageRoute>('/i/:code/onsite', { logSerializers }, async (request, reply) => {
    const link = await open(request, reply);
    if (!link) return reply;
    const { incident, responder, query } = link;
    const markOnSite = deps.incidents.markOnSite?.bind(deps.incidents);
    if (!markOnSite) throw new GatewayError('GW_ERR_NOT_FOUND');
    try {
      if (incident.state === 'open' || incident.state === 'pending') await deps.incidents.acknowledge(incident.id, responder, 'dashboard');
      await markOnSite(incident.id, responder, 'dashboard');
    } catch (err) {
      if (!isInvalidTransition(err)) throw err;
      const now = (await deps.incidents.view(incident.id)) ?? incident;
      // Someone (maybe this person, on a second tap) is already there: show the page as it is.
      if (now.state === 'acknowledged' && now.onSiteAt) {
        return show(reply, { ...link, incident: now }, 'action', 409, {
          kind: 'info',
          text: `${now.onSiteBy?.name ?? '已有人'}已到达（${formatLocal(now.onSiteAt, page.timeZone)}）。`,
        });
      }
      return refusedTransition(reply, link);
    }
    return reply.redirect(pageHrefs(incident.code, query, 'action').page, 303);
  });

  app.post<PageRoute & { Body: unknown }>(
    '/i/:code/resolve',
    { logSerializers, bodyLimit: PAGE_FORM_BODY_LIMIT },
    async (request, reply) => {
      const link = await open(request, reply);
      if (!link) return reply;
      const raw = noteOf(request.body);
      if (raw === null) return show(reply, link, 'action', 400, { kind: 'error', text: '提交的内容无效，请重试。' });
      const note = raw.replace(/\r\n?/g, '\n').trim();
      if ([...note].length > NOTE_MAX_CHARS)
        return show(reply, link, 'action', 400, { kind: 'error', text: `备注最多${NOTE_MAX_CHARS}字，请删减后再提交。` }, note);
      try {
        await deps.incidents.resolve(link.incident.id, link.responder, 'dashboard', note.length > 0 ? note : undefined);
      } catch (err) {
        if (!isInvalidTransition(err)) throw err;
        return refusedTransition(reply, link, note);
      }
      return reply.redirect(pageHrefs(link.incident.code, link.query, 'action').page, 303);
    },
  );
};

/** The note field of the form: '' when absent, null when it is not one string (a repeated field, say). */
function noteOf(body: unknown): string | null {
  if (body === undefined || body === null) return '';
  if (typeof body !== 'object') return null;
  const note: unknown = 'note' in body ? body.note : undefined;
  if (note === undefined) return '';
  return typeof note === 'string' ? note : null;
}

function errorText(status: number): { title: string; message: string } {
  if (status === 413) return { title: '内容太长', message: `备注最多${NOTE_MAX_CHARS}字。` };
  if (status < 500) return { title: '请求无效', message: '请返回短信，重新点开链接。' };
  return { title: '暂时无法打开', message: '系统出错，请稍后再试，或直接回复短信“1”接单。' };
}

function isInvalidTransition(err: unknown): boolean {
  return err instanceof GatewayError && err.code === 'GW_ERR_INVALID_TRANSITION';
}

function statusOf(err: unknown): number {
  if (err instanceof GatewayError) return err.statusCode;
  if (err instanceof Error && 'statusCode' in err && typeof err.statusCode === 'number') return err.statusCode;
  return 500;
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}
