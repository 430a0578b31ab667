// The SMS link's page gets "已到达", the resident's notes and key-holder for the worker, and a small no-script map.
import { pageLinkFor } from '../helpers/page-link.js';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { connectDevice } from '../helpers/gateway.js';
import { ADMIN, startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';

const W1 = '+8613900000001';
const SON = '+8613800000001';

describe('incident page: on-site step, resident details and map', () => {
  let dg: DashboardGateway;
  let button: MqttClient;
  let incident: IncidentView;
  let workerLink: URL;

  const linkFor = (phone: string): Promise<URL> => pageLinkFor(dg.sms, dg.url, phone);
  const post = (link: URL, action: string) =>
    fetch(`${link.origin}${link.pathname}/${action}${link.search}`, {
      method: 'POST',
      body: new URLSearchParams({ confirm: '1' }),
      redirect: 'manual',
    });

  beforeAll(async () => {
    dg = await startDashboardGateway();
    button = await connectDevice(dg.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    workerLink = await linkFor(W1);
    const s = await dg.signIn(ADMIN.username, ADMIN.password);
    incident = await waitFor('the open incident of r-001', async () => {
      const list = (await (await fetch(`${dg.url}/api/incidents?state=open`, { headers: { cookie: s.cookie } })).json()) as IncidentView[];
      return list.find((v) => v.resident === 'r-001');
    });
  });

  afterAll(async () => {
    await button?.endAsync();
    await dg?.stop();
  });

  it('shows the three big buttons in order, the key-holder, the escaped notes and an inline SVG map', async () => {
    const res = await fetch(workerLink);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    const ack = html.indexOf('>我去处理</button>');
    const onsite = html.indexOf('>已到达</button>');
    const resolve = html.indexOf('>已解决</button>');
    expect(ack).toBeGreaterThan(0);
    expect(onsite).toBeGreaterThan(ack);
    expect(resolve).toBeGreaterThan(onsite);
    expect(html).toContain('刘阿姨 +8613600000001');
    expect(html).toContain('糖尿病，&#60;script&#62;window.__pwned=1&#60;/script&#62; 钥匙在门垫下');
    expect(html).not.toContain('<script');
    expect(html).toMatch(/<svg class="sitemap"[^>]*>/);
    // Both buildings of the community are drawn, the resident's one highlighted, and labelled without the shared prefix.
    expect(html.match(/<rect x="[\d.]+" y="[\d.]+" width="28"/g)).toHaveLength(2);
    expect(html).toContain('fill="#c00000"');
    expect(html).toContain('>3号楼</text>');
    expect(html).toContain('href="geo:39.210100,117.130200"');
  });

  it('keeps care notes off the page opened with the family link', async () => {
    const family = await linkFor(SON);
    expect(family.pathname).toBe(workerLink.pathname);
    const html = await (await fetch(family)).text();
    expect(html).toContain('刘阿姨');
    expect(html).not.toContain('糖尿病');
  });

  it('"已到达" on an untaken incident takes it and records the arrival, once', async () => {
    const res = await post(workerLink, 'onsite');
    expect(res.status).toBe(303);
    const page = await (
      await fetch(new URL(res.headers.get('location') ?? '', `${workerLink.origin}${workerLink.pathname}/onsite`))
    ).text();
    expect(page).toMatch(/李明已到达（\d+月\d+日 \d\d:\d\d）/);
    expect(page).not.toContain('>已到达</button>');
    expect(page).toContain('>已解决</button>');
    const stored = await dg.gateway.store.incidents.get(incident.id);
    expect(stored).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: { id: 'w-01', role: 'worker' },
      onSiteBy: { id: 'w-01', name: '李明' },
    });
    expect(stored?.onSiteAt).toBeGreaterThanOrEqual(stored?.acknowledgedAt ?? Infinity);
    const audit = await dg.gateway.store.incidents.listAudit(incident.id);
    expect(audit.filter((e) => e.action === 'on_site')).toHaveLength(1);
    expect(page).toContain('已到达 李明（网格员）');

    // A second tap (slow network) answers with the page as it is, and records nothing new.
    const again = await post(workerLink, 'onsite');
    expect([303, 409]).toContain(again.status);
    expect((await dg.gateway.store.incidents.listAudit(incident.id)).filter((e) => e.action === 'on_site')).toHaveLength(1);
  });

  it('refuses a forged or expired link for the on-site post and changes nothing', async () => {
    const forged = new URL(workerLink);
    const s = forged.searchParams.get('s') ?? '';
    forged.searchParams.set('s', `${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`);
    const refused = await post(forged, 'onsite');
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('链接无效');

    const code = workerLink.pathname.split('/')[2] ?? '';
    const expired = new URL(`${dg.url}/i/${code}?${dg.gateway.links.sign(code, 'w-01', 'worker', Date.now() - 1000)}`);
    const old = await fetch(expired);
    expect(old.status).toBe(403);
    expect(await old.text()).toContain('链接已过期');
    expect((await post(expired, 'onsite')).status).toBe(403);
  });
});
