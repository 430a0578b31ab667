// The registry repo caches workers, communities and escalation settings for alarm storms: an import must show at once, a failed one never.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Worker } from '../../gateway/core/types.js';
import type { RegistrySnapshot } from '../../gateway/storage/ports.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const worker = (id: string, name: string): Worker => ({ id, name, phone: `+86139000000${id.slice(-2)}`, community: 'andali', shifts: [] });
const snapshot = (over: Partial<RegistrySnapshot>): RegistrySnapshot => ({
  communities: [{ id: 'andali', name: '安达里社区', dutyContacts: [] }],
  residents: [],
  workers: [],
  devices: [],
  volunteers: [],
  visits: [],
  ...over,
});

describe('registry read cache', () => {
  let store: SqliteStore | null = null;
  afterEach(async () => {
    await store?.close();
    store = null;
  });

  it('shows an import at once, and hands out copies callers cannot corrupt', async () => {
    store = openSqliteStore(join(tempDir().path, 'gateway.db'));
    await store.registry.upsert(
      snapshot({
        workers: [worker('w-01', '李明')],
        escalation: { ackTimeoutSeconds: 180, fallCancelSeconds: 30, offlineAfterSeconds: 900 },
      }),
    );
    const first = await store.registry.listWorkers();
    expect(first.map((w) => w.name)).toEqual(['李明']);
    first.pop();
    (await store.registry.escalationSettings()).ackTimeoutSeconds = 1;
    expect(await store.registry.listWorkers()).toHaveLength(1);
    expect((await store.registry.escalationSettings()).ackTimeoutSeconds).toBe(180);

    await store.registry.upsert(
      snapshot({
        communities: [{ id: 'andali', name: '安达里', dutyContacts: [{ name: '值班室', phone: '+8618200000001' }] }],
        workers: [worker('w-01', '李明明'), worker('w-02', '赵强')],
        escalation: { ackTimeoutSeconds: 120, fallCancelSeconds: 30, offlineAfterSeconds: 900 },
      }),
    );
    expect((await store.registry.listWorkers()).map((w) => w.name)).toEqual(['李明明', '赵强']);
    expect((await store.registry.getCommunity('andali'))?.dutyContacts).toHaveLength(1);
    expect((await store.registry.escalationSettings()).ackTimeoutSeconds).toBe(120);
  });

  it('keeps nothing of an import that rolled back, even what was read inside it', async () => {
    store = openSqliteStore(join(tempDir().path, 'gateway.db'));
    const s = store;
    await s.registry.upsert(snapshot({ workers: [worker('w-01', '李明')] }));
    await expect(
      s.transaction(async () => {
        await s.registry.upsert(snapshot({ workers: [worker('w-09', '幽灵')] }));
        // Read inside the transaction: the uncommitted worker is visible here and must not outlive the rollback.
        expect((await s.registry.listWorkers()).map((w) => w.id)).toEqual(['w-01', 'w-09']);
        throw new Error('import refused after all');
      }),
    ).rejects.toThrow('import refused after all');
    expect((await s.registry.listWorkers()).map((w) => w.id)).toEqual(['w-01']);
  });
});
