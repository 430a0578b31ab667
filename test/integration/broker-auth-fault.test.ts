// Fault test: ten bad logins from one address, right after a start, then the building's real devices from that same address.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { shanghaiLast } from '../helpers/calendar.js';

/** A Thursday 10:00 in Shanghai (a weekday, inside the day shifts), the latest before today: recent, never in the future. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);

const W1 = '+8613900000001';

async function refused(mqttUrl: string, id: string, secret: string): Promise<number | undefined> {
  try {
    const c = await connectDevice(mqttUrl, id, secret);
    await c.endAsync();
    return 0;
  } catch (err) {
    return err instanceof Error && 'code' in err && typeof err.code === 'number' ? err.code : undefined;
  }
}

describe('bad logins from a shared address (one NAT for a whole building)', () => {
  let t: TestGateway | undefined;
  const devices: MqttClient[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.endAsync(true);
    await t?.stop();
    t = undefined;
  });

  it('still admits every device with its right secret, and their SOS are PUBACKed and paged', async () => {
    // A Thursday 10:00 in Asia/Shanghai: every worker on duty.
    const clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock });
    const gw = t;
    // Right after a start nobody has connected yet, so no secret is cached: every device needs a full check.
    const bad: [string, string][] = [
      ...[0, 1, 2, 3].map((i): [string, string] => ['btn-001', `guess-${i}`]),
      ...[0, 1, 2].map((i): [string, string] => ['btn-002', `guess-${i}`]),
      ...[0, 1, 2].map((i): [string, string] => [`btn-9${i}`, 'guess']),
    ];
    for (const [id, secret] of bad) expect(await refused(gw.mqttUrl, id, secret)).toBe(4);

    const [btn1, btn2] = await Promise.all([
      connectDevice(gw.mqttUrl, 'btn-001', 's3cret-btn-001'),
      connectDevice(gw.mqttUrl, 'btn-002', 's3cret-btn-002'),
    ]);
    devices.push(btn1, btn2);
    // publishAsync resolves on the PUBACK, which comes only after the event is durably recorded.
    await Promise.all([
      btn1.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 }),
      btn2.publishAsync('care/v1/btn-002/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 }),
    ]);

    await gw.sms.waitForMessage((m) => m.to === W1 && m.body.includes('张桂兰'));
    await gw.sms.waitForMessage((m) => m.to === W1 && m.body.includes('王淑珍'));
    const incidents = await waitFor('both incidents paged', async () => {
      const res = await fetch(`${gw.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      const list = (await res.json()) as IncidentView[];
      return list.length === 2 && list.every((i) => i.pages.some((p) => p.to === W1 && p.status !== 'queued')) ? list : null;
    });
    expect(incidents.map((i) => i.resident).sort()).toEqual(['r-001', 'r-002']);

    // The failures are on record; the health report says the broker is fine (nothing fell).
    const security = await gw.gateway.store.security.list(50);
    expect(security.filter((e) => e.kind === 'auth_failed' || e.kind === 'unknown_device')).toHaveLength(10);
    const health = (await (await fetch(`${gw.httpUrl}/healthz`)).json()) as { components: { broker: { status: string; clients: number } } };
    expect(health.components.broker).toMatchObject({ status: 'up', clients: 2 });
  });
});
