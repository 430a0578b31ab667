// The dashboard's SMS log over a real SQLite store: both directions merged newest first, and which filters leave replies out.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmsLogReader } from '../../gateway/reports/sms-log.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { sms } from '../contract/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 3, 2, 0, 0);

describe('SMS log', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let log: SmsLogReader;

  beforeEach(async () => {
    dir = tempDir('care-gw-smslog-');
    store = openSqliteStore(join(dir.path, 'gateway.db'));
    log = new SmsLogReader({ reads: store.reports });
    await store.sms.insert(sms('m-1', { createdAt: T0, status: 'delivered' }));
    await store.sms.insert(sms('m-2', { createdAt: T0 + 2000, purpose: 'notice', provider: 'outbox', status: 'outbox' }));
    await store.sms.recordInbound(
      { provider: 'twilio', from: '+8613800000001', body: '1A', providerSid: 'SMin', receivedAt: T0 + 1000 },
      'ack',
      null,
    );
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('merges sent and received messages newest first, and cuts at the limit after merging', async () => {
    expect((await log.list({ limit: 10 })).map((e) => `${e.direction}:${e.status}`)).toEqual([
      'out:outbox',
      'in:received',
      'out:delivered',
    ]);
    expect((await log.list({ limit: 2 })).map((e) => e.direction)).toEqual(['out', 'in']);
    expect((await log.list({ limit: 10 }))[0]).toMatchObject({ id: 'm-2', notSent: true, provider: 'outbox' });
    expect(await log.outboxCount()).toBe(1);
  });

  it('keeps to one direction when asked', async () => {
    expect((await log.list({ direction: 'in', limit: 10 })).map((e) => e.id)).toEqual([expect.stringMatching(/^in-/)]);
    expect((await log.list({ direction: 'out', limit: 10 })).map((e) => e.id)).toEqual(['m-2', 'm-1']);
  });

  it('leaves replies out under a delivery status or a purpose filter, and keeps them under `received`', async () => {
    expect((await log.list({ status: 'delivered', limit: 10 })).map((e) => e.id)).toEqual(['m-1']);
    expect((await log.list({ purpose: 'notice', limit: 10 })).map((e) => e.id)).toEqual(['m-2']);
    expect((await log.list({ status: 'received', limit: 10 })).map((e) => e.direction)).toEqual(['in']);
  });
});
