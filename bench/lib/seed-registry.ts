// Fast set-up of a large bench registry: every device shares one secret, hashed once with the gateway's own scrypt, written straight into the DATA_DIR's store.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRegistryFile, validateRegistry } from '../../gateway/registry/load.js';
import { registryDigest } from '../../gateway/registry/import.js';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import { hashSecret } from '../../gateway/registry/secrets.js';
import { databaseFile, openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { openPostgresStore } from '../../gateway/storage/postgres/store.js';

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
  return seedStore(dir, doc, async () => openSqliteStore(databaseFile(dataDir)));
}

/** The same for a cluster's PostgreSQL store at `url` (migrated here first): every node then starts without importing. */
export function seedPostgresRegistry(dir: string, url: string, doc: RegistryDocument): Promise<SeededRegistry> {
  return seedStore(dir, doc, () => openPostgresStore(url));
}

interface SeedableStore {
  registry: {
    upsert: ReturnType<typeof openSqliteStore>['registry']['upsert'];
    setSetting(key: string, value: string): Promise<void>;
  };
  close(): Promise<void>;
}

async function seedStore(dir: string, doc: RegistryDocument, open: () => Promise<SeedableStore>): Promise<SeededRegistry> {
  const started = performance.now();
  const secrets = new Set((doc.devices ?? []).map((d) => d.secret));
  const [secret] = secrets;
  if (secrets.size !== 1 || secret === undefined) throw new Error(`seedRegistry: expected one shared device secret, got ${secrets.size}`);
  const path = join(dir, 'registry.json');
  writeFileSync(path, JSON.stringify(doc));
  const file = await loadRegistryFile(path);
  const valid = validateRegistry(file.doc);
  const secretHash = await hashSecret(secret);
  const store = await open();
  try {
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
  } finally {
    await store.close();
  }
  return { path: file.path, ms: performance.now() - started };
}

/** Throws unless the gateway skipped the import, i.e. used the seeded store as it is. */
export function assertSeedUsed(registry: { imported: boolean }, what: string): void {
  if (registry.imported) {
    throw new Error(
      `${what}: the gateway re-imported the seeded registry (hashing every secret); the start-up digest key "${DIGEST_KEY}" may have changed`,
    );
  }
}
