// A sudden fall in connected devices: /healthz names it (broker degraded, still 200) until the devices come back or the hold ends.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { loadConfig } from '../../gateway/config/load.js';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { shanghaiLast } from '../helpers/calendar.js';

/** A Thursday 10:00 in Shanghai (a weekday, inside the day shifts), the latest before today: recent, never in the future. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);

const SECRETS: Record<string, string> = { 'btn-001': 's3cret-btn-001', 'btn-002': 's3cret-btn-002', 'fall-001': 's3cret-fall-001' };

interface Health {
  status: string;
  alarmsOk: boolean;
  components: { broker: { status: string; clients: number; detail?: string; droppedFrom?: number } };
}

describe('a sudden fall in connected devices', () => {
  let t: TestGateway | undefined;
  const devices: MqttClient[] = [];
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.endAsync(true);
    await t?.stop();
    t = undefined;
  });

  const health = async (): Promise<{ code: number; body: Health }> => {
    const res = await fetch(`${t!.httpUrl}/healthz`);
    return { code: res.status, body: (await res.json()) as Health };
  };
  const connect = async (id: string): Promise<MqttClient> => {
    const c = await connectDevice(t!.mqttUrl, id, SECRETS[id] ?? '');
    devices.push(c);
    return c;
  };
  const clients = (n: number) => waitFor(`${n} clients`, async () => ((await health()).body.components.broker.clients === n ? true : null));

  it('degrades the broker in /healthz, keeps 200, and clears when the devices come back or after the hold', async () => {
    const clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock, env: { DEVICE_DROP_MIN: '2', DEVICE_DROP_PERCENT: '50' } });
    const [a, b] = [await connect('btn-001'), await connect('btn-002')];
    await connect('fall-001');
    await clients(3);
    expect((await health()).body.components.broker.status).toBe('up');

    clock.advance(30_000);
    await Promise.all([a.endAsync(), b.endAsync()]);
    await clients(1);
    const fell = await health();
    expect(fell.code).toBe(200);
    expect(fell.body.alarmsOk).toBe(true);
    expect(fell.body.status).toBe('degraded');
    expect(fell.body.components.broker).toMatchObject({ status: 'degraded', clients: 1, droppedFrom: 3 });
    expect(fell.body.components.broker.detail).toContain('connected devices fell from 3 to 1 within 2 min');

    // The devices come back: the fall is over.
    await connect('btn-001');
    await clients(2);
    expect((await health()).body.components.broker.status).toBe('up');

    // A fall that is not followed by a return stays reported for the hold (15 min), then device supervision has it.
    clock.advance(10 * 60_000);
    await connect('btn-002');
    await clients(3);
    clock.advance(60_000);
    for (const d of devices.splice(0)) await d.endAsync();
    await clients(0);
    clock.advance(14 * 60_000);
    expect((await health()).body.components.broker).toMatchObject({ status: 'degraded', droppedFrom: 3 });
    clock.advance(60_001);
    expect((await health()).body.components.broker.status).toBe('up');
  });

  it('does not count a slow decline, or a fall smaller than the thresholds', async () => {
    const clock = new ManualClock(LAST_THURSDAY_10);
    t = await startTestGateway({ clock, env: { DEVICE_DROP_MIN: '2', DEVICE_DROP_PERCENT: '50' } });
    const [a, b] = [await connect('btn-001'), await connect('btn-002')];
    await connect('fall-001');
    await clients(3);
    await a.endAsync();
    await clients(2);
    clock.advance(2 * 60_000 + 1);
    await b.endAsync();
    await clients(1);
    expect((await health()).body.components.broker.status).toBe('up');
  });

  it('refuses a malformed threshold at start with one line naming the variable', () => {
    expect(() => loadConfig({ DEVICE_DROP_PERCENT: '0' })).toThrow(/^DEVICE_DROP_PERCENT: expected a percentage from 1 to 100/);
    expect(() => loadConfig({ DEVICE_DROP_MIN: 'many' })).toThrow(/^DEVICE_DROP_MIN: /);
  });
});
