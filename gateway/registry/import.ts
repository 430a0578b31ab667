// Turns a validated registry document into a snapshot (secrets hashed) and upserts it all-or-nothing.
import { createHash } from 'node:crypto';
import type { Device } from '../core/types.js';
import { NO_DEVICE_SECRET, onOurBroker, type Bridge } from '../core/bridges.js';
import type { Logger } from '../core/logger.js';
import type { RegistryCounts, RegistrySnapshot, Store } from '../storage/ports.js';
import { invalid, referenceIssues, formatPath, validateRegistry, type ExistingIds } from './load.js';
import type { ValidatedRegistry } from './schema.js';
import { hashSecret, verifySecret } from './secrets.js';
import { bridgeKey } from './bridge-checks.js';

export interface ImportDeps {
  store: Pick<Store, 'registry'>;
  log: Logger;
  /**
   * Throws if the document's `sms.templates` could not be the catalogue in force (a template the configured SMS
   * provider needs is missing, or one breaks its rules): the import is then refused before anything is written.
   */
  checkTemplates?: (templates: NonNullable<ValidatedRegistry['sms']>['templates']) => void;
}

export interface ImportOptions {
  /** Where the document came from (file path, "api", "demo"), for the log. */
  source?: string;
}

// scrypt runs on libuv's thread pool (4 threads by default): more in flight would only queue there
// and starve file and DNS work that shares the pool.
const HASH_CONCURRENCY = 4;

/** sha256 (hex) of a registry file's text, so start-up can skip re-importing an unchanged file. */
export function registryDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The ids the store already holds, for validateRegistry's cross-reference check. */
export async function existingIdsFromStore(store: Pick<Store, 'registry'>): Promise<ExistingIds> {
  const [communities, residents, volunteers, bridges, devices] = await Promise.all([
    store.registry.listCommunities(),
    store.registry.listResidents(),
    store.registry.listVolunteers(),
    store.registry.listBridges(),
    store.registry.listDevices(),
  ]);
  const externalIds = new Map<string, string>();
  for (const d of devices)
    if (d.bridge !== undefined && d.externalId !== undefined) externalIds.set(bridgeKey(d.bridge, d.externalId), d.id);
  return {
    communities: new Set(communities.map((c) => c.id)),
    residents: new Set(residents.map((r) => r.id)),
    volunteers: new Set(volunteers.map((v) => v.id)),
    bridges: new Map(bridges.map((b) => [b.id, { kind: b.kind, ourBrokerTopic: onOurBroker(b) ? b.baseTopic : null }])),
    devices: new Set(devices.map((d) => d.id)),
    externalIds,
  };
}

/** Validates a parsed document against the store's ids, then imports it. Throws GW_ERR_REGISTRY_INVALID and changes nothing on any error. */
export async function importRegistryDocument(deps: ImportDeps, raw: unknown, opts: ImportOptions = {}): Promise<RegistryCounts> {
  const doc = validateRegistry(raw, await existingIdsFromStore(deps.store));
  return importRegistry(deps, doc, opts);
}

/**
 * Upserts a validated document by id in one transaction and returns the store's counts afterwards.
 * Device secrets are hashed; a device whose secret is unchanged keeps its stored hash.
 */
export async function importRegistry(deps: ImportDeps, doc: ValidatedRegistry, opts: ImportOptions = {}): Promise<RegistryCounts> {
  const started = Date.now();
  // The document may have been validated against an older view of the store: check references again.
  const stale = referenceIssues(doc, await existingIdsFromStore(deps.store));
  if (stale.length > 0) throw invalid(stale.map((i) => `${formatPath(i.path)}: ${i.message}`));
  if (doc.sms && deps.checkTemplates) {
    try {
      deps.checkTemplates(doc.sms.templates);
    } catch (err) {
      throw invalid([err instanceof Error ? err.message : String(err)]);
    }
  }

  const secrets = { hashed: 0, kept: 0 };
  const devices = await mapLimit(doc.devices, HASH_CONCURRENCY, async (d): Promise<Device> => {
    const { secret, ...rest } = d;
    // Validation made sure a device without a secret is on a bridge: it never signs in itself.
    if (secret === undefined) return { ...rest, secretHash: NO_DEVICE_SECRET };
    const stored = await deps.store.registry.getDevice(d.id);
    if (stored && (await verifySecret(secret, stored.secretHash))) {
      secrets.kept++;
      return { ...rest, secretHash: stored.secretHash };
    }
    secrets.hashed++;
    return { ...rest, secretHash: await hashSecret(secret) };
  });

  const bridges = await mapLimit(doc.bridges, HASH_CONCURRENCY, async (b): Promise<Bridge> => {
    if (b.kind !== 'zigbee2mqtt') return b;
    const { secret, ...rest } = b;
    if (secret === undefined) return rest;
    const stored = await deps.store.registry.getBridge(b.id);
    if (stored?.kind === 'zigbee2mqtt' && stored.secretHash !== undefined && (await verifySecret(secret, stored.secretHash))) {
      secrets.kept++;
      return { ...rest, secretHash: stored.secretHash };
    }
    secrets.hashed++;
    return { ...rest, secretHash: await hashSecret(secret) };
  });

  const snapshot: RegistrySnapshot = {
    ...(doc.escalation
      ? {
          escalation: {
            ackTimeoutSeconds: doc.escalation.ackTimeoutSeconds,
            fallCancelSeconds: doc.escalation.fallCancelSeconds,
            offlineAfterSeconds: doc.escalation.offlineAfterSeconds,
            ...(doc.escalation.voiceAfterSeconds !== undefined ? { voiceAfterSeconds: doc.escalation.voiceAfterSeconds } : {}),
          },
        }
      : {}),
    ...(doc.careDigest ? { careDigest: { times: doc.careDigest.times } } : {}),
    ...(doc.supervision ? { supervision: { offlineAfterSeconds: { ...doc.supervision.offlineAfterSeconds } } } : {}),
    ...(doc.sms ? { smsTemplates: doc.sms.templates } : {}),
    communities: doc.communities,
    residents: doc.residents,
    workers: doc.workers,
    bridges,
    devices,
    volunteers: doc.volunteers,
    visits: doc.visits,
  };
  const totals = await deps.store.registry.upsert(snapshot);
  // Counts only: the document is full of names, phones and addresses.
  deps.log.info(
    {
      source: opts.source ?? 'document',
      imported: { ...countsOf(snapshot), bridges: bridges.length },
      totals,
      secretsHashed: secrets.hashed,
      secretsKept: secrets.kept,
      ms: Date.now() - started,
    },
    'registry imported',
  );
  return totals;
}

function countsOf(s: RegistrySnapshot): RegistryCounts {
  return {
    communities: s.communities.length,
    residents: s.residents.length,
    workers: s.workers.length,
    devices: s.devices.length,
    volunteers: s.volunteers.length,
    visits: s.visits.length,
  };
}

/** Maps with at most `limit` calls in flight; results keep the input order; the first failure rejects. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  // One iterator shared by the workers: each next() hands out the next item exactly once.
  const queue = items.entries();
  const worker = async (): Promise<void> => {
    for (const [i, item] of queue) results[i] = await fn(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
