// Row shapes and row-to-domain mappers of the report read models (incidents, outbound and inbound SMS), shared by the SQLite and PostgreSQL engines.

export interface IncidentRow {
  id: string;
  community_id: string;
  type: string;
  state: string;
  opened_at: number;
  first_paged_at: number | null;
  acknowledged_at: number | null;
  on_site_at: number | null;
}

export interface OutRow {
  id: string;
  to_phone: string;
  body: string;
  purpose: string;
  incident_id: string | null;
  role: string | null;
  status: string;
  provider: string;
  attempts: number;
  error_code: string | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
}

export interface InRow {
  id: number;
  from_phone: string;
  body: string;
  received_at: number;
  handled_as: string;
  incident_id: string | null;
}

export function nameOf(doc: string): string | null {
  try {
    const parsed = JSON.parse(doc) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : null;
  } catch {
    return null;
  }
}

/** A LIKE pattern matching the text anywhere, with % and _ taken literally. */
export function like(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
