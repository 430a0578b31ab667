// The visit reminder carries a signed link that signs the volunteer in and opens her page; tampered, foreign and expired links are refused.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { volunteerLink } from '../../gateway/http/routes/visit-link.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { shanghaiLast, wallTime } from '../helpers/calendar.js';
import { V01 } from '../helpers/visits.js';

/** Midnight of the latest Wednesday before today (Asia/Shanghai): the visit rig's week, never aging against a real clock. */
const WEDNESDAY = shanghaiLast(3, 0);

async function reminderLinkTo(t: TestGateway, phone: string): Promise<string> {
  const sms = (await t.gateway.store.sms.list(100)).find((m) => m.to === phone && m.body.startsWith('【探访提醒】'));
  const link = / 查看：(\S+)$/.exec(sms?.body ?? '')?.[1];
  if (!link) throw new Error(`no reminder link in ${JSON.stringify(sms?.body)}`);
  return link;
}

function cookieOf(res: Response): string {
  const cookie = /^(cg_session=[^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) throw new Error('no session cookie set');
  return cookie;
}

describe('the volunteer link in the visit reminder', () => {
  let t: TestGateway | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('signs her in as herself and sends her to her visits page, until the end of the visit day', async () => {
    const clock = new ManualClock(wallTime(WEDNESDAY, 19, 0));
    t = await startTestGateway({ clock });
    // Started at 19:00, the gateway catches the evening's reminder up at start; a second run sends nothing more.
    await t.gateway.visits.runReminders();
    expect((await t.gateway.store.sms.list(100)).filter((m) => m.to === V01 && m.body.startsWith('【探访提醒】'))).toHaveLength(1);
    const link = await reminderLinkTo(t, V01);
    expect(link.startsWith(`${t.publicUrl}/v/visits?`)).toBe(true);

    const res = await fetch(link, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/#/my-visits');
    const me = await fetch(`${t.httpUrl}/auth/me`, { headers: { cookie: cookieOf(res) } });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { user: { role: string; volunteerId: string } };
    expect(body.user).toMatchObject({ role: 'volunteer', volunteerId: 'v-01' });
    const audit = await t.gateway.accounts.auditLog(10);
    expect(audit.some((a) => a.action === 'link_sign_in' && a.outcome === 'success')).toBe(true);

    // Thursday's visit is over at midnight; so is the link.
    clock.set(wallTime(WEDNESDAY, 0, 0, 2));
    const late = await fetch(link, { redirect: 'manual' });
    expect(late.status).toBe(410);
    expect(late.headers.get('set-cookie')).toBeNull();
    expect(await late.text()).toContain('链接已过期');
  });

  it('refuses a tampered link, a link for someone else, and a signed link of another kind', async () => {
    t = await startTestGateway({ clock: new ManualClock(wallTime(WEDNESDAY, 19, 0)) });
    const good = volunteerLink(t.gateway.links, t.publicUrl, 'v-01', wallTime(WEDNESDAY, 0, 0, 2));
    const forged = good.replace('p=v-01', 'p=v-02');
    const tampered = good.replace(/s=([^&]+)/, (_, s: string) => `s=${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`);
    const workerLink = `${t.publicUrl}/v/visits?${t.gateway.links.sign('visits', 'w-01', 'worker', wallTime(WEDNESDAY, 0, 0, 2))}`;
    for (const url of [forged, tampered, workerLink, `${t.publicUrl}/v/visits`]) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status, url).toBe(403);
      expect(res.headers.get('set-cookie'), url).toBeNull();
    }
    const unknown = volunteerLink(t.gateway.links, t.publicUrl, 'v-99', wallTime(WEDNESDAY, 0, 0, 2));
    const res = await fetch(unknown, { redirect: 'manual' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('无法登录');
  });
});
