import { openSqliteStore } from '/work/main/gateway/storage/sqlite/store.ts';
import { mkdtempSync } from 'node:fs';
const s = openSqliteStore(mkdtempSync('/tmp/x-') + '/g.db');
const t = performance.now();
for (let i = 0; i < 20; i++) await s.security.record({ kind: 'auth_failed', at: 1, deviceId: null, clientId: null, remoteAddress: null, detail: '' });
console.log('per write ms', (performance.now() - t) / 20);
