// An SMS left unsent by a stop goes out only once the gateway answers webhooks, so its status callbacks (which Twilio
// posts once, never again) reach the gateway: the real Gateway twice over one data dir, the twilio SDK, the simulator.
import { afterEach, describe, expect, it } from 'vitest';
import { intentOf } from '../../gateway/notifiers/kinds.js';
import { sms } from '../contract/fixtures.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

let t: TestGateway | null = null;

afterEach(async () => {
  await t?.stop();
  t = null;
});

const TO = '+8613700000009';

describe('SMS resumed at start-up', () => {
  it('are sent after the HTTP server listens, and their delivery callbacks are taken', async () => {
    const first = await startTestGateway();
    const now = Date.now();
    // What a stop between the outbox write and the send leaves behind: a queued row nobody has sent yet.
    await first.gateway.store.sms.insert(
      sms('sms-left-queued', {
        to: TO,
        intent: intentOf('reply_help'),
        priority: 'routine',
        purpose: 'help',
        createdAt: now,
        updatedAt: now,
      }),
    );
    await first.stop({ keep: true });
    const sim = first.sms;
    let started = false;
    const sentWhileStarting: string[] = [];
    sim.on('message', (m: { to: string }) => {
      if (!started) sentWhileStarting.push(m.to);
    });
    t = await startTestGateway({ dataDir: first.dataDir, sms: sim });
    started = true;
    const gw = t.gateway;
    await waitFor('the resumed SMS delivered', async () => (await gw.store.sms.get('sms-left-queued'))?.status === 'delivered');
    // The gateway answers the delivered callback after storing it: the simulator logs the callback once it has read that
    // answer, which can be a moment after the store shows it.
    await sim.waitForCallback((c) => c.params.To === TO && c.status === 'delivered');
    expect(sentWhileStarting).toEqual([]);
    const callbacks = sim.callbacks().filter((c) => c.params.To === TO);
    expect(callbacks.map((c) => c.status)).toEqual(['queued', 'sent', 'delivered']);
    for (const c of callbacks) expect(c.httpStatus, `${c.status} callback`).toBe(204);
    await sim.stop();
  });
});
