// An event acknowledged to the device but not yet acted on when the gateway died is acted on at the next start.
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { openSqliteStore, databaseFile } from '../../gateway/storage/sqlite/store.js';
import { startTestGateway, until, type TestGateway } from '../helpers/gateway.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { SIM_SID, SIM_TOKEN } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

describe('replay of recorded, unprocessed events', () => {
  let t: TestGateway | null = null;
  const dir = tempDir();
  const sms = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });

  afterEach(async () => {
    await t?.stop();
    await sms.stop();
    dir.remove();
  });

  it('opens the incident and pages for an sos left unprocessed by a crash, exactly once', async () => {
    await sms.start({ port: 0 });
    // First run: imports the registry, then stops.
    t = await startTestGateway({ dataDir: dir.path, sms });
    await t.stop({ keep: true });
    t = null;

    // What the ingest commits before the PUBACK, with the crash before the incident transaction.
    const payload = JSON.stringify({ type: 'sos', seq: 41 });
    const store = openSqliteStore(databaseFile(dir.path));
    await store.events.recordBatch(
      [{ deviceId: 'btn-001', seq: 41, type: 'sos', payload, payloadHash: createHash('sha256').update(payload).digest('hex'), deviceTs: null, receivedAt: Date.now() }],
      0,
    );
    await store.close();

    t = await startTestGateway({ dataDir: dir.path, sms });
    await sms.waitForMessage((m) => m.to === '+8613900000001' && m.body.includes('回1'));
    const incidents = await until(async () => {
      const list = await t!.gateway.store.incidents.list({});
      return list.length === 1 ? list : null;
    }, 5000, 'one incident');
    expect(incidents[0]).toMatchObject({ residentId: 'r-001', state: 'open', signalCount: 1 });
    expect(await t.gateway.store.events.listUnprocessed()).toEqual([]);

    // A second restart finds nothing left to replay and pages nobody again.
    await t.stop({ keep: true });
    const before = sms.messages().length;
    t = await startTestGateway({ dataDir: dir.path, sms });
    await new Promise((r) => setTimeout(r, 300));
    expect(sms.messages().length).toBe(before);
  });
});
