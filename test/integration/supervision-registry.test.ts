// A registry import while the gateway runs (the registryChanged event): supervision reloads devices, the offline timeout and the digest times, and never sends a digest twice.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { B3, B5, W01, thursday, startSupervisionGateway, type SupervisionGateway } from '../helpers/supervision.js';

const MIN = 60_000;
const log = silentLogger();

describe('registry changes at runtime', () => {
  let rig: SupervisionGateway | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  const importAndAnnounce = async (r: SupervisionGateway, doc: Record<string, unknown>) => {
    await importRegistryDocument({ store: r.store, log }, doc, { source: 'test' });
    await r.gateway.registryChanged();
    await r.supervision.idle();
  };

  it('picks up a new device and a shorter offlineAfterSeconds at once, and the sweep follows the new timeout', async () => {
    rig = await startSupervisionGateway();
    const client = await rig.online(B5[0]!);
    await rig.settle();
    expect(rig.supervision.supervisor.offlineAfter()).toBe(900_000);
    await importAndAnnounce(rig, {
      escalation: { ackTimeoutSeconds: 180, fallCancelSeconds: 30, offlineAfterSeconds: 120 },
      residents: [{ id: 'r-new', name: '新居民', community: 'andali', address: '安达里7号楼1门101', family: [] }],
      devices: [{ id: 'btn-new', kind: 'sos_button', resident: 'r-new', secret: 's3cret-btn-new' }],
    });
    expect(rig.supervision.index.get('btn-new')).toMatchObject({ building: { key: 'building:andali:安达里7号楼' } });
    expect(rig.supervision.supervisor.offlineAfter()).toBe(120_000);

    // Silent for 3 minutes: offline under the new 120 s timeout (the old 900 s would have waited 15 minutes).
    await rig.advance(3 * MIN, 5000);
    expect(rig.ingest.healthOf(B5[0]!)?.state).toBe('offline');
    // The new device is supervised too: never reported since the import, so a task after the timeout.
    const neverReported = (await rig.store.supervision.listOpenTasks()).filter((t) => t.kind === 'never_reported').map((t) => t.deviceId);
    expect(neverReported).toContain('btn-new');
    client.end(true);
  });

  it('re-schedules the cron triggers of the digest when its times change', async () => {
    rig = await startSupervisionGateway({ jobs: 'cron' });
    const digest = rig.supervision.digest;
    expect(digest.cronPatterns()).toEqual(['30 8 * * *', '30 17 * * *']);
    await importAndAnnounce(rig, { careDigest: { times: ['12:00', '07:45', '17:30'] } });
    expect(digest.digestTimes()).toEqual(['07:45', '12:00', '17:30']);
    expect(digest.cronPatterns()).toEqual(['45 7 * * *', '0 12 * * *', '30 17 * * *']);
    // An import that leaves the times alone keeps the same triggers.
    const before = digest.cronPatterns();
    await importAndAnnounce(rig, { careDigest: { times: ['17:30', '12:00', '07:45'] } });
    expect(digest.cronPatterns()).toEqual(before);
  });

  it('sends no duplicate digest when the times move: not at the change, not for a moved slot that morning, not after a restart', async () => {
    rig = await startSupervisionGateway({ clock: new ManualClock(thursday(7, 0)) });
    await rig.supervision.tasks.open({ kind: 'device_offline', residentId: `r-${B3[0]}`, deviceId: B3[0] }, rig.clock.now());
    rig.clock.set(thursday(8, 30));
    expect(await rig.supervision.digest.runDue()).toBe(1);

    rig.clock.set(thursday(9, 0));
    await importAndAnnounce(rig, { careDigest: { times: ['08:00', '12:00'] } });
    expect(rig.supervision.digest.digestTimes()).toEqual(['08:00', '12:00']);
    expect(await rig.smsTo(W01, 'digest')).toHaveLength(1);
    // The 08:00 slot never ran, but this morning's list went out at 08:30, after it.
    expect(await rig.supervision.digest.runDue()).toBe(0);
    rig.clock.set(thursday(9, 30));
    await rig.restart();
    expect(await rig.smsTo(W01, 'digest')).toHaveLength(1);

    // By noon the never-installed buttons have never_reported tasks too: every worker of theirs gets the 12:00 list, once.
    rig.clock.set(thursday(12, 0));
    expect(await rig.supervision.digest.runDue()).toBe(3);
    expect(await rig.supervision.digest.runDue()).toBe(0);
    expect(await rig.smsTo(W01, 'digest')).toHaveLength(2);
  });
});
