// The store contract: the semantics the features rely on, run unchanged against every implementation of the Store ports.
import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '../../gateway/storage/ports.js';
import { alarmPathContract } from './alarm-path.js';
import { careRecordsContract } from './care-records.js';
import { deviceRecordsContract } from './device-records.js';
import { pagingRecordsContract } from './paging-records.js';
import { SNAPSHOT } from './fixtures.js';

/**
 * Runs the contract against the stores `open` gives: a fresh, empty, migrated store per case, holding SNAPSHOT,
 * closed after it. A storage engine is done when it passes this suite (and its own engine-specific tests).
 */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let current: Store | null = null;
    const store = (): Store => {
      if (!current) throw new Error('no store is open');
      return current;
    };

    beforeEach(async () => {
      current = await open();
      await current.registry.upsert(SNAPSHOT);
    });
    afterEach(async () => {
      await current?.close();
      current = null;
    });

    alarmPathContract(store);
    careRecordsContract(store);
    deviceRecordsContract(store);
    pagingRecordsContract(store);
  });
}
