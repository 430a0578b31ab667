// Fast set-up of a large bench registry: every device shares one secret, hashed once with the gateway's own scrypt, written straight into the DATA_DIR's store.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRegistryFile, validateRegistry } from '../../gateway/registry/load.js';
import { registryDigest } from '../../gateway/registry/import.js';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import { hashSecret } from '../../gateway/registry/secrets.js';
import type { Store } from '../../gateway/storage/ports.js';
import { openPostgresStore } from '../../gateway/storage/postgres/store.js';
import { databaseFile, openSqliteStore } from '../../gateway/storage/sqlite/store.js';

/**
 * The setting the gateway's start-up compares with `<path>:<sha256 of the file>` to skip re-importing an
 * unchanged registry (gateway/registry/startup.ts). The bench checks `registry.imported === false` after start,
 * so a renamed key shows up as a clear error rather than as a silent 10,000-device import.
 */
const DIGEST_KEY = 'registry_digest';

export interface SeededRegistry {
  /** The registry file to give the gateway as REGISTRY_FILE. */
  path: string;
  /** How long hashing and writing took. */
  ms: number;
}

/**
 * Writes `doc` to `<dir>/registry.json` and stores it in `<dataDir>`'s database as the gateway's import would,
 * except that the secret hash is computed once and shared: a normal import runs scrypt (N=4096) per device,
 * about 5 ms each on this machine, so 10,000 devices would take a minute before the benchmark even starts.
 * Every device of `doc` must carry the same `secret`.
 */
export async function seedRegistry(dir: string, dataDir: string, doc: RegistryDocument): Promise<SeededRegistry> {
  mkdirSync(dataDir, { recursive: true });
  return seedInto(dir, doc, openSqliteStore(databaseFile(dataDir)));
}

/**
 * The same for a PostgreSQL store (DATABASE_URL): every node of a cluster given `path` as REGISTRY_FILE then finds the
 * registry imported and skips hashing, instead of each node running scrypt per device at start.
 */
export async function seedPostgresRegistry(dir: string, databaseUrl: string, doc: RegistryDocument): Promise<SeededRegistry> {
  return seedInto(dir, doc, await openPostgresStore(databaseUrl));
}

async function seedInto(
  dir: string,
  doc: RegistryDocument,
  store: Pick<Store, 'registry'> & { close(): Promise<void> },
): Promise<SeededRegistry> {
  const started = performance.now();
  try {
    const secrets = new Set((doc.devices ?? []).map((d) => d.secret));
    const [secret] = secrets;
    if (secrets.size !== 1 || secret === undefined) throw new Error(`seedRegistry: expected one shared device secret, got ${secrets.size}`);
    const path = join(dir, 'registry.json');
    writeFileSync(path, JSON.stringify(doc));
    const file = await loadRegistryFile(path);
    const valid = validateRegistry(file.doc);
    const secretHash = await hashSecret(secret);
    await store.registry.upsert({
      ...(valid.escalation ? { escalation: valid.escalation } : {}),
      communities: valid.communities,
      residents: valid.residents,
      workers: valid.workers,
      devices: valid.devices.map(({ secret: _secret, ...rest }) => ({ ...rest, secretHash })),
      volunteers: valid.volunteers,
      visits: valid.visits,
    });
    await store.registry.setSetting(DIGEST_KEY, `${file.path}:${registryDigest(file.text)}`);
    return { path: file.path, ms: performance.now() - started };
  } finally {
    await store.close();
  }
}

/** Throws unless the gateway skipped the import, i.e. used the seeded store as it is. */
export function assertSeedUsed(registry: { imported: boolean }, what: string): void {
  if (registry.imported) {
    throw new Error(
      `${what}: the gateway re-imported the seeded registry (hashing every secret); the start-up digest key "${DIGEST_KEY}" may have changed`,
    );
  }
}
