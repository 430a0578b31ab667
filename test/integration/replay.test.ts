// An event acknowledged to the device but not yet acted on when the gateway died is acted on at the next start, exactly once, however many there are.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { createHash } from 'node:crypto';
import type { NewEvent } from '../../gateway/storage/ports.js';
import { openSqliteStore, databaseFile } from '../../gateway/storage/sqlite/store.js';
import { SIM_SID, SIM_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { tempDir } from '../helpers/tmp.js';

/** An event as the ingest commits it before the PUBACK. */
function event(deviceId: string, seq: number, body: Record<string, unknown>): NewEvent {
  const payload = JSON.stringify({ ...body, seq });
  return {
    deviceId,
    seq,
    type: body.type as NewEvent['type'],
    payload,
    payloadHash: createHash('sha256').update(payload).digest('hex'),
    deviceTs: null,
    receivedAt: Date.now(),
  };
}

describe('replay of recorded, unprocessed events', () => {
  let t: TestGateway | null = null;
  let dir: ReturnType<typeof tempDir>;
  let sms: TwilioSimServer;

  beforeEach(async () => {
    dir = tempDir();
    sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sms.start({ port: 0 });
  });

  afterEach(async () => {
    await t?.stop();
    t = null;
    await sms.stop();
    dir.remove();
  });

  /** A first run imports the registry and stops; then the events are recorded as if the crash came before the incident transaction. */
  async function recordedBeforeCrash(events: NewEvent[]): Promise<(number | null)[]> {
    t = await startTestGateway({ dataDir: dir.path, sms });
    await t.stop({ keep: true });
    t = null;
    const store = openSqliteStore(databaseFile(dir.path));
    const { ids, durable } = await store.events.recordBatch(events, 0);
    await durable;
    await store.close();
    return ids;
  }

  /** After a restart: the worker is paged for r-001's sos, in one incident. */
  async function pagedOnce(gateway: TestGateway): Promise<void> {
    await sms.waitForMessage((m) => m.to === '+8613900000001' && m.body.includes('回1'));
    const incidents = await waitFor('one incident', async () => {
      const list = await gateway.gateway.store.incidents.list({});
      return list.length === 1 ? list : null;
    });
    expect(incidents[0]).toMatchObject({ residentId: 'r-001', state: 'open', signalCount: 1 });
  }

  /** A second restart finds nothing left to replay and pages nobody again. */
  async function restartPagesNobody(): Promise<void> {
    await t?.stop({ keep: true });
    const before = sms.messages().length;
    t = await startTestGateway({ dataDir: dir.path, sms });
    await new Promise((r) => setTimeout(r, 300));
    expect(sms.messages().length).toBe(before);
  }

  it('opens the incident and pages for an sos left unprocessed by a crash, exactly once', async () => {
    await recordedBeforeCrash([event('btn-001', 41, { type: 'sos' })]);
    t = await startTestGateway({ dataDir: dir.path, sms });
    await pagedOnce(t);
    expect(await t.gateway.store.events.listUnprocessed()).toEqual([]);
    await restartPagesNobody();
  });

  it('replays 2,000 heartbeats with an sos among them (more than one processor batch): one incident, one page, every event marked processed', async () => {
    const events: NewEvent[] = [];
    for (let seq = 1; seq <= 2000; seq++) events.push(event('btn-002', seq, { type: 'heartbeat', battery: 80 }));
    events.splice(1500, 0, event('btn-001', 7, { type: 'sos' }));
    const ids = await recordedBeforeCrash(events);
    expect(ids.every((id) => id !== null)).toBe(true);

    t = await startTestGateway({ dataDir: dir.path, sms });
    await pagedOnce(t);
    await t.gateway.processor.idle();
    expect(await t.gateway.store.events.listUnprocessed()).toEqual([]);
    expect(await t.gateway.store.events.get(ids[1500]!)).toMatchObject({ deviceId: 'btn-001', type: 'sos', processed: true });
    await restartPagesNobody();
  });
});
