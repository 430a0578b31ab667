// A generated neighbourhood for the throughput, connection and storm benchmarks: N residents with a button each, motion sensors, one shared device secret.
import { benchRegistryDoc, type GeneratedRegistry } from './registry.js';

export interface SharedRegistryOptions {
  /** Residents, each with an SOS button (`btn-00000` …) and one family phone. */
  residents: number;
  /** Motion sensors (`pir-00000` …), spread over the residents. */
  sensors: number;
  /** The one secret of every device (see seed-registry.ts: it is hashed once). */
  secret: string;
}

export type SharedRegistry = GeneratedRegistry;

export function sharedSecretRegistry(opts: SharedRegistryOptions): SharedRegistry {
  return benchRegistryDoc({ residents: opts.residents, sensors: opts.sensors, secretOf: () => opts.secret });
}
