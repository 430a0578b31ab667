// Loads the registry at start: REGISTRY_FILE when given, else the demo neighbourhood (on PostgreSQL only into an empty
// database); an unchanged file is not re-imported, and nodes sharing a database import one at a time.
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { RegistryCounts, Store } from '../storage/ports.js';
import { resolve } from 'node:path';
import { DEMO_REGISTRY_FILE, demoButtonExample, ensureDemoRegistryFile, type DemoButtonExample } from './demo.js';
import { existingIdsFromStore, importRegistry, registryDigest } from './import.js';
import { loadRegistryFile, validateRegistry } from './load.js';
import type { ValidatedRegistry } from './schema.js';

export interface RegistryLoadResult {
  /** 'database': no REGISTRY_FILE, and the shared PostgreSQL database already held a registry, used as it is. */
  source: 'file' | 'demo' | 'database';
  /** The file imported or checked; for 'database', where the database's registry was last imported from. */
  path: string;
  /** False when the file is the one imported last time, so nothing was written. */
  imported: boolean;
  counts: RegistryCounts;
  /** For the demo: a button to press in the start banner. */
  demoButton: DemoButtonExample | null;
}

const DIGEST_KEY = 'registry_digest';
/** The name of the start-up import's lock across nodes (see RegistryRepo.exclusively). */
export const REGISTRY_IMPORT_LOCK = 'registry import';

interface LoadDeps {
  store: Pick<Store, 'registry'>;
  log: Logger;
  config: GatewayConfig;
}

/**
 * Nodes started together on one database take turns: each reads the digest, imports and writes the digest under one
 * lock, so the file is imported once and the others find it unchanged.
 */
export function loadRegistry(deps: LoadDeps): Promise<RegistryLoadResult> {
  return deps.store.registry.exclusively(REGISTRY_IMPORT_LOCK, () => loadRegistryNow(deps));
}

/**
 * On PostgreSQL without REGISTRY_FILE, a database that already holds a registry (another node's file or demo, or an
 * import through the API) is used as it is: a node's own demo would otherwise overwrite it with different secrets.
 */
async function sharedRegistry(deps: LoadDeps): Promise<RegistryLoadResult | null> {
  const { store, log, config } = deps;
  if (config.registryFile || !config.databaseUrl) return null;
  const digest = await store.registry.getSetting(DIGEST_KEY);
  const counts = await store.registry.counts();
  if (digest === null && counts.residents === 0 && counts.devices === 0) return null;
  const from = digest === null ? 'an import through the API' : digest.slice(0, digest.lastIndexOf(':'));
  // A node whose own demo is the one in the database goes on as that demo (its banner button is valid here).
  if (resolve(from) === resolve(config.dataDir, DEMO_REGISTRY_FILE)) return null;
  log.info({ from, residents: counts.residents, devices: counts.devices }, 'no REGISTRY_FILE: using the registry already in the database');
  return { source: 'database', path: from, imported: false, counts, demoButton: null };
}

async function loadRegistryNow(deps: LoadDeps): Promise<RegistryLoadResult> {
  const { store, log, config } = deps;
  const shared = await sharedRegistry(deps);
  if (shared) return shared;
  let source: 'file' | 'demo';
  let path: string;
  let text: string;
  let doc: ValidatedRegistry | null = null;
  let demoButton: DemoButtonExample | null = null;
  if (config.registryFile) {
    const file = await loadRegistryFile(config.registryFile);
    source = 'file';
    path = file.path;
    text = file.text;
    const digest = registryDigest(text);
    if ((await store.registry.getSetting(DIGEST_KEY)) !== `${path}:${digest}`) {
      doc = validateRegistry(file.doc, await existingIdsFromStore(store));
    }
  } else {
    const demo = await ensureDemoRegistryFile(config.dataDir, { publicUrl: config.publicUrl });
    source = 'demo';
    path = demo.path;
    text = demo.text;
    demoButton = demoButtonExample(demo.doc);
    if (demo.created) log.warn({ path }, 'no REGISTRY_FILE: generated a demo neighbourhood');
    if ((await store.registry.getSetting(DIGEST_KEY)) !== `${path}:${registryDigest(text)}`) doc = demo.doc;
  }
  if (!doc) {
    log.info({ path }, 'registry unchanged since the last import');
    return { source, path, imported: false, counts: await store.registry.counts(), demoButton };
  }
  const counts = await importRegistry({ store, log }, doc, { source: path });
  await store.registry.setSetting(DIGEST_KEY, `${path}:${registryDigest(text)}`);
  return { source, path, imported: true, counts, demoButton };
}
