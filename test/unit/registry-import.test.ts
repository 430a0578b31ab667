// Importing registry documents into a real SQLite store: all-or-nothing, upsert by id, secrets only as scrypt hashes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { createLogger, silentLogger } from '../../gateway/core/logger.js';
import { generateDemoRegistry } from '../../gateway/registry/demo.js';
import { existingIdsFromStore, importRegistry, importRegistryDocument, registryDigest } from '../../gateway/registry/import.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import { verifySecret } from '../../gateway/registry/secrets.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

function baseDoc() {
  return {
    escalation: { ackTimeoutSeconds: 120 },
    communities: [{ id: 'andali', name: '安达里社区', dutyContacts: [{ name: '值班手机', phone: '+8613500000001' }] }],
    residents: [
      {
        id: 'r-001',
        name: '张桂兰',
        community: 'andali',
        address: '安达里3号楼2门401',
        location: { lat: 39.12, lon: 117.18 },
        family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }],
        hobby: '京剧',
      },
    ],
    workers: [
      { id: 'w-01', name: '李明', phone: '+8613900000001', community: 'andali', shifts: [{ days: ['mon'], from: '08:00', to: '20:00' }] },
    ],
    devices: [
      { id: 'btn-001', kind: 'sos_button', resident: 'r-001', secret: 'unique-secret-btn-001' },
      { id: 'fall-001', kind: 'fall_sensor', resident: 'r-001', secret: 'unique-secret-fall-001', model: 'FS-3' },
    ],
    volunteers: [{ id: 'v-01', name: '王奶奶', phone: '+8613700000001', team: 'apron', leader: true }],
    visits: [{ id: 'vis-01', volunteer: 'v-01', resident: 'r-001', cron: '0 11 * * 2,4', durationMinutes: 90, activity: '做饭' }],
  };
}

describe('importRegistry', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  const log = silentLogger();

  beforeEach(() => {
    dir = tempDir('registry-import-');
    store = openSqliteStore(join(dir.path, 'gateway.db'));
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('stores every entity, derived fields and extra fields included', async () => {
    const counts = await importRegistryDocument({ store, log }, baseDoc(), { source: 'test' });
    expect(counts).toEqual({ communities: 1, residents: 1, workers: 1, devices: 2, volunteers: 1, visits: 1 });
    const r = await store.registry.getResident('r-001');
    expect(r).toMatchObject({ name: '张桂兰', building: '安达里3号楼', hobby: '京剧', family: [{ phone: '+8613800000001' }] });
    expect(await store.registry.escalationSettings()).toEqual({ ackTimeoutSeconds: 120, fallCancelSeconds: 30, offlineAfterSeconds: 900 });
    expect((await store.registry.getCommunity('andali'))?.dutyContacts).toEqual([{ name: '值班手机', phone: '+8613500000001' }]);
    expect((await store.registry.getWorker('w-01'))?.shifts).toEqual([{ days: ['mon'], from: '08:00', to: '20:00' }]);
    expect((await store.registry.listVisits())[0]).toMatchObject({ cron: '0 11 * * 2,4', durationMinutes: 90, activity: '做饭' });
    expect(await store.registry.getDevice('fall-001')).toMatchObject({ kind: 'fall_sensor', resident: 'r-001', model: 'FS-3' });
  });

  it('upserts by id: a second import updates a resident and adds one', async () => {
    await importRegistryDocument({ store, log }, baseDoc());
    const second = {
      residents: [
        { ...baseDoc().residents[0], name: '张桂芳' },
        { id: 'r-002', name: '李淑珍', community: 'andali', address: '安达里4号楼1门302' },
      ],
    };
    const counts = await importRegistryDocument({ store, log }, second);
    expect(counts.residents).toBe(2);
    expect(counts.devices).toBe(2);
    expect((await store.registry.getResident('r-001'))?.name).toBe('张桂芳');
    expect((await store.registry.getResident('r-002'))?.building).toBe('安达里4号楼');
    // A document without an escalation section leaves the stored settings alone.
    expect((await store.registry.escalationSettings()).ackTimeoutSeconds).toBe(120);
  });

  it('changes nothing when the document has any error', async () => {
    await importRegistryDocument({ store, log }, baseDoc());
    const before = await store.registry.counts();
    const bad = {
      ...baseDoc(),
      residents: [
        { ...baseDoc().residents[0], name: '改过的名字' },
        { id: 'r-002', name: '李淑珍', community: 'andali', address: '安达里4号楼' },
      ],
      devices: [{ id: 'btn-002', kind: 'sos_button', resident: 'r-404', secret: 'unique-secret-btn-002' }],
    };
    const err = await importRegistryDocument({ store, log }, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err instanceof GatewayError && err.message).toBe('devices[0].resident: unknown resident "r-404"');
    expect(await store.registry.counts()).toEqual(before);
    expect((await store.registry.getResident('r-001'))?.name).toBe('张桂兰');
    expect(await store.registry.getResident('r-002')).toBeNull();
    expect(await store.registry.getDevice('btn-002')).toBeNull();
  });

  it('re-checks references against the store, so a document validated against other ids changes nothing', async () => {
    const doc = validateRegistry(
      { devices: [{ id: 'btn-009', kind: 'sos_button', resident: 'r-009', secret: 'unique-secret-btn-009' }] },
      { residents: new Set(['r-009']) },
    );
    await expect(importRegistry({ store, log }, doc)).rejects.toThrow('devices[0].resident: unknown resident "r-009"');
    expect((await store.registry.counts()).devices).toBe(0);
  });

  it('stores secrets only as scrypt hashes, and keeps a hash while the secret is unchanged', async () => {
    await importRegistryDocument({ store, log }, baseDoc());
    const device = await store.registry.getDevice('btn-001');
    expect(device?.secretHash).toMatch(/^scrypt\$/);
    expect(device && 'secret' in device).toBe(false);
    expect(await verifySecret('unique-secret-btn-001', device?.secretHash ?? '')).toBe(true);
    expect(await verifySecret('unique-secret-fall-001', device?.secretHash ?? '')).toBe(false);

    await importRegistryDocument({ store, log }, baseDoc());
    expect((await store.registry.getDevice('btn-001'))?.secretHash).toBe(device?.secretHash);

    const rotated = { devices: [{ ...baseDoc().devices[0], secret: 'rotated-secret-btn-001' }] };
    await importRegistryDocument({ store, log }, rotated);
    const after = await store.registry.getDevice('btn-001');
    expect(after?.secretHash).not.toBe(device?.secretHash);
    expect(await verifySecret('rotated-secret-btn-001', after?.secretHash ?? '')).toBe(true);
    expect(await verifySecret('unique-secret-btn-001', after?.secretHash ?? '')).toBe(false);

    await store.close();
    for (const name of readdirSync(dir.path)) {
      const bytes = readFileSync(join(dir.path, name)).toString('latin1');
      expect(bytes).not.toContain('unique-secret-btn-001');
      expect(bytes).not.toContain('rotated-secret-btn-001');
      expect(bytes).not.toContain('unique-secret-fall-001');
    }
  });

  it('logs counts, never secrets or personal data', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (msg: string) => void lines.push(msg) } });
    await importRegistryDocument({ store, log: logger }, baseDoc(), { source: 'api' });
    const text = lines.join('\n');
    expect(text).toContain('registry imported');
    const entry: unknown = JSON.parse(lines.find((l) => l.includes('registry imported')) ?? '{}');
    expect(entry).toMatchObject({ source: 'api', imported: { residents: 1, devices: 2 }, secretsHashed: 2, secretsKept: 0 });
    for (const secretOrPersonal of ['unique-secret', '张桂兰', '+8613', '安达里3号楼']) expect(text).not.toContain(secretOrPersonal);
  });

  it('imports the demo neighbourhood', async () => {
    const doc = validateRegistry(generateDemoRegistry({ seed: 3, residents: 18 }));
    const counts = await importRegistry({ store, log }, doc);
    expect(counts).toEqual({
      communities: 9,
      residents: 18,
      workers: doc.workers.length,
      devices: doc.devices.length,
      volunteers: doc.volunteers.length,
      visits: doc.visits.length,
    });
    const ids = await existingIdsFromStore(store);
    expect(ids.residents?.has('r-018')).toBe(true);
    expect(ids.communities?.has('hulinli')).toBe(true);
  });
});

describe('registryDigest', () => {
  it('is the sha256 of the text', () => {
    expect(registryDigest('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(registryDigest('communities: []\n')).toBe(registryDigest('communities: []\n'));
    expect(registryDigest('communities: []\n')).not.toBe(registryDigest('communities: [] \n'));
  });
});
