// PostgreSQL store of the incident-page link codes an SMS carries (gateway/paging/link-codes.ts).
import type { PageLinkCodeRepo, PageLinkGrant } from '../../paging/link-codes.js';
import type { PgDatabase } from './database.js';
import type { LinkCodeRow } from '../rows/link-codes.js';

export class PgPageLinkCodeRepo implements PageLinkCodeRepo {
  constructor(private readonly db: PgDatabase) {}

  async insert(g: PageLinkGrant): Promise<boolean> {
    const n = await this.db.run(
      'INSERT INTO page_link_codes (code, incident_code, person_id, role, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
      [g.code, g.incidentCode, g.personId, g.role, g.expiresAt, g.createdAt],
    );
    return n === 1;
  }

  async get(code: string): Promise<PageLinkGrant | null> {
    const r = await this.db.one<LinkCodeRow>('SELECT * FROM page_link_codes WHERE code = $1', [code]);
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
    await this.db.write(() => this.db.run('DELETE FROM page_link_codes WHERE expires_at < $1', [before]), { durability: 'normal' });
  }
}
