// The store contract against the PostgreSQL store: one throwaway cluster for the file, a fresh schema per case.
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore } from '../../gateway/storage/postgres/store.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { storeContract } from './store-contract.js';

let pg: PostgresFixture | null = null;
beforeAll(async () => {
  pg = await PostgresFixture.start();
});
afterAll(async () => {
  await pg?.stop();
});

storeContract('PostgreSQL', async () => {
  if (!pg) throw new Error('PostgreSQL did not start');
  return openPostgresStore(await pg.freshUrl());
});
