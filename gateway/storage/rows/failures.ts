// Row shape of the shared sign-in failure ledger, shared by the SQLite and PostgreSQL engines.

export interface FailureRow {
  id: number;
  scope: string;
  key: string;
  at: number;
  node: string;
}
