// Incident-page link codes: issued per person, typed back forgivingly, useless once expired, and pruned.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { LINK_CODE_LENGTH, PageLinkCodeBook, normaliseLinkCode } from '../../gateway/paging/link-codes.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const HOUR = 3_600_000;
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

function open(): SqliteStore {
  const dir = tempDir('care-gw-codes-');
  const store = openSqliteStore(join(dir.path, 'gateway.db'));
  cleanup = async () => {
    await store.close();
    dir.remove();
  };
  return store;
}

describe('page link codes', () => {
  it('opens the grant it was issued for, typed in any case with spaces, until it expires', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const store = open();
    const book = new PageLinkCodeBook({ repo: store.linkCodes, clock });
    const code = await book.issue('K7Q2ABCD', 'w-01', 'worker', clock.now() + 24 * HOUR);
    expect(code).toMatch(new RegExp(`^[A-HJ-NP-Z2-9]{${LINK_CODE_LENGTH}}$`));
    const other = await book.issue('K7Q2ABCD', 'family:r-001:0', 'family', clock.now() + 24 * HOUR);
    expect(other).not.toBe(code);
    expect(await book.redeem(`${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`)).toMatchObject({
      incidentCode: 'K7Q2ABCD',
      personId: 'w-01',
      role: 'worker',
    });
    expect(await book.redeem(other)).toMatchObject({ personId: 'family:r-001:0' });
    clock.advance(24 * HOUR);
    expect(await book.redeem(code)).toBeNull();
  });

  it('refuses anything that cannot be a code before looking it up', () => {
    expect(normaliseLinkCode('abcd-efgh-jk')).toBe('ABCDEFGHJK');
    for (const bad of ['', 'ABCDEFGHJ', 'ABCDEFGHJKM', 'ABCDEFGH0K', 'ABCDEFGHIK', "ABCDE'OR'1"]) expect(normaliseLinkCode(bad)).toBeNull();
  });

  it('forgets expired codes', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const store = open();
    const code = await new PageLinkCodeBook({ repo: store.linkCodes, clock }).issue('K7Q2ABCD', 'w-01', 'worker', clock.now() + HOUR);
    await store.linkCodes.pruneExpired(clock.now() + HOUR - 1);
    expect(await store.linkCodes.get(code)).not.toBeNull();
    await store.linkCodes.pruneExpired(clock.now() + HOUR + 1);
    expect(await store.linkCodes.get(code)).toBeNull();
  });
});
