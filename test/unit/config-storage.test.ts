// The disk, per-device limit and retention variables: defaults, and one clear line naming a malformed one.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';

const MB = 1024 * 1024;

describe('storage configuration', () => {
  it('has defaults that keep room for alarms, limit each device and keep raw events for 90 days', () => {
    expect(loadConfig({}).storage).toEqual({
      reserveBytes: 256 * MB,
      deviceLimits: { ratePerMinute: 60, burst: 120, dailyMessages: 20_000, dailyBytes: 16 * MB, disconnectAfter: 120 },
      retentionDays: 90,
    });
  });

  it('takes explicit values, 0 turning a device limit off', () => {
    const c = loadConfig({
      DISK_RESERVE_MB: '32',
      DEVICE_RATE_PER_MINUTE: '0',
      DEVICE_DAILY_MESSAGES: '0',
      DEVICE_DAILY_MB: '2',
      EVENT_RETENTION_DAYS: '7',
    });
    expect(c.storage).toMatchObject({
      reserveBytes: 32 * MB,
      deviceLimits: { ratePerMinute: 0, dailyMessages: 0, dailyBytes: 2 * MB },
      retentionDays: 7,
    });
  });

  it.each([
    ['DISK_RESERVE_MB', 'lots', 'DISK_RESERVE_MB: expected a whole number (got "lots")'],
    ['DISK_RESERVE_MB', '-1', 'DISK_RESERVE_MB: expected 0 or more (got "-1")'],
    ['DEVICE_RATE_PER_MINUTE', '1.5', 'DEVICE_RATE_PER_MINUTE: expected a whole number (got "1.5")'],
    ['DEVICE_BURST', '0', 'DEVICE_BURST: expected 1 or more (got "0")'],
    ['DEVICE_FLOOD_DISCONNECT', '0', 'DEVICE_FLOOD_DISCONNECT: expected 1 or more (got "0")'],
    ['EVENT_RETENTION_DAYS', '0', 'EVENT_RETENTION_DAYS: expected 1 or more (got "0")'],
    ['DEVICE_DAILY_MB', '1e', 'DEVICE_DAILY_MB: expected a whole number (got "1e")'],
  ])('refuses %s=%s with one line naming it', (name, value, line) => {
    expect(() => loadConfig({ [name]: value })).toThrow(line);
  });
});

describe('database and cluster configuration', () => {
  it('runs on the embedded SQLite store when neither DATABASE_URL nor REDIS_URL is set', () => {
    expect(loadConfig({}).databaseUrl).toBeNull();
  });

  it('names this node GATEWAY_NODE_ID, or by its host name when unset', () => {
    expect(loadConfig({ GATEWAY_NODE_ID: 'gw-2.tj' }).nodeId).toBe('gw-2.tj');
    expect(loadConfig({}).nodeId).toBe(hostname());
  });

  it('refuses a GATEWAY_NODE_ID with spaces or other characters, with one line naming it', () => {
    expect(() => loadConfig({ GATEWAY_NODE_ID: 'node a' })).toThrow(
      'GATEWAY_NODE_ID: expected 1-63 letters, digits, dots, dashes or underscores (no colon or slash) (got "node a")',
    );
  });

  it('takes DATABASE_URL as the PostgreSQL store', () => {
    const url = 'postgres://care:s3cret-pw@db.internal:5432/care';
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
  });

  it.each([
    ['DATABASE_URL', 'mysql://care@db/care', 'DATABASE_URL: expected a postgres:// connection string (got "mysql://care@db/care")'],
    [
      'REDIS_URL',
      'redis://:s3cret-pw@cache:6379',
      'REDIS_URL: cluster mode needs DATABASE_URL (nodes cannot share an embedded SQLite store); set it or unset REDIS_URL (got "redis://:***@cache:6379")',
    ],
  ])('refuses %s=%s with one line naming it, its password hidden, rather than ignore it', (name, value, line) => {
    let message = '';
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(line);
    expect(message).not.toContain('s3cret-pw');
  });

  it('takes REDIS_URL beside DATABASE_URL as cluster mode, the node named by GATEWAY_NODE_ID or else the host name', () => {
    const base = { DATABASE_URL: 'postgres://care@db/care', REDIS_URL: 'redis://cache:6379' };
    expect(loadConfig({ ...base, GATEWAY_NODE_ID: 'node-a' }).cluster).toEqual({
      redisUrl: 'redis://cache:6379',
      nodeId: 'node-a',
      heartbeatMs: 10_000,
    });
    expect(loadConfig(base).cluster?.nodeId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
    expect(loadConfig({ DATABASE_URL: base.DATABASE_URL, GATEWAY_NODE_ID: 'node-a' }).cluster).toBeNull();
  });

  it.each([
    [
      'GATEWAY_NODE_ID',
      'node:a',
      'GATEWAY_NODE_ID: expected 1-63 letters, digits, dots, dashes or underscores (no colon or slash) (got "node:a")',
    ],
    [
      'GATEWAY_NODE_ID',
      'a/b',
      'GATEWAY_NODE_ID: expected 1-63 letters, digits, dots, dashes or underscores (no colon or slash) (got "a/b")',
    ],
    ['CLUSTER_HEARTBEAT_MS', '50', 'CLUSTER_HEARTBEAT_MS: expected 100 or more (got "50")'],
  ])('refuses %s=%s with one line naming it', (name, value, line) => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://care@db/care', REDIS_URL: 'redis://cache:6379', [name]: value })).toThrow(line);
  });
});

describe('cluster node id', () => {
  it('defaults GATEWAY_NODE_ID to the host name and takes a given one', async () => {
    const { hostname } = await import('node:os');
    expect(loadConfig({}).nodeId).toBe(hostname());
    expect(loadConfig({ GATEWAY_NODE_ID: 'node-b.2' }).nodeId).toBe('node-b.2');
  });

  it('refuses a GATEWAY_NODE_ID with spaces or slashes, naming it', () => {
    expect(() => loadConfig({ GATEWAY_NODE_ID: 'node b/1' })).toThrow(/^GATEWAY_NODE_ID: expected 1-63 letters/);
  });
});
