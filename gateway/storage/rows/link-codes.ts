// Row shape of family link codes, shared by the SQLite and PostgreSQL engines.

export interface LinkCodeRow {
  code: string;
  incident_code: string;
  person_id: string;
  role: string;
  expires_at: number;
  created_at: number;
}
