// The check every PostgreSQL opener shares: a DATABASE_URL where nothing listens is refused in one line, its password hidden.
import { expect } from 'vitest';
import { freePort } from '../../simulators/common/net.js';

/**
 * Opens a DATABASE_URL where nothing listens (with a password in it) through `open`, and checks the refusal: one line
 * naming DATABASE_URL, the URL shown with its password as `***`, the cause (ECONNREFUSED) kept.
 */
export async function expectDeadDatabaseUrlRefused(open: (url: string) => Promise<unknown>): Promise<void> {
  const port = await freePort();
  const password = 'dead-url-secret-pw';
  const err = await open(`postgres://postgres:${password}@127.0.0.1:${port}/care`).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  const message = err instanceof Error ? err.message : '';
  expect(message).toMatch(
    new RegExp(
      `^DATABASE_URL: cannot open the PostgreSQL store at postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/care: .*ECONNREFUSED`,
    ),
  );
  expect(message).not.toContain(password);
  expect(message).not.toContain('\n');
}
