// Splits the process's open-file limit between HTTP and MQTT sockets, so a flood on one listener cannot starve the other.
import { readFileSync } from 'node:fs';

/** Descriptors kept out of both caps: the database and its WAL, logs, worker threads, outbound SMS/InfluxDB sockets. */
export const RESERVED_DESCRIPTORS = 128;
/** Assumed when the limit cannot be read (not Linux): the common default soft limit. */
export const ASSUMED_SOFT_LIMIT = 1024;
/** The dashboard, API and webhooks never need more than this many sockets at once by default. */
const HTTP_DEFAULT_CEILING = 1024;
const HTTP_SHARE = 0.2;

export interface ConnectionCaps {
  http: number;
  mqtt: number;
  /** The soft open-file limit the caps were sized from, and whether it was read or assumed. */
  softLimit: number;
  limitKnown: boolean;
  /** The caps together leave less than RESERVED_DESCRIPTORS free: one flood could still exhaust descriptors. */
  overcommitted: boolean;
}

/** The soft RLIMIT_NOFILE of this process, from /proc on Linux; null where it cannot be read. */
export function readSoftFdLimit(file = '/proc/self/limits'): number | null {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined || soft === 'unlimited') return null;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Caps for each listener: a configured value wins; otherwise HTTP gets a fifth of what is left after the reserve (at
 * most 1024) and MQTT the rest, because the devices are what the gateway is for.
 */
export function connectionCaps(configured: { http: number | null; mqtt: number | null }, softLimit: number | null): ConnectionCaps {
  const limit = softLimit ?? ASSUMED_SOFT_LIMIT;
  const usable = Math.max(limit - RESERVED_DESCRIPTORS, 32);
  const http = configured.http ?? Math.max(8, Math.min(HTTP_DEFAULT_CEILING, Math.floor(usable * HTTP_SHARE)));
  const mqtt = configured.mqtt ?? Math.max(8, usable - http);
  return { http, mqtt, softLimit: limit, limitKnown: softLimit !== null, overcommitted: http + mqtt > usable };
}
