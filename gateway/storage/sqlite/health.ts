// The SQLite database's /healthz component: whether it answers, and whether recent commits are known to be on disk.
import type { ComponentHealth } from '../../core/health.js';
import type { StorageHealth } from './database.js';

/** Down when it cannot be read; degraded when the last WAL sync failed or checkpoints had to move back into COMMIT. */
export function databaseHealth(up: boolean, disk: () => StorageHealth): ComponentHealth {
  if (!up) return { status: 'down' };
  const d = disk();
  const problem = d.lastWalSyncError
    ? `the last WAL sync failed (${d.lastWalSyncError}): recent commits may not be on disk`
    : d.checkpoints?.mode === 'inline'
      ? `checkpoint thread lost (${d.checkpoints.lastError ?? 'unknown'}); checkpoints run in COMMIT and can hold alarms up`
      : null;
  return {
    status: problem ? 'degraded' : 'up',
    walSyncs: d.walSyncs,
    walSyncFailures: d.walSyncFailures,
    ...(problem ? { detail: problem } : {}),
  };
}
