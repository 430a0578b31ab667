// SQLite registry repository: entities stored as JSON documents keyed by id, upserted all-or-nothing.
import type { Community, Device, EscalationSettings, Resident, Visit, Volunteer, Worker } from '../../core/types.js';
import { DEFAULT_ESCALATION } from '../../core/types.js';
import { normaliseExternalId, type Bridge } from '../../core/bridges.js';
import { GatewayError } from '../../core/errors.js';
import type { RegistryCounts, RegistryRepo, RegistrySnapshot } from '../ports.js';
import type { SqliteDatabase } from './database.js';
import { type DocRow, type DeviceRow, type BridgeRow, toDevice, toBridge } from '../rows/registry.js';

export class SqliteRegistryRepo implements RegistryRepo {
  /**
   * Every new incident reads the community, all workers and the escalation settings to freeze its plan; in an alarm
   * storm that was a parse of the same JSON thousands of times. They change only through upsert/setSetting, which
   * drop this cache before and after writing (a rolled-back import must not leave its rows here).
   */
  private cache: { workers?: Worker[]; communities?: Map<string, Community>; escalation?: EscalationSettings } = {};

  /** A registry write happened inside a transaction that has not ended yet (see cached()). */
  private unsettled = false;

  constructor(private readonly sdb: SqliteDatabase) {}

  private get db() {
    return this.sdb.db;
  }

  /** One process owns an SQLite store: nobody else can import into it meanwhile. */
  exclusively<T>(_name: string, work: () => Promise<T>): Promise<T> {
    return work();
  }

  async upsert(s: RegistrySnapshot): Promise<RegistryCounts> {
    this.cache = {};
    try {
      return await this.upsertNow(s);
    } finally {
      this.settle();
    }
  }

  private async upsertNow(s: RegistrySnapshot): Promise<RegistryCounts> {
    const now = Date.now();
    return this.sdb.transaction(async () => {
      if (s.escalation) this.putSetting('escalation', s.escalation);
      // Kept as a JSON string so getSetting('care_digest') reads it back as the string it types.
      if (s.careDigest) this.putSetting('care_digest', JSON.stringify(s.careDigest));
      if (s.supervision) this.putSetting('supervision', JSON.stringify(s.supervision));
      if (s.smsTemplates) this.putSetting('sms_templates', JSON.stringify(s.smsTemplates));
      const community = this.db.prepare(
        'INSERT INTO communities (id, doc, updated_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const c of s.communities) community.run(c.id, JSON.stringify(c), now);
      const resident = this.db.prepare(
        'INSERT INTO residents (id, community_id, doc, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET community_id = excluded.community_id, doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const r of s.residents) resident.run(r.id, r.community, JSON.stringify(r), now);
      const worker = this.db.prepare(
        'INSERT INTO workers (id, community_id, phone, doc, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET community_id = excluded.community_id, phone = excluded.phone, doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const w of s.workers) worker.run(w.id, w.community, w.phone, JSON.stringify(w), now);
      const bridge = this.db.prepare(
        'INSERT INTO bridges (id, kind, secret_hash, doc, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, secret_hash = excluded.secret_hash, doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const b of s.bridges ?? []) {
        const { secretHash, ...doc } = { secretHash: undefined, ...b };
        bridge.run(b.id, b.kind, secretHash ?? null, JSON.stringify(doc), now);
      }
      const device = this.db.prepare(
        'INSERT INTO devices (id, kind, resident_id, secret_hash, doc, updated_at, bridge_id, external_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, resident_id = excluded.resident_id, secret_hash = excluded.secret_hash, doc = excluded.doc, updated_at = excluded.updated_at, bridge_id = excluded.bridge_id, external_id = excluded.external_id',
      );
      for (const d of s.devices) {
        const { secretHash, ...doc } = d;
        const externalId = d.bridge !== undefined && d.externalId !== undefined ? normaliseExternalId(d.externalId) : null;
        device.run(d.id, d.kind, d.resident, secretHash, JSON.stringify(doc), now, d.bridge ?? null, externalId);
      }
      this.assertBridgedDevicesUnique();
      const volunteer = this.db.prepare(
        'INSERT INTO volunteers (id, phone, doc, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET phone = excluded.phone, doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const v of s.volunteers) volunteer.run(v.id, v.phone, JSON.stringify(v), now);
      const visit = this.db.prepare(
        'INSERT INTO visits (id, volunteer_id, resident_id, doc, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET volunteer_id = excluded.volunteer_id, resident_id = excluded.resident_id, doc = excluded.doc, updated_at = excluded.updated_at',
      );
      for (const v of s.visits) visit.run(v.id, v.volunteer, v.resident, JSON.stringify(v), now);
      return this.countsNow();
    });
  }

  async counts(): Promise<RegistryCounts> {
    return this.countsNow();
  }

  async escalationSettings(): Promise<EscalationSettings> {
    return { ...this.cached('escalation', () => this.readEscalation()) };
  }

  private readEscalation(): EscalationSettings {
    const row = this.sdb.stmt<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get('escalation');
    return row ? { ...DEFAULT_ESCALATION, ...(JSON.parse(row.value) as Partial<EscalationSettings>) } : { ...DEFAULT_ESCALATION };
  }

  async getSetting(key: string): Promise<string | null> {
    const row = this.sdb.stmt<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key);
    return row ? (JSON.parse(row.value) as string) : null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.cache = {};
    try {
      await this.sdb.write(() => this.putSetting(key, value));
    } finally {
      this.settle();
    }
  }

  async getCommunity(id: string): Promise<Community | null> {
    const communities = this.cached(
      'communities',
      () => new Map(this.all<Community>('SELECT doc FROM communities ORDER BY id').map((c) => [c.id, c])),
    );
    return communities.get(id) ?? null;
  }
  async listCommunities(): Promise<Community[]> {
    return this.all<Community>('SELECT doc FROM communities ORDER BY id');
  }
  async getResident(id: string): Promise<Resident | null> {
    return this.one<Resident>('residents', id);
  }
  async listResidents(): Promise<Resident[]> {
    return this.all<Resident>('SELECT doc FROM residents ORDER BY id');
  }
  async getWorker(id: string): Promise<Worker | null> {
    return this.one<Worker>('workers', id);
  }
  async listWorkers(): Promise<Worker[]> {
    return [...this.cached('workers', () => this.all<Worker>('SELECT doc FROM workers ORDER BY id'))];
  }
  async getDevice(id: string): Promise<Device | null> {
    const row = this.sdb.stmt<[string], DeviceRow>('SELECT doc, secret_hash FROM devices WHERE id = ?').get(id);
    return row ? toDevice(row) : null;
  }
  async listDevices(): Promise<Device[]> {
    return this.sdb.stmt<[], DeviceRow>('SELECT doc, secret_hash FROM devices ORDER BY id').all().map(toDevice);
  }
  async listDevicesOfResident(residentId: string): Promise<Device[]> {
    return this.sdb
      .stmt<[string], DeviceRow>('SELECT doc, secret_hash FROM devices WHERE resident_id = ? ORDER BY id')
      .all(residentId)
      .map(toDevice);
  }
  async getBridge(id: string): Promise<Bridge | null> {
    const row = this.sdb.stmt<[string], BridgeRow>('SELECT doc, secret_hash FROM bridges WHERE id = ?').get(id);
    return row ? toBridge(row) : null;
  }
  async listBridges(): Promise<Bridge[]> {
    return this.sdb.stmt<[], BridgeRow>('SELECT doc, secret_hash FROM bridges ORDER BY id').all().map(toBridge);
  }
  async findBridgedDevice(bridgeId: string, externalId: string): Promise<Device | null> {
    const row = this.sdb
      .stmt<[string, string], DeviceRow>('SELECT doc, secret_hash FROM devices WHERE bridge_id = ? AND external_id = ? ORDER BY id LIMIT 1')
      .get(bridgeId, normaliseExternalId(externalId));
    return row ? toDevice(row) : null;
  }
  async listBridgedDevices(bridgeId: string): Promise<Device[]> {
    return this.sdb
      .stmt<[string], DeviceRow>('SELECT doc, secret_hash FROM devices WHERE bridge_id = ? ORDER BY id')
      .all(bridgeId)
      .map(toDevice);
  }
  async listVolunteers(): Promise<Volunteer[]> {
    return this.all<Volunteer>('SELECT doc FROM volunteers ORDER BY id');
  }
  async listVisits(): Promise<Visit[]> {
    return this.all<Visit>('SELECT doc FROM visits ORDER BY id');
  }

  /** Inside the upsert: two devices on one bridge with one external id would make its messages ambiguous. Rolls back. */
  private assertBridgedDevicesUnique(): void {
    const clash = this.db
      .prepare<[], { bridge_id: string; external_id: string; ids: string }>(
        "SELECT bridge_id, external_id, group_concat(id, ', ') AS ids FROM devices WHERE bridge_id IS NOT NULL GROUP BY bridge_id, external_id HAVING count(*) > 1 LIMIT 1",
      )
      .get();
    if (!clash) return;
    const line = `devices ${clash.ids} share the external id "${clash.external_id}" on bridge "${clash.bridge_id}"`;
    throw new GatewayError('GW_ERR_REGISTRY_INVALID', line, { issues: [line] });
  }

  private putSetting(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, JSON.stringify(value));
  }

  /**
   * Serves from the cache. While a transaction that wrote the registry is still open, reads see rows that may yet
   * roll back: they bypass the cache, which starts afresh once that transaction has ended either way.
   */
  private cached<K extends keyof SqliteRegistryRepo['cache']>(
    key: K,
    read: () => NonNullable<SqliteRegistryRepo['cache'][K]>,
  ): NonNullable<SqliteRegistryRepo['cache'][K]> {
    if (this.unsettled) {
      if (this.db.inTransaction) return read();
      this.unsettled = false;
      this.cache = {};
    }
    const value = this.cache[key] ?? read();
    this.cache[key] = value;
    return value;
  }

  /** After a write: forget what was cached, and if the write joined an outer transaction, wait for it to end. */
  private settle(): void {
    this.cache = {};
    if (this.db.inTransaction) this.unsettled = true;
  }

  private one<T>(table: 'communities' | 'residents' | 'workers', id: string): T | null {
    const row = this.sdb.stmt<[string], DocRow>(`SELECT doc FROM ${table} WHERE id = ?`).get(id);
    return row ? (JSON.parse(row.doc) as T) : null;
  }

  private all<T>(sql: string): T[] {
    return this.sdb
      .stmt<[], DocRow>(sql)
      .all()
      .map((r) => JSON.parse(r.doc) as T);
  }

  private countsNow(): RegistryCounts {
    const count = (t: string) => this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${t}`).get()?.n ?? 0;
    return {
      communities: count('communities'),
      residents: count('residents'),
      workers: count('workers'),
      devices: count('devices'),
      volunteers: count('volunteers'),
      visits: count('visits'),
    };
  }
}
