// The store contract against the SQLite store, each case on a fresh database file in a temp dir.
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { storeContract } from './store-contract.js';

const dirs: ReturnType<typeof tempDir>[] = [];
afterAll(() => {
  for (const dir of dirs) dir.remove();
});

storeContract('SQLite', async () => {
  const dir = tempDir('care-gw-contract-');
  dirs.push(dir);
  return openSqliteStore(join(dir.path, 'gateway.db'));
});
