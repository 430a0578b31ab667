// PostgreSQL registry repository: entities stored as JSON documents keyed by id, upserted all-or-nothing.
import type { Community, Device, EscalationSettings, Resident, Visit, Volunteer, Worker } from '../../core/types.js';
import { DEFAULT_ESCALATION } from '../../core/types.js';
import { normaliseExternalId, type Bridge } from '../../core/bridges.js';
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { RegistryCounts, RegistryRepo, RegistrySnapshot } from '../ports.js';
import { prepared, unboundedQuery, type PgDatabase, type PgParam, type PgSql } from './database.js';
import { BatchedLookup } from './batched-lookup.js';
import { type DocRow, type DeviceRow, type BridgeRow, toDevice, toBridge } from '../rows/registry.js';
import type { ChangeFeed } from '../../core/leases.js';

type Cache = {
  workers?: Worker[];
  communities?: Map<string, Community>;
  escalation?: EscalationSettings;
  /** Filled one resident at a time (null: no such resident), as the alarm path asks for them. */
  residents?: Map<string, Resident | null>;
  /**
   * Devices by id, as this node's CONNECTs read them (each CONNECT reads its device to check the secret): at most
   * DEVICE_CACHE_ENTRIES, the oldest read dropped first. Unknown ids are not kept.
   */
  devices?: Map<string, Device>;
  /** Every bridge by id: a device's CONNECT first asks whether its id is a bridge's (a read per CONNECT otherwise). */
  bridges?: Map<string, Bridge>;
};

/** Devices kept by getDevice: about one node's connections at its MQTT cap (18,848 at 20,000 descriptors). */
export const DEVICE_CACHE_ENTRIES = 20_000;

/** The devices that a batch of CONNECTs asked for (getDevice outside a transaction, BatchedLookup). */
const DEVICES_BY_IDS = prepared('care_devices_by_ids', 'SELECT doc, secret_hash FROM devices WHERE id = ANY($1::text[])');

/** Every node's registry writes are announced here, in the writing transaction (delivered at COMMIT, never on rollback). */
export const REGISTRY_CHANNEL = 'care_registry';
/**
 * The settings an import writes (upsertNow) and the nodes' views read: escalation (cached here), the care digest,
 * supervision and the SMS templates. Writing one through setSetting notifies like any registry write.
 */
const REGISTRY_SETTINGS: ReadonlySet<string> = new Set(['escalation', 'care_digest', 'supervision', 'sms_templates']);
/** First key of the start-up import's two-key advisory lock ('REGI'); apart from the migration, slot and device keys. */
const IMPORT_LOCK_SPACE = 0x5245_4749;

/** Upsert of one table from parallel arrays: `columns[0]` is the key, the rest are replaced on conflict. */
function upsertSql(table: string, columns: readonly string[], types: readonly string[]): string {
  const unnest = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  const sets = columns
    .slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${unnest}) ON CONFLICT (${columns[0]}) DO UPDATE SET ${sets}`;
}

export class PgRegistryRepo implements RegistryRepo {
  /**
   * Every new incident reads the community, all workers and the escalation settings to freeze its plan: they are
   * cached, and dropped by every registry write of this process. While such a write's transaction is open, reads
   * bypass the cache (they may see rows that roll back, or miss rows not yet committed); it starts afresh when the
   * transaction ends either way. Every registry write NOTIFYs REGISTRY_CHANNEL in its transaction; the other nodes, following
   * it through changes(), drop their caches when it commits. While a node follows the channel but its notices
   * connection does not listen, a notice could be missed: reads then bypass the cache, and it starts afresh when the
   * connection listens again. A repo nobody follows (tools, one process) caches on its own writes alone.
   */
  private cache: Cache = {};
  private openWrites = 0;
  /** Counts registry writes begun, so a read that overlapped one does not put an old value in the cache. */
  private generation = 0;
  /** Set while changes() is started: the cache is then trusted only while the notices connection listens. */
  private following = false;
  /** Names this process's own notices, which it ignores: its writes already dropped its cache. */
  private readonly origin = randomUUID();

  private readonly deviceReads = new BatchedLookup<Device>(async (ids) => {
    return new Map((await this.devices(DEVICES_BY_IDS, [ids])).map((d) => [d.id, d]));
  });

  constructor(private readonly db: PgDatabase) {}

  async upsert(s: RegistrySnapshot): Promise<RegistryCounts> {
    return this.writing(() => this.upsertNow(s));
  }

  /**
   * Other nodes' registry writes, as they commit (cause 'notice'), and each time the notices connection listens again
   * after a loss (cause 'listening'; what was sent meanwhile never arrived). The cache is dropped before either is told.
   * The first listening after start() is not reported: nothing was missed yet.
   */
  changes(): ChangeFeed {
    let unsubscribe: (() => Promise<void>) | null = null;
    return {
      start: async (onChange) => {
        if (unsubscribe) return;
        let started = false;
        this.following = true;
        this.dropCache();
        unsubscribe = await this.db.notices.subscribe(await this.db.channel(REGISTRY_CHANNEL), {
          onNotice: (payload) => {
            if (payload === this.origin) return;
            this.dropCache();
            onChange('notice');
          },
          onListening: () => {
            this.dropCache();
            if (started) onChange('listening');
          },
        });
        started = true;
      },
      stop: async () => {
        await unsubscribe?.();
        unsubscribe = null;
        this.following = false;
        this.dropCache();
      },
    };
  }

  /**
   * Runs `work` while no other node runs its own: a session advisory lock on a connection of its own, so the work's
   * reads and writes go through the pool as usual and may take as long as hashing secrets takes (a transaction-scoped
   * lock would sit idle in its transaction meanwhile). A node that dies holding it releases it with its connection.
   */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.db.session(async (client) => {
      // Waits while another node imports (hashing a large registry's secrets takes a while): no read time-out.
      await client.query(unboundedQuery('SELECT pg_advisory_lock($1, hashtext($2))', [IMPORT_LOCK_SPACE, name]));
      try {
        return await work();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [IMPORT_LOCK_SPACE, name]);
      }
    });
  }

  private async upsertNow(s: RegistrySnapshot): Promise<RegistryCounts> {
    const now = Date.now();
    if (s.escalation) await this.putSetting('escalation', s.escalation);
    // Kept as a JSON string so getSetting('care_digest') reads it back as the string it types.
    if (s.careDigest) await this.putSetting('care_digest', JSON.stringify(s.careDigest));
    if (s.supervision) await this.putSetting('supervision', JSON.stringify(s.supervision));
    if (s.smsTemplates) await this.putSetting('sms_templates', JSON.stringify(s.smsTemplates));
    const rows = async (
      table: string,
      columns: string[],
      types: string[],
      values: readonly (readonly (string | number | null)[])[],
    ): Promise<void> => {
      if ((values[0]?.length ?? 0) === 0) return;
      await this.db.run(upsertSql(table, columns, types), values as PgParam[]);
    };
    const at = (n: number): number[] => new Array<number>(n).fill(now);
    await rows(
      'communities',
      ['id', 'doc', 'updated_at'],
      ['text', 'text', 'bigint'],
      [s.communities.map((c) => c.id), s.communities.map((c) => JSON.stringify(c)), at(s.communities.length)],
    );
    await rows(
      'residents',
      ['id', 'community_id', 'doc', 'updated_at'],
      ['text', 'text', 'text', 'bigint'],
      [
        s.residents.map((r) => r.id),
        s.residents.map((r) => r.community),
        s.residents.map((r) => JSON.stringify(r)),
        at(s.residents.length),
      ],
    );
    await rows(
      'workers',
      ['id', 'community_id', 'phone', 'doc', 'updated_at'],
      ['text', 'text', 'text', 'text', 'bigint'],
      [
        s.workers.map((w) => w.id),
        s.workers.map((w) => w.community),
        s.workers.map((w) => w.phone),
        s.workers.map((w) => JSON.stringify(w)),
        at(s.workers.length),
      ],
    );
    const bridges = (s.bridges ?? []).map((b) => {
      const { secretHash, ...doc } = { secretHash: undefined, ...b };
      return { id: b.id, kind: b.kind, secret: secretHash ?? null, doc: JSON.stringify(doc) };
    });
    await rows(
      'bridges',
      ['id', 'kind', 'secret_hash', 'doc', 'updated_at'],
      ['text', 'text', 'text', 'text', 'bigint'],
      [bridges.map((b) => b.id), bridges.map((b) => b.kind), bridges.map((b) => b.secret), bridges.map((b) => b.doc), at(bridges.length)],
    );
    const devices = s.devices.map((d) => {
      const { secretHash, ...doc } = d;
      const externalId = d.bridge !== undefined && d.externalId !== undefined ? normaliseExternalId(d.externalId) : null;
      return { d, secretHash, doc: JSON.stringify(doc), externalId };
    });
    await rows(
      'devices',
      ['id', 'kind', 'resident_id', 'secret_hash', 'doc', 'updated_at', 'bridge_id', 'external_id'],
      ['text', 'text', 'text', 'text', 'text', 'bigint', 'text', 'text'],
      [
        devices.map((x) => x.d.id),
        devices.map((x) => x.d.kind),
        devices.map((x) => x.d.resident),
        devices.map((x) => x.secretHash),
        devices.map((x) => x.doc),
        at(devices.length),
        devices.map((x) => x.d.bridge ?? null),
        devices.map((x) => x.externalId),
      ],
    );
    await this.assertBridgedDevicesUnique();
    await rows(
      'volunteers',
      ['id', 'phone', 'doc', 'updated_at'],
      ['text', 'text', 'text', 'bigint'],
      [
        s.volunteers.map((v) => v.id),
        s.volunteers.map((v) => v.phone),
        s.volunteers.map((v) => JSON.stringify(v)),
        at(s.volunteers.length),
      ],
    );
    await rows(
      'visits',
      ['id', 'volunteer_id', 'resident_id', 'doc', 'updated_at'],
      ['text', 'text', 'text', 'text', 'bigint'],
      [
        s.visits.map((v) => v.id),
        s.visits.map((v) => v.volunteer),
        s.visits.map((v) => v.resident),
        s.visits.map((v) => JSON.stringify(v)),
        at(s.visits.length),
      ],
    );
    return this.counts();
  }

  async counts(): Promise<RegistryCounts> {
    const row = await this.db.one<RegistryCounts>(
      `SELECT (SELECT count(*) FROM communities) AS communities, (SELECT count(*) FROM residents) AS residents,
              (SELECT count(*) FROM workers) AS workers, (SELECT count(*) FROM devices) AS devices,
              (SELECT count(*) FROM volunteers) AS volunteers, (SELECT count(*) FROM visits) AS visits`,
    );
    return row ?? { communities: 0, residents: 0, workers: 0, devices: 0, volunteers: 0, visits: 0 };
  }

  async escalationSettings(): Promise<EscalationSettings> {
    return { ...(await this.cached('escalation', () => this.readEscalation())) };
  }

  private async readEscalation(): Promise<EscalationSettings> {
    const row = await this.db.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', ['escalation']);
    return row ? { ...DEFAULT_ESCALATION, ...(JSON.parse(row.value) as Partial<EscalationSettings>) } : { ...DEFAULT_ESCALATION };
  }

  async getSetting(key: string): Promise<string | null> {
    const row = await this.db.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
    return row ? (JSON.parse(row.value) as string) : null;
  }

  /**
   * Only a setting the registry's views are built from is a registry change that other nodes must reload for; the
   * rest (the write probe, the import digest) are plain writes, so they neither notify nor drop the cache.
   */
  async setSetting(key: string, value: string): Promise<void> {
    if (REGISTRY_SETTINGS.has(key)) await this.writing(() => this.putSetting(key, value));
    else await this.putSetting(key, value);
  }

  async getCommunity(id: string): Promise<Community | null> {
    const communities = await this.cached('communities', async () => new Map((await this.listCommunities()).map((c) => [c.id, c])));
    return communities.get(id) ?? null;
  }
  async listCommunities(): Promise<Community[]> {
    return this.docs<Community>('SELECT doc FROM communities ORDER BY id');
  }
  async getResident(id: string): Promise<Resident | null> {
    const read = async (): Promise<Resident | null> =>
      (await this.docs<Resident>('SELECT doc FROM residents WHERE id = $1', [id]))[0] ?? null;
    if (!this.cacheUsable()) return read();
    const residents = this.cache.residents ?? new Map<string, Resident | null>();
    this.cache.residents = residents;
    if (residents.has(id)) return residents.get(id) ?? null;
    const generation = this.generation;
    const value = await read();
    // Only into the map read from: a drop (write or notice) meanwhile replaced it, and this value may be old.
    if (this.cacheUsable() && this.generation === generation && this.cache.residents === residents) residents.set(id, value);
    return value;
  }
  residentCached(id: string): boolean {
    return this.cacheUsable() && this.cache.residents?.has(id) === true;
  }
  async listResidents(): Promise<Resident[]> {
    return this.docs<Resident>('SELECT doc FROM residents ORDER BY id');
  }
  async getWorker(id: string): Promise<Worker | null> {
    return (await this.docs<Worker>('SELECT doc FROM workers WHERE id = $1', [id]))[0] ?? null;
  }
  async listWorkers(): Promise<Worker[]> {
    return [...(await this.cached('workers', () => this.docs<Worker>('SELECT doc FROM workers ORDER BY id')))];
  }
  async getDevice(id: string): Promise<Device | null> {
    // Inside a transaction the read is on its connection, and sees its uncommitted rows; outside, the devices asked for
    // in one turn of the event loop, or while the previous read was under way, are read together (BatchedLookup): a
    // failover's reconnects are each a first CONNECT to this node.
    const read = async (): Promise<Device | null> =>
      this.db.inTransaction()
        ? ((await this.devices('SELECT doc, secret_hash FROM devices WHERE id = $1', [id]))[0] ?? null)
        : this.deviceReads.get(id);
    if (!this.cacheUsable()) return read();
    const devices = this.cache.devices ?? new Map<string, Device>();
    this.cache.devices = devices;
    const hit = devices.get(id);
    if (hit) return { ...hit };
    const generation = this.generation;
    const value = await read();
    // Only into the map read from: a drop (write or notice) meanwhile replaced it, and this value may be old.
    if (value && this.cacheUsable() && this.generation === generation && this.cache.devices === devices) {
      if (devices.size >= DEVICE_CACHE_ENTRIES) {
        const oldest = devices.keys().next();
        if (!oldest.done) devices.delete(oldest.value);
      }
      devices.set(id, value);
    }
    return value ? { ...value } : null;
  }
  async listDevices(): Promise<Device[]> {
    return this.devices('SELECT doc, secret_hash FROM devices ORDER BY id');
  }
  async listDevicesOfResident(residentId: string): Promise<Device[]> {
    return this.devices('SELECT doc, secret_hash FROM devices WHERE resident_id = $1 ORDER BY id', [residentId]);
  }
  async getBridge(id: string): Promise<Bridge | null> {
    // The table is small (a few bridges) and written only by imports, which drop the cache like any registry write.
    const bridges = await this.cached('bridges', async () => new Map((await this.readBridges()).map((b) => [b.id, b])));
    const bridge = bridges.get(id);
    return bridge ? { ...bridge } : null;
  }
  async listBridges(): Promise<Bridge[]> {
    return this.readBridges();
  }
  private async readBridges(): Promise<Bridge[]> {
    return (await this.db.query<BridgeRow>('SELECT doc, secret_hash FROM bridges ORDER BY id')).map(toBridge);
  }
  async findBridgedDevice(bridgeId: string, externalId: string): Promise<Device | null> {
    const found = await this.devices('SELECT doc, secret_hash FROM devices WHERE bridge_id = $1 AND external_id = $2 ORDER BY id LIMIT 1', [
      bridgeId,
      normaliseExternalId(externalId),
    ]);
    return found[0] ?? null;
  }
  async listBridgedDevices(bridgeId: string): Promise<Device[]> {
    return this.devices('SELECT doc, secret_hash FROM devices WHERE bridge_id = $1 ORDER BY id', [bridgeId]);
  }
  async listVolunteers(): Promise<Volunteer[]> {
    return this.docs<Volunteer>('SELECT doc FROM volunteers ORDER BY id');
  }
  async listVisits(): Promise<Visit[]> {
    return this.docs<Visit>('SELECT doc FROM visits ORDER BY id');
  }

  /** Inside the upsert: two devices on one bridge with one external id would make its messages ambiguous. Rolls back. */
  private async assertBridgedDevicesUnique(): Promise<void> {
    const clash = await this.db.one<{ bridge_id: string; external_id: string; ids: string }>(
      `SELECT bridge_id, external_id, string_agg(id, ', ' ORDER BY id) AS ids FROM devices WHERE bridge_id IS NOT NULL
       GROUP BY bridge_id, external_id HAVING count(*) > 1 ORDER BY bridge_id, external_id LIMIT 1`,
    );
    if (!clash) return;
    const line = `devices ${clash.ids} share the external id "${clash.external_id}" on bridge "${clash.bridge_id}"`;
    throw new GatewayError('GW_ERR_REGISTRY_INVALID', line, { issues: [line] });
  }

  private async putSetting(key: string, value: unknown): Promise<void> {
    await this.db.run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
      key,
      JSON.stringify(value),
    ]);
  }

  /**
   * A registry write, in a transaction (the caller's, or its own) that also NOTIFYs the other nodes: they hear it at
   * COMMIT, or never if it rolls back. The cache is dropped now and when that transaction ends.
   */
  private async writing<T>(write: () => Promise<T>): Promise<T> {
    this.dropCache();
    this.openWrites++;
    let counted = true;
    const settle = (): void => {
      if (!counted) return;
      counted = false;
      this.openWrites--;
      this.dropCache();
    };
    try {
      return await this.db.transaction(async () => {
        const result = await write();
        await this.db.query('SELECT pg_notify($1, $2)', [await this.db.channel(REGISTRY_CHANNEL), this.origin]);
        return result;
      });
    } finally {
      // Inside an outer transaction the rows stay uncommitted until it ends: settle then, commit or rollback.
      this.db.afterEnd(settle);
    }
  }

  /** Drops every cached value; a read under way when it happens does not put its (maybe old) value back. */
  private dropCache(): void {
    this.cache = {};
    this.generation++;
  }

  /** No write of this process open, and, when following other nodes, their notices arriving. */
  private cacheUsable(): boolean {
    return this.openWrites === 0 && (!this.following || this.db.notices.status().state === 'listening');
  }

  private async cached<K extends keyof Cache>(key: K, read: () => Promise<NonNullable<Cache[K]>>): Promise<NonNullable<Cache[K]>> {
    if (!this.cacheUsable()) return read();
    const hit = this.cache[key];
    if (hit !== undefined) return hit;
    const generation = this.generation;
    const value = await read();
    // A write or notice that came while this read was under way has dropped the cache: do not put an old value back.
    if (this.cacheUsable() && this.generation === generation) this.cache[key] = value;
    return value;
  }

  private async docs<T>(sql: string, params: PgParam[] = []): Promise<T[]> {
    return (await this.db.query<DocRow>(sql, params)).map((r) => JSON.parse(r.doc) as T);
  }

  private async devices(sql: PgSql, params: PgParam[] = []): Promise<Device[]> {
    return (await this.db.query<DeviceRow>(sql, params)).map(toDevice);
  }
}
