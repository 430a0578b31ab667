// Loads the registry at start: REGISTRY_FILE when given, else the demo neighbourhood; an unchanged file is not re-imported.
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { RegistryCounts, Store } from '../storage/ports.js';
import { demoButtonExample, ensureDemoRegistryFile, type DemoButtonExample } from './demo.js';
import { existingIdsFromStore, importRegistry, registryDigest } from './import.js';
import { loadRegistryFile, validateRegistry } from './load.js';
import type { ValidatedRegistry } from './schema.js';

export interface RegistryLoadResult {
  source: 'file' | 'demo';
  path: string;
  /** False when the file is the one imported last time, so nothing was written. */
  imported: boolean;
  counts: RegistryCounts;
  /** For the demo: a button to press in the start banner. */
  demoButton: DemoButtonExample | null;
}

const DIGEST_KEY = 'registry_digest';

export async function loadRegistry(deps: {
  store: Pick<Store, 'registry'>;
  log: Logger;
  config: GatewayConfig;
}): Promise<RegistryLoadResult> {
  const { store, log, config } = deps;
  let source: RegistryLoadResult['source'];
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
