// The incident page behind the SMS link, driven as a phone would: the link from the simulator's SMS, GET, form POSTs, redirects.
import { linkCodeOf, pageLinkFor, redeemLinkCode } from '../helpers/page-link.js';
import { waitFor } from '../helpers/wait.js';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Gateway } from '../../gateway/app.js';
import { loadConfig } from '../../gateway/config/load.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { createLogger } from '../../gateway/core/logger.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { API_TOKEN, TEST_REGISTRY, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const W1 = '+8613900000001';
const W2 = '+8613900000002';
const SON = '+8613800000001';
const EVIL_NAME = '<script>alert("name")</script>王淑珍';

describe('incident page from the SMS link', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;
  let seq = 0;

  beforeEach(async () => {
    // Thursday 2026-11-26 10:00 in Asia/Shanghai.
    clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
  });

  const press = async (client: MqttClient, deviceId: string) => {
    await client.publishAsync(`care/v1/${deviceId}/event`, JSON.stringify({ type: 'sos', seq: ++seq }), { qos: 1 });
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const incidentOf = async (code: string) => (await api<IncidentView[]>('/api/incidents')).find((i) => i.code === code)!;
  /** The signed incident-page link the latest link SMS to `phone` stands for (optionally for one incident code). */
  const linkFor = (phone: string, code?: string): Promise<URL> =>
    pageLinkFor(t.sms, t.httpUrl, phone, { base: t.publicUrl, ...(code ? { incidentCode: code } : {}) });
  const codeOf = (link: URL) => link.pathname.split('/')[2]!;
  const open = (link: URL | string) => fetch(link, { redirect: 'manual' });
  const act = (link: URL, action: 'ack' | 'resolve', form: Record<string, string> = {}) =>
    fetch(`${link.origin}${link.pathname}/${action}${link.search}`, {
      method: 'POST',
      body: new URLSearchParams(form),
      redirect: 'manual',
    });
  /** The URL a form on the page posts to, resolved as a browser would against the URL the page was answered for. */
  const formAction = (html: string, answeredFor: string, action: 'ack' | 'resolve'): URL => {
    const actions = [...html.matchAll(/<form method="post" action="([^"]+)">/g)].map((m) => m[1]!.replaceAll('&#38;', '&'));
    const found = actions.map((a) => new URL(a, answeredFor)).find((u) => u.pathname.endsWith(`/${action}`));
    expect(found).toBeDefined();
    return found!;
  };
  const withParam = (link: URL, key: string, value: string) => {
    const u = new URL(link);
    u.searchParams.set(key, value);
    return u;
  };
  const expectPageHeaders = (res: Response) => {
    expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'unsafe-inline'");
    expect(csp).toContain("form-action 'self'");
  };

  it('opens from the link sent to w-01, shows the alarm, and acknowledges from the page', async () => {
    await press(button, 'btn-001');
    const link = await linkFor(W1);
    expect(link.href.startsWith(`${t.publicUrl}/i/`)).toBe(true);
    expect([...link.searchParams.keys()]).toEqual(['p', 'r', 'e', 's']);
    expect(link.searchParams.get('p')).toBe('w-01');
    // The family's link is their own: signed for the family member, not the worker's link passed on.
    const familyLink = await linkFor(SON);
    expect(codeOf(familyLink)).toBe(codeOf(link));
    expect(familyLink.searchParams.get('p')).toBe('family:r-001:0');
    expect(familyLink.searchParams.get('r')).toBe('family');

    const page = await open(link);
    expect(page.status).toBe(200);
    expectPageHeaders(page);
    const html = await page.text();
    expect(html).toContain('lang="zh-CN"');
    expect(html).toContain('张桂兰');
    expect(html).toContain('安达里3号楼2门401');
    expect(html).toContain('紧急求助');
    const opened = new Date(clock.now() + 8 * 3_600_000); // Asia/Shanghai has no daylight saving
    expect(html).toContain(`${opened.getUTCMonth() + 1}月${opened.getUTCDate()}日 10:00`);
    expect(html).toContain('等待接单');
    expect(html).toContain('我去处理');
    expect(html).toContain('已解决');
    expect(html).toContain('李明（网格员）');
    expect(html).toMatch(/张伟（家属）/);
    // Nothing outside the page itself: no scripts, no external styles, images or fonts.
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);

    // Press the page's own button: its form posts back with the same signed query.
    const ackUrl = formAction(html, link.href, 'ack');
    expect(ackUrl.href).toBe(`${link.origin}${link.pathname}/ack${link.search}`);
    expect(formAction(html, link.href, 'resolve').href).toBe(`${link.origin}${link.pathname}/resolve${link.search}`);
    const ack = await fetch(ackUrl, { method: 'POST', body: new URLSearchParams({ confirm: '1' }), redirect: 'manual' });
    expect(ack.status).toBe(303);
    // Relative, so it also works behind a proxy that strips a path prefix of PUBLIC_URL.
    const back = new URL(ack.headers.get('location')!, `${link.origin}${link.pathname}/ack${link.search}`);
    expect(back.href).toBe(link.href);
    const incident = await incidentOf(codeOf(link));
    expect(incident.state).toBe('acknowledged');
    expect(incident.acknowledgedBy).toMatchObject({ role: 'worker', id: 'w-01', name: '李明', phone: W1 });
    const detail = await api<IncidentView>(`/api/incidents/${incident.id}`);
    expect(detail.timeline?.find((e) => e.action === 'acknowledged')).toMatchObject({ channel: 'dashboard', actor: 'worker:w-01' });
    await t.sms.waitForMessage((m) => m.to === SON && m.body.includes('李明已接单'));

    const after = await (await open(back)).text();
    expect(after).toContain('已由李明接单');
    expect(after).toContain('您已接单');
    expect(after).not.toContain('我去处理');
    // Tapping again (slow network, back button) changes nothing and is no error.
    expect((await act(link, 'ack')).status).toBe(303);
  });

  it('lets a family member follow and take the alarm from their own link, named as themselves', async () => {
    await press(button, 'btn-001');
    const link = await linkFor(SON);
    const page = await open(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('张桂兰');
    expect(html).toContain('李明（网格员）');
    expect(html).toContain('我去处理');
    const ack = await act(link, 'ack', { confirm: '1' });
    expect(ack.status).toBe(303);
    const incident = await incidentOf(codeOf(link));
    expect(incident.acknowledgedBy).toMatchObject({ role: 'family', id: 'family:r-001:0', name: '张伟', phone: SON });
    // The worker paged learns it is taken, by the son's name.
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('已由张伟接单'));
  });

  it('opens the signed link from the code typed at the fixed /i, refuses wrong codes and throttles guessing', async () => {
    await press(button, 'btn-001');
    const sms = await t.sms.waitForMessage((m) => m.to === W1 && linkCodeOf(m.body) !== null);
    const code = linkCodeOf(sms.body)!;
    // Nothing signed travels in the SMS or sits in the SMS log.
    const logged = await t.gateway.store.sms.list(100);
    expect(logged.filter((m) => m.incidentId !== null).some((m) => /[?&]s=|\/i\//.test(m.body))).toBe(false);
    const form = await open(`${t.httpUrl}/i`);
    expect(form.status).toBe(200);
    expectPageHeaders(form);
    expect(await form.text()).toContain('<form method="get" action="/i">');
    // Typed as a person would: lower case, with a space.
    const opened = await redeemLinkCode(t.httpUrl, `${code.slice(0, 5).toLowerCase()} ${code.slice(5)}`);
    expect(opened?.searchParams.get('p')).toBe('w-01');
    expect((await open(opened!)).status).toBe(200);
    const wrong = code.startsWith('A') ? `B${code.slice(1)}` : `A${code.slice(1)}`;
    for (let i = 0; i < 10; i++) expect((await open(`${t.httpUrl}/i?c=${wrong}`)).status).toBe(404);
    // Ten wrong codes from one address: even the right one waits now.
    expect((await open(`${t.httpUrl}/i?c=${code}`)).status).toBe(429);
  });

  it('refuses forged, incomplete and foreign links with 403 and no personal data', async () => {
    await press(button, 'btn-001');
    const link = await linkFor(W1);
    const sig = link.searchParams.get('s')!;
    const forged = [
      withParam(link, 's', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)),
      withParam(link, 'p', 'w-02'),
      withParam(link, 'r', 'duty_contact'),
      withParam(link, 'e', 'zzzzzz'),
      new URL(`${link.origin}${link.pathname}`),
    ];
    for (const bad of forged) {
      const res = await open(bad);
      expect(res.status).toBe(403);
      expectPageHeaders(res);
      const body = await res.text();
      expect(body).not.toContain('张桂兰');
      expect(body).not.toContain('安达里3号楼');
      expect(body).not.toContain('+86');
      expect(body).toMatch(/链接(无效|不完整)/);
    }
    // The same link on another incident's code is not a link to that incident either.
    expect((await open(`${t.httpUrl}/i/ZZZZZZZZ${link.search}`)).status).toBe(403);

    // Only the page's own form posts are taken; anything else gets a page, not the API's JSON.
    const json = await fetch(`${link.origin}${link.pathname}/ack${link.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(415);
    expectPageHeaders(json);
    const huge = await act(link, 'resolve', { note: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(await huge.text()).toContain('备注最多500字');
    expect((await incidentOf(codeOf(link))).state).toBe('open');

    const forgedAck = await act(withParam(link, 'p', 'w-02'), 'ack');
    expect(forgedAck.status).toBe(403);
    expect((await incidentOf(codeOf(link))).state).toBe('open');

    // A correctly signed link to a code that does not exist: 404, still without personal data.
    const unknown = await open(`${t.httpUrl}/i/ZZZZZZZZ?${t.gateway.links.sign('ZZZZZZZZ', 'w-01', 'worker', clock.now() + 3600_000)}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('未找到此求助');
  });

  it('stops working 24 h after the page was sent', async () => {
    await press(button, 'btn-001');
    const link = await linkFor(W1);
    expect((await act(link, 'ack')).status).toBe(303);
    clock.advance(23 * 3600_000);
    expect((await open(link)).status).toBe(200);
    clock.advance(2 * 3600_000);
    const expired = await open(link);
    expect(expired.status).toBe(403);
    const body = await expired.text();
    expect(body).toContain('链接已过期');
    expect(body).not.toContain('张桂兰');
    expect((await act(link, 'resolve', { note: 'late' })).status).toBe(403);
    expect((await incidentOf(codeOf(link))).state).toBe('acknowledged');
  });

  it('says who took it when a second worker taps 我去处理 too late', async () => {
    await press(button, 'btn-001');
    const first = await linkFor(W1);
    clock.advance(180_000);
    const second = await linkFor(W2, codeOf(first));
    expect(second.searchParams.get('p')).toBe('w-02');
    expect((await act(first, 'ack')).status).toBe(303);

    const late = await act(second, 'ack');
    expect(late.status).toBe(409);
    expectPageHeaders(late);
    const lateHtml = await late.text();
    expect(lateHtml).toContain('已由李明接单');
    // Answered at …/ack, its forms and links must still lead to this incident.
    const lateUrl = `${second.origin}${second.pathname}/ack${second.search}`;
    expect(formAction(lateHtml, lateUrl, 'resolve').href).toBe(`${second.origin}${second.pathname}/resolve${second.search}`);
    const refresh = /<a class="refresh" href="([^"]+)">/.exec(lateHtml)?.[1]?.replaceAll('&#38;', '&');
    expect(new URL(refresh!, lateUrl).href).toBe(second.href);
    expect((await incidentOf(codeOf(first))).acknowledgedBy?.id).toBe('w-01');
    // The second worker's page shows who has it, and offers no acknowledge button.
    const page = await (await open(second)).text();
    expect(page).toContain('已由李明接单');
    expect(page).not.toContain('我去处理');
  });

  it('resolves with a note and escapes the note and the resident name', async () => {
    const resident = await t.gateway.store.registry.getResident('r-002');
    await t.gateway.store.registry.upsert({
      communities: [],
      residents: [{ ...resident!, name: EVIL_NAME }],
      workers: [],
      devices: [],
      volunteers: [],
      visits: [],
    });
    const other = await connectDevice(t.mqttUrl, 'btn-002', 's3cret-btn-002');
    try {
      await press(other, 'btn-002');
      const incident = await waitFor('r-002 paged', async () =>
        (await api<IncidentView[]>('/api/incidents')).find((i) => i.resident === 'r-002' && i.pages.length > 0),
      );
      const to = incident.pages.find((p) => p.role === 'worker')!.to;
      const link = await linkFor(to, incident.code);

      const tooLong = await act(link, 'resolve', { note: '长'.repeat(501) });
      expect(tooLong.status).toBe(400);
      expect(await tooLong.text()).toContain('备注最多500字');
      expect((await incidentOf(incident.code)).state).toBe('open');

      const note = '<script>alert("note")</script> 已送医 & 家属已到';
      const resolved = await act(link, 'resolve', { note });
      expect(resolved.status).toBe(303);
      const detail = await api<IncidentView>(`/api/incidents/${incident.id}`);
      expect(detail.state).toBe('resolved');
      const entry = detail.timeline?.find((e) => e.action === 'resolved');
      expect(entry).toMatchObject({ channel: 'dashboard' });
      expect(entry?.detail?.note).toBe(note);

      const page = await open(link);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).not.toContain('<script');
      expect(html).toContain('&#60;script&#62;alert(&#34;note&#34;)&#60;/script&#62; 已送医 &#38; 家属已到');
      expect(html).toContain('&#60;script&#62;alert(&#34;name&#34;)&#60;/script&#62;王淑珍');
      expect(html).toContain('此求助已结束');

      const again = await act(link, 'resolve', { note: 'twice' });
      expect(again.status).toBe(409);
      expect(await again.text()).toContain('此求助已解决');
    } finally {
      await other.endAsync();
    }
  });
});

describe('incident page logging', () => {
  it('logs the route and the refusal reason, never the signed query', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const dir = tempDir();
    const config = loadConfig({
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: dir.path,
      REGISTRY_FILE: TEST_REGISTRY,
      LOG_LEVEL: 'info',
    });
    const gateway = Gateway.create({ config, log: createLogger({ level: 'info', destination }) });
    try {
      const { httpPort } = await gateway.start();
      const query = gateway.links.sign('ABCDEFGH', 'w-01', 'worker', Date.now() + 3600_000);
      const sig = new URLSearchParams(query).get('s')!;
      expect((await fetch(`http://127.0.0.1:${httpPort}/i/ABCDEFGH?${query}`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${httpPort}/i/ABCDEFGH?${query.replace(`s=${sig}`, `s=${sig.slice(1)}A`)}`)).status).toBe(403);
      const log = lines.join('');
      expect(log).toContain('"route":"/i/:code"');
      expect(log).toContain('"reason":"bad_signature"');
      expect(log).not.toContain(sig.slice(1));
    } finally {
      await gateway.stop();
      dir.remove();
    }
  });
});
