// The signal processor takes everyday events in big batches (one UPDATE marks them processed) and alarms in small ones; none is lost or replayed twice.
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { NewEvent } from '../../gateway/storage/ports.js';
import { openSqliteStore, databaseFile } from '../../gateway/storage/sqlite/store.js';
import { SIM_SID, SIM_TOKEN, startTestGateway, until, type TestGateway } from '../helpers/gateway.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { tempDir } from '../helpers/tmp.js';

function event(deviceId: string, seq: number, body: Record<string, unknown>): NewEvent {
  const payload = JSON.stringify({ ...body, seq });
  return { deviceId, seq, type: body.type as NewEvent['type'], payload, payloadHash: createHash('sha256').update(payload).digest('hex'), deviceTs: null, receivedAt: Date.now() };
}

describe('signal processor batching', () => {
  let t: TestGateway | null = null;
  const dir = tempDir();
  const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });

  afterEach(async () => {
    await t?.stop();
    await sms.stop();
    dir.remove();
  });

  it('replays 2,000 heartbeats with an sos among them: one incident, one page, every event marked processed', async () => {
    await sms.start({ port: 0 });
    t = await startTestGateway({ dataDir: dir.path, sms });
    await t.stop({ keep: true });
    t = null;

    // Recorded (acknowledged) before a crash, not acted on: more than one processor batch, the sos in the middle.
    const events: NewEvent[] = [];
    for (let seq = 1; seq <= 2000; seq++) events.push(event('btn-002', seq, { type: 'heartbeat', battery: 80 }));
    events.splice(1500, 0, event('btn-001', 7, { type: 'sos' }));
    const store = openSqliteStore(databaseFile(dir.path));
    const ids = await store.events.recordBatch(events, 0);
    expect(ids.every((id) => id !== null)).toBe(true);
    await store.close();

    t = await startTestGateway({ dataDir: dir.path, sms });
    await sms.waitForMessage((m) => m.to === '+8613900000001' && m.body.includes('回1'));
    const incidents = await until(async () => {
      const list = await t!.gateway.store.incidents.list({});
      return list.length === 1 ? list : null;
    }, 5000, 'one incident');
    expect(incidents[0]).toMatchObject({ residentId: 'r-001', state: 'open', signalCount: 1 });
    await t.gateway.processor.idle();
    expect(await t.gateway.store.events.listUnprocessed()).toEqual([]);
    const sos = await t.gateway.store.events.get(ids[1500]!);
    expect(sos).toMatchObject({ deviceId: 'btn-001', type: 'sos', processed: true });

    // Nothing is left to replay: a restart pages nobody again.
    await t.stop({ keep: true });
    const before = sms.messages().length;
    t = await startTestGateway({ dataDir: dir.path, sms });
    await new Promise((r) => setTimeout(r, 300));
    expect(sms.messages().length).toBe(before);
  });
});
