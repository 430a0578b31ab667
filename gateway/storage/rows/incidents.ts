// Row shape of the incidents audit log, shared by the SQLite and PostgreSQL engines.

export interface AuditRow {
  id: number;
  incident_id: string;
  at: number;
  action: string;
  actor: string;
  channel: string;
  detail: string | null;
}
