// Row shape of durable timers, shared by the SQLite and PostgreSQL engines.

export interface TimerRow {
  key: string;
  kind: string;
  incident_id: string;
  due_at: number;
  payload: string;
}
