// The phones page of the SMS simulator: an incoming call shows with Answer / Busy / Let ring, then a keypad that drives it.
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { NEVER } from '../../simulators/sms/responders.js';
import { SmsSimulator } from '../../simulators/sms/sms-simulator.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { SIM_SID, SIM_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const W1 = '+8613900000001';

describe('phones page: incoming calls', () => {
  let sim: SmsSimulator;
  let t: TestGateway;
  let clock: ManualClock;
  let button: MqttClient;

  beforeEach(async () => {
    sim = new SmsSimulator({
      accountSid: SIM_SID,
      authToken: SIM_TOKEN,
      callbackDelayMs: 5,
      gatewayUrl: 'http://127.0.0.1:9',
      set: { rules: [], fallback: NEVER, trigger: '回1' },
    });
    await sim.start();
    clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock, sms: sim.twilio, env: { VOICE_PROVIDER: 'twilio' } });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
  });

  afterEach(async () => {
    await button.endAsync();
    await t.stop();
    await sim.stop();
  });

  const page = async () => (await fetch(`${sim.url}/`)).text();
  const act = (id: string, action: string) =>
    fetch(`${sim.url}/calls/${encodeURIComponent(id)}/act`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `action=${encodeURIComponent(action)}`,
    });

  it('answers a live call and presses 1 from the page; the incident is acknowledged', async () => {
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const incident = await waitFor('incident', () => t.gateway.store.incidents.findActiveForResident('r-001'));
    await sim.twilio.waitForMessage((m) => m.to === W1);
    clock.advance(60_000);
    const ringing = await sim.twilio.calls.waitFor((c) => c.to === W1 && c.status === 'ringing');
    const html = await page();
    expect(html).toContain(`/calls/${ringing.id}/act`);
    expect(html).toContain('value="answer"');
    expect((await act(ringing.id, 'key:9x')).status).toBe(409);
    expect((await act(ringing.id, 'answer')).status).toBe(303);
    await sim.twilio.calls.waitFor((c) => c.id === ringing.id && c.spoken.some((s) => s.includes('张桂兰')));
    const playing = await page();
    expect(playing).toContain('value="key:1"');
    expect(playing).toContain('安达里三号楼二门四零一');
    expect((await act(ringing.id, 'key:1')).status).toBe(303);
    await waitFor('acknowledged', async () => (await t.gateway.store.incidents.get(incident.id))?.state === 'acknowledged');
    const ended = await sim.twilio.calls.waitFor((c) => c.id === ringing.id && c.endedAt !== null);
    expect(ended.keys).toEqual(['1']);
    expect((await act(ringing.id, 'key:1')).status).toBe(409);
  });
});
