// SQLite store of the incident-page link codes an SMS carries (gateway/paging/link-codes.ts).
import type { PageLinkCodeRepo, PageLinkGrant } from '../../paging/link-codes.js';
import type { SqliteDatabase } from './database.js';
import type { LinkCodeRow } from '../rows/link-codes.js';

export class SqlitePageLinkCodeRepo implements PageLinkCodeRepo {
  constructor(private readonly sdb: SqliteDatabase) {}

  async insert(g: PageLinkGrant): Promise<boolean> {
    const result = await this.sdb.write(() =>
      this.sdb
        .stmt(
          'INSERT OR IGNORE INTO page_link_codes (code, incident_code, person_id, role, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(g.code, g.incidentCode, g.personId, g.role, g.expiresAt, g.createdAt),
    );
    return result.changes === 1;
  }

  async get(code: string): Promise<PageLinkGrant | null> {
    const r = this.sdb.stmt<[string], LinkCodeRow>('SELECT * FROM page_link_codes WHERE code = ?').get(code);
    return r
      ? {
          code: r.code,
          incidentCode: r.incident_code,
          personId: r.person_id,
          role: r.role,
          expiresAt: r.expires_at,
          createdAt: r.created_at,
        }
      : null;
  }

  async pruneExpired(before: number): Promise<void> {
    await this.sdb.write(() => this.sdb.stmt('DELETE FROM page_link_codes WHERE expires_at < ?').run(before), { durability: 'normal' });
  }
}
