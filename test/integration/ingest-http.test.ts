// Vendor-cloud pushes over real HTTP: OneNET's URL check and signed pushes, a generic HMAC vendor with a replay window, refusals as security events, 2xx only after the durable record.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { onenetSignature } from '../../gateway/bridges/vendor-push/onenet.js';
import { hmacSignature } from '../../gateway/bridges/vendor-push/hmac.js';
import { API_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestBridges, CS_BRIDGE, HTTP_BRIDGE, Z2M_BRIDGE, BRIDGED_DEVICES } from '../helpers/bridges.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { shanghaiLast } from '../helpers/calendar.js';

const LAST_THURSDAY_10 = shanghaiLast(4, 10);
const TOKEN = HTTP_BRIDGE.secret;
const HMAC_BRIDGE = { id: 'vendor-x', kind: 'http', secret: 'vendor-x-hmac-key-0123456789', auth: 'hmac' } as const;
const HMAC_DEVICE = { id: 'nb-btn-201', kind: 'sos_button', resident: 'r-001', bridge: 'vendor-x', externalId: 'pendant-7' } as const;
const W1 = '+8613900000001';

/** A OneNET plaintext push as the platform sends it: msg serialised once, signed over exactly those bytes. */
function onenetBody(msg: unknown, token: string = TOKEN, nonce = 'aB3xYz91'): string {
  const msgText = JSON.stringify(msg);
  return `{"msg":${msgText},"msg_signature":"${onenetSignature(token, nonce, msgText)}","nonce":"${nonce}"}`;
}

describe('vendor-cloud HTTP push', () => {
  let t: TestGateway;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock });
    await addTestBridges(t.gateway, {
      bridges: [Z2M_BRIDGE, CS_BRIDGE, HTTP_BRIDGE, HMAC_BRIDGE],
      devices: [...BRIDGED_DEVICES, HMAC_DEVICE],
    });
  });

  afterEach(async () => {
    await t.stop();
  });

  const pushTo = (bridge: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${t.httpUrl}/ingest/v1/${bridge}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const incidents = async () =>
    (await (await fetch(`${t.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as IncidentView[];
  const events = (deviceId: string) =>
    t.gateway.store.database.stmt<[string], { type: string }>('SELECT type FROM events WHERE device_id = ?').all(deviceId);
  const securityEvents = async () => (await t.gateway.store.security.list(50)).filter((e) => e.clientId?.startsWith('bridge:'));
  const sosPoint = (at = clock.now()) => ({ type: 1, dev_id: 'onenet-dev-42', ds_id: 'sos', at, value: 1 });

  it("answers OneNET's URL check with msg only when the signature is the token's", async () => {
    const nonce = 'n0nce123';
    const msg = 'verify-me-123';
    const url = (signature: string) =>
      `${t.httpUrl}/ingest/v1/onenet-1?msg=${msg}&nonce=${nonce}&signature=${encodeURIComponent(signature)}`;
    const ok = await fetch(url(onenetSignature(TOKEN, nonce, msg)));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(msg);

    const forged = await fetch(url(onenetSignature('not-the-token', nonce, msg)));
    expect(forged.status).toBe(403);
    expect(await forged.text()).not.toContain(msg);
    expect((await fetch(`${t.httpUrl}/ingest/v1/onenet-1?msg=${msg}`)).status).toBe(401);
    expect((await securityEvents()).map((e) => [e.kind, e.clientId])).toEqual([
      ['auth_failed', 'bridge:onenet-1'],
      ['auth_failed', 'bridge:onenet-1'],
    ]);
  });

  it('records a signed OneNET SOS before answering 200, and the alarm pages the worker', async () => {
    const res = await pushTo('onenet-1', onenetBody(sosPoint()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, rejected: [] });
    // Answered after the commit: the event row is there the moment the 200 is.
    expect(events('nb-btn-102')).toEqual([{ type: 'sos' }]);
    await t.gateway.processor.idle();
    expect((await incidents())[0]).toMatchObject({ resident: 'r-002', type: 'sos', state: 'open', test: false });
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('王淑珍'));
  });

  it('refuses a forged OneNET push with 403, records a security event and acts on nothing', async () => {
    const forged = await pushTo('onenet-1', onenetBody(sosPoint(), 'guessed-token'));
    expect(forged.status).toBe(403);
    // A msg changed after signing is forged too.
    const tampered = onenetBody(sosPoint()).replace('"value":1', '"value":2');
    expect((await pushTo('onenet-1', tampered)).status).toBe(403);
    expect(events('nb-btn-102')).toEqual([]);
    expect((await securityEvents()).map((e) => e.detail)).toEqual([
      expect.stringContaining('msg_signature') as unknown,
      expect.stringContaining('msg_signature') as unknown,
    ]);
    expect(await incidents()).toEqual([]);
  });

  it("answers 503, recording nothing, when the event cannot be committed, and 200 on the vendor's retry once it can", async () => {
    const db = t.gateway.store.database.db;
    // A real failure of the real database's commit (the events insert aborts), not a stand-in for the recorder.
    db.exec("CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;");
    const body = onenetBody(sosPoint());
    const refused = await pushTo('onenet-1', body);
    expect(refused.status).toBe(503);
    expect(events('nb-btn-102')).toEqual([]);

    db.exec('DROP TRIGGER refuse_events');
    await waitFor('recording again', async () => {
      await t.gateway.recording.check();
      return t.gateway.recording.recording;
    });
    const retried = await pushTo('onenet-1', body);
    expect(retried.status).toBe(200);
    // The same push again (a retry after a lost 200) is absorbed: one event, one incident.
    expect((await pushTo('onenet-1', body)).status).toBe(200);
    expect(events('nb-btn-102')).toEqual([{ type: 'sos' }]);
  });

  it('records an unknown device and an unknown datastream as rejections, acknowledged', async () => {
    const res = await pushTo(
      'onenet-1',
      onenetBody([
        { ...sosPoint(), dev_id: 99999 },
        { type: 1, dev_id: 'onenet-dev-42', ds_id: 'door_open', at: clock.now(), value: 1 },
      ]),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accepted: number; rejected: { reason: string }[] };
    expect(body.accepted).toBe(0);
    expect(body.rejected.map((r) => r.reason)).toEqual([
      expect.stringContaining('unknown device "99999"') as unknown,
      expect.stringContaining('unknown datastream door_open') as unknown,
    ]);
    const rejections = t.gateway.store.database
      .stmt<[], { device_id: string; reason: string }>('SELECT device_id, reason FROM rejections ORDER BY id')
      .all();
    expect(rejections).toEqual([
      { device_id: 'onenet-1', reason: 'unknown_device' },
      { device_id: 'nb-btn-102', reason: 'unknown_type' },
    ]);
    expect(events('nb-btn-102')).toEqual([]);
  });

  it('maps OneNET readings and lifecycle messages to telemetry and online/offline', async () => {
    const res = await pushTo(
      'onenet-1',
      onenetBody([
        { type: 1, dev_id: 'onenet-dev-42', ds_id: 'data', at: clock.now(), value: { battery: 64, csq: 20 } },
        { type: 2, dev_id: 'onenet-dev-42', at: clock.now() + 1, status: 0, login_type: 10 },
      ]),
    );
    expect(res.status).toBe(200);
    const health = t.gateway.ingest.healthOf('nb-btn-102');
    expect(health).toMatchObject({ battery: 64, rssi: -73, state: 'offline' });
  });

  it('refuses a bad body, an oversized one, and a bridge that is not an http bridge', async () => {
    expect((await pushTo('onenet-1', 'not json')).status).toBe(400);
    expect((await pushTo('onenet-1', JSON.stringify({ msg: { type: 1 } }))).status).toBe(400);
    expect((await pushTo('onenet-1', `{"msg":"${'x'.repeat(70 * 1024)}"}`)).status).toBe(413);
    expect((await pushTo('z2m-andali', onenetBody(sosPoint()))).status).toBe(404);
    expect((await pushTo('nope', onenetBody(sosPoint()))).status).toBe(404);
    expect(events('nb-btn-102')).toEqual([]);
  });

  describe('generic HMAC vendor', () => {
    const signed = (body: string, at = clock.now()) => {
      const ts = String(Math.floor(at / 1000));
      return { 'x-care-timestamp': ts, 'x-care-signature': hmacSignature(HMAC_BRIDGE.secret, ts, body) };
    };
    const press = JSON.stringify({ messages: [{ id: 'm-1', device: 'pendant-7', type: 'sos', battery: 80 }] });

    it('takes a signed push, and refuses unsigned, forged and replayed ones', async () => {
      expect((await pushTo('vendor-x', press)).status).toBe(401);
      expect(
        (
          await pushTo('vendor-x', press, {
            ...signed(press),
            'x-care-signature': hmacSignature('wrong-key', String(Math.floor(clock.now() / 1000)), press),
          })
        ).status,
      ).toBe(403);
      // Signed six minutes ago: outside the five-minute window, whatever the signature.
      expect((await pushTo('vendor-x', press, signed(press, clock.now() - 6 * 60_000))).status).toBe(403);
      expect(events('nb-btn-201')).toEqual([]);
      expect((await securityEvents()).length).toBe(3);

      const ok = await pushTo('vendor-x', press, signed(press));
      expect(ok.status).toBe(200);
      expect(events('nb-btn-201')).toEqual([{ type: 'sos' }]);
      // The same message id again within the window (a replay inside it) is absorbed.
      expect((await pushTo('vendor-x', press, signed(press))).status).toBe(200);
      expect(events('nb-btn-201')).toEqual([{ type: 'sos' }]);
    });

    it('limits a flood of non-alarm pushes with 429 while alarms still go through', async () => {
      let limited = 0;
      for (let i = 0; i < 110 && limited === 0; i++) {
        const body = JSON.stringify({ id: `hb-${i}`, device: 'pendant-7', battery: 90 });
        const res = await pushTo('vendor-x', body, signed(body));
        if (res.status === 429) limited++;
        else expect(res.status).toBe(200);
      }
      expect(limited).toBe(1);
      const alarm = JSON.stringify({ id: 'sos-after-flood', device: 'pendant-7', type: 'sos' });
      expect((await pushTo('vendor-x', alarm, signed(alarm))).status).toBe(200);
      expect(events('nb-btn-201')).toEqual([{ type: 'sos' }]);
    });
  });
});
