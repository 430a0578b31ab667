// Backup and restore end to end: `npm run backup` takes a copy of a running gateway's DATA_DIR in the middle of an SOS storm, `npm run restore` puts it into a fresh DATA_DIR, and the restored gateway carries on every open incident and its escalation.
import Database from 'better-sqlite3';
import { waitFor } from '../helpers/wait.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { describe, it } from 'vitest';
import {
  e2eFixture,
  FIXTURE_REGISTRY,
  GatewayProcess,
  gatewayAddresses,
  gatewayEnv,
  httpGet,
  ToolProcess,
  type ToolResult,
} from '../helpers/e2e-process.js';
import type { IncidentView } from '../../gateway/incidents/views.js';

const ACK_TIMEOUT_S = 10; // the registry's minimum, so the next escalation step falls due within the test
const RESIDENTS = 24;
const ACTIVE = ['pending', 'open', 'acknowledged'];

interface StormDevice {
  id: string;
  resident: string;
  secret: string;
}

/** The test registry plus one resident with an SOS button per storm device, all in the same community. */
function stormRegistry(dir: string): { file: string; devices: StormDevice[] } {
  const doc = parse(readFileSync(FIXTURE_REGISTRY, 'utf8')) as {
    escalation: Record<string, number>;
    residents: Record<string, unknown>[];
    devices: Record<string, unknown>[];
  };
  doc.escalation.ackTimeoutSeconds = ACK_TIMEOUT_S;
  const devices: StormDevice[] = [];
  for (let i = 0; i < RESIDENTS; i++) {
    const n = String(100 + i);
    const device = { id: `btn-${n}`, resident: `r-${n}`, secret: `s3cret-storm-${n}` };
    devices.push(device);
    doc.residents.push({
      id: device.resident,
      name: `住户${n}`,
      community: 'andali',
      address: `安达里${n}号`,
      location: { lat: 39.21 + i / 1000, lon: 117.13 },
      family: [],
    });
    doc.devices.push({ id: device.id, kind: 'sos_button', resident: device.resident, secret: device.secret });
  }
  const file = join(dir, 'registry.yaml');
  writeFileSync(file, stringify(doc));
  return { file, devices };
}

/** `npm run <script> -- args` in the project root, as an operator would type it. */
function npmRun(script: string, args: string[]): Promise<ToolResult> {
  return new ToolProcess('npm', ['run', '--silent', script, '--', ...args], 60_000).spawn().done();
}

interface BackedUpIncident {
  id: string;
  resident_id: string;
  state: string;
  step: number;
}

describe('backup and restore (npm run backup / restore)', () => {
  it('restores a backup taken during an SOS storm into a fresh DATA_DIR, and the gateway carries on every open incident', async ({
    expect,
    onTestFinished,
  }) => {
    const { children, sim, dir } = await e2eFixture('care-gw-e2e-backup-', onTestFinished);
    const { file: registryFile, devices } = stormRegistry(dir.path);
    const firstDir = join(dir.path, 'data-1');
    const secondDir = join(dir.path, 'data-2');
    const backupFile = join(dir.path, 'backups', 'storm.sqlite');

    const first = await gatewayAddresses();
    const gateway = children.add(
      new GatewayProcess(gatewayEnv({ dataDir: firstDir, addresses: first, twilioApiUrl: sim.url, registryFile })).spawn(),
    );
    await gateway.waitForBanner();
    const clients = await Promise.all(
      devices.map((d) =>
        mqtt.connectAsync(first.mqttUrl, { clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0, protocolVersion: 4 }),
      ),
    );
    const press = async (i: number): Promise<void> => {
      const [client, device] = [clients[i], devices[i]];
      if (!client || !device) throw new Error(`no storm device ${i}`);
      await client.publishAsync(`care/v1/${device.id}/event`, JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    };

    // The first half presses at once and is acknowledged; the backup then runs while the second half keeps pressing.
    const half = RESIDENTS / 2;
    await Promise.all(Array.from({ length: half }, (_, i) => press(i)));
    const backup = npmRun('backup', ['--out', backupFile, '--data-dir', firstDir]);
    const rest = (async () => {
      for (let i = half; i < RESIDENTS; i++) await press(i);
    })();
    const [backedUp] = await Promise.all([backup, rest]);
    expect(backedUp.stderr).toBe('');
    expect(backedUp.code).toBe(0);
    expect(backedUp.stdout).toContain(`backup written: ${backupFile}`);
    expect(backedUp.stdout).toMatch(/files: demo-registry\.yaml|files: link-secret/);

    // Restoring over a running gateway is refused, and its DATA_DIR is left as it was.
    const refused = await npmRun('restore', [backupFile, '--data-dir', firstDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `restore failed: a gateway is running on ${firstDir} (its database is open): stop it before restoring`,
    );
    expect(existsSync(join(firstDir, 'gateway.db'))).toBe(true);

    await Promise.all(clients.map((c) => c.endAsync()));
    await gateway.kill();
    expect(gateway.stderr.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);

    // What the backup holds: every SOS acknowledged before it started, as an event, and the incidents open then.
    const copy = new Database(backupFile, { readonly: true, fileMustExist: true });
    const inBackup = copy
      .prepare<[], BackedUpIncident>(
        `SELECT id, resident_id, state, step FROM incidents WHERE state IN ('pending', 'open', 'acknowledged')`,
      )
      .all();
    const residentOf = new Map(devices.map((d) => [d.id, d.resident]));
    const residentsWithEvents = new Set(
      copy
        .prepare<[], { device_id: string }>(`SELECT DISTINCT device_id FROM events WHERE type = 'sos'`)
        .all()
        .map((r) => residentOf.get(r.device_id) ?? r.device_id),
    );
    copy.close();
    expect(inBackup.length).toBeGreaterThan(0);
    for (let i = 0; i < half; i++) expect(residentsWithEvents.has(devices[i]?.resident ?? '')).toBe(true);

    const restored = await npmRun('restore', [backupFile, '--data-dir', secondDir]);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`restored ${backupFile} into ${secondDir}`);
    expect(readFileSync(join(secondDir, 'link-secret'))).toEqual(readFileSync(join(firstDir, 'link-secret')));
    expect(existsSync(join(secondDir, 'gateway.db-wal'))).toBe(false);

    const second = await gatewayAddresses();
    const restoredGateway = children.add(
      new GatewayProcess(gatewayEnv({ dataDir: secondDir, addresses: second, twilioApiUrl: sim.url, registryFile })).spawn(),
    );
    await restoredGateway.waitForBanner();
    const incident = async (id: string): Promise<IncidentView> => {
      const res = await httpGet<IncidentView>(second.publicUrl, `/api/incidents/${id}`);
      if (res.status !== 200) throw new Error(`GET /api/incidents/${id} answered ${res.status}`);
      return res.body;
    };
    // Every incident open in the backup is open after the restore, and its escalation goes on: the next step runs.
    for (const before of inBackup) {
      const after = await waitFor(
        `incident ${before.id} (step ${before.step} in the backup) to escalate`,
        async () => {
          const now = await incident(before.id);
          return now.step > before.step ? now : null;
        },
        { timeoutMs: (ACK_TIMEOUT_S + 15) * 1000 },
      );
      expect(ACTIVE).toContain(after.state);
      expect(after.resident).toBe(before.resident_id);
      expect((after.timeline ?? []).filter((e) => e.action === 'paged').length).toBeGreaterThan(0);
    }
    // Every SOS the backup held as an event has an open incident, whether or not it had become one before the backup.
    const all = await httpGet<IncidentView[]>(second.publicUrl, '/api/incidents');
    const openResidents = new Set(all.body.filter((i) => ACTIVE.includes(i.state)).map((i) => i.resident));
    for (const resident of residentsWithEvents) expect(openResidents.has(resident)).toBe(true);
  }, 150_000);
});
