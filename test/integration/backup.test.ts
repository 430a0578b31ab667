// Backup and restore of DATA_DIR against a real gateway and real SQLite files: the copy is consistent and self-contained, and a restore refuses what it must (a running gateway, a damaged or foreign file, a newer schema) and never replays a stale WAL.
import Database from 'better-sqlite3';
import { waitFor } from '../helpers/wait.js';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupDataDir, restoreDataDir } from '../../gateway/backup/data-dir.js';
import { readBackupSummary } from '../../gateway/storage/sqlite/backup.js';
import { connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const NOW = 1_700_000_000_000;

let t: TestGateway | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
  dir?.remove();
  dir = undefined;
});

async function gatewayWithIncident(): Promise<{ gw: TestGateway; incidentId: string; work: string }> {
  dir = tempDir('care-gw-backup-');
  // DATA_DIR inside the test's own temp dir, so the gateway can be stopped and its data kept for a restore.
  const gw = await startTestGateway({ dataDir: join(dir.path, 'data') });
  t = gw;
  const button = await connectDevice(gw.mqttUrl, 'btn-001', 's3cret-btn-001');
  await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
  await button.endAsync();
  const [incident] = await waitFor('the incident', async () => {
    const list = await gw.gateway.store.incidents.listActive();
    return list.length > 0 ? list : null;
  });
  return { gw, incidentId: incident?.id ?? '', work: dir.path };
}

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => r.name);
  } finally {
    db.close();
  }
}

describe('backup of a running gateway', () => {
  it('writes one checked, self-contained file with the open incident and the link secret, readable only by its owner', async () => {
    const { gw, incidentId, work } = await gatewayWithIncident();
    const out = join(work, 'b', 'one.sqlite');
    const summary = await backupDataDir(gw.dataDir, out, NOW);
    expect(summary).toMatchObject({ takenAt: NOW, activeIncidents: 1, files: ['link-secret'] });
    expect(readBackupSummary(out)).toEqual(summary);
    // No -wal or -shm beside it, and no temporary file left over.
    expect(readdirSync(join(work, 'b'))).toEqual(['one.sqlite']);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const db = new Database(out, { readonly: true });
    expect(db.prepare<[string], { state: string }>('SELECT state FROM incidents WHERE id = ?').get(incidentId)?.state).toBe('open');
    db.close();
  });

  it('refuses to restore over the running gateway and leaves its DATA_DIR untouched', async () => {
    const { gw, work } = await gatewayWithIncident();
    const out = join(work, 'b.sqlite');
    await backupDataDir(gw.dataDir, out, NOW);
    const before = readdirSync(gw.dataDir).sort();
    expect(() => restoreDataDir(gw.dataDir, out, NOW)).toThrow(
      `a gateway is running on ${gw.dataDir} (its database is open): stop it before restoring`,
    );
    expect(readdirSync(gw.dataDir).sort()).toEqual(before);
    expect(await gw.gateway.store.ping()).toBe(true);
  });
});

describe('restore', () => {
  it('keeps what it replaces, drops the stale WAL, and the gateway starts on the restored data with the incident open', async () => {
    const { gw, incidentId, work } = await gatewayWithIncident();
    const out = join(work, 'b.sqlite');
    await backupDataDir(gw.dataDir, out, NOW);
    const dataDir = gw.dataDir;
    const secret = readFileSync(join(dataDir, 'link-secret'));
    await gw.stop();
    t = undefined;
    // A WAL beside the database that is replaced: left there, it would be replayed into the restored file.
    writeFileSync(join(dataDir, 'gateway.db-wal'), Buffer.alloc(4096, 7));
    writeFileSync(join(dataDir, 'link-secret'), Buffer.alloc(32, 1));

    const result = restoreDataDir(dataDir, out, NOW + 1000);
    expect(result.summary.activeIncidents).toBe(1);
    expect(result.replacedDir).toBe(join(dataDir, 'replaced-2023-11-14T22-13-21-000Z'));
    // The stale WAL is either folded into the old database (by the in-use probe, the last connection to close it) or moved with it.
    expect(readdirSync(result.replacedDir ?? '')).toEqual(expect.arrayContaining(['gateway.db', 'link-secret']));
    expect(existsSync(join(dataDir, 'gateway.db-wal'))).toBe(false);
    expect(readFileSync(join(dataDir, 'link-secret'))).toEqual(secret);
    expect(tables(join(dataDir, 'gateway.db'))).not.toContain('backup_files');

    t = await startTestGateway({ dataDir });
    expect((await t.gateway.store.incidents.get(incidentId))?.state).toBe('open');
  });

  it('refuses a file that is no backup, a damaged backup, and one from a newer schema, leaving DATA_DIR as it was', async () => {
    const { gw, work } = await gatewayWithIncident();
    const out = join(work, 'b.sqlite');
    await backupDataDir(gw.dataDir, out, NOW);
    await gw.stop();
    t = undefined;
    const target = join(work, 'target');

    const plain = join(work, 'plain.sqlite');
    new Database(plain).exec('CREATE TABLE x (y)');
    expect(() => restoreDataDir(target, plain, NOW)).toThrow(`${plain} is not a backup made by npm run backup`);

    const damaged = join(work, 'damaged.sqlite');
    copyFileSync(out, damaged);
    const bytes = readFileSync(damaged);
    // Overwrite the middle of the file (b-tree pages), keeping the header readable.
    bytes.fill(0xff, 4096 * 2, 4096 * 4);
    writeFileSync(damaged, bytes);
    expect(() => restoreDataDir(target, damaged, NOW)).toThrow(/is damaged|malformed|not a database/);

    const newer = join(work, 'newer.sqlite');
    copyFileSync(out, newer);
    const db = new Database(newer);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
    db.close();
    expect(() => restoreDataDir(target, newer, NOW)).toThrow(/comes from a newer gateway \(schema 999/);

    expect(readdirSync(target)).toEqual([]);
  });
});
