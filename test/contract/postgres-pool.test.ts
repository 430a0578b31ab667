// The PostgreSQL store's pool keeps the connections a burst opened through a lull, so the next burst (a CONNECT storm
// comes in bursts) reuses them instead of forking new backends that a loaded host may not finish within the bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../gateway/storage/postgres/database.js';
import { PostgresFixture } from '../helpers/postgres.js';

/** Queries at once: the pool's default size, so every connection of the pool is in use. */
const BURST = 10;
/** Longer than pg-pool's own idle time-out (10 s), which closed every connection a burst had opened. */
const LULL_MS = 11_000;

describe('PostgreSQL pool', () => {
  let fixture: PostgresFixture;
  beforeAll(async () => {
    fixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await fixture.stop();
  });

  it('serves a burst after an 11 s lull on the backends the previous burst opened', async () => {
    const db = await PgDatabase.open(await fixture.freshUrl());
    try {
      // Each query holds its connection a little, so the burst needs BURST connections at once.
      const burst = async (): Promise<Set<number>> => {
        const rows = await Promise.all(
          Array.from({ length: BURST }, () => db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.2)')),
        );
        return new Set(rows.map((r) => r[0]?.pid ?? -1));
      };
      const first = await burst();
      expect(first.size).toBe(BURST);
      await new Promise((resolve) => setTimeout(resolve, LULL_MS));
      const second = await burst();
      expect([...second].filter((pid) => !first.has(pid))).toEqual([]);
    } finally {
      await db.close();
    }
  }, 60_000);
});
