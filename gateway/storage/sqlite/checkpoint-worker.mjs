// The checkpoint thread: copies the WAL back into the database file on a connection of its own, so the disk syncs of a
// checkpoint never hold the gateway's event loop. Plain JavaScript: a worker thread starts without the TypeScript loader.
// Messages in: { type: 'checkpoint' } and { type: 'close' }. Out: { type: 'checkpointed', ... } or { type: 'failed', message }.
// Its types are JSDoc, checked by tsc (checkJs) against the owner's (checkpointer.ts).
// @ts-check
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

if (!parentPort) throw new Error('checkpoint-worker.mjs runs only as a worker thread');
const port = parentPort;
/** @type {{ file: string }} */
const options = workerData;
const db = open(options.file);
// In WAL mode a checkpoint syncs the WAL before it copies and the database file after, unless synchronous is OFF.
db.pragma('synchronous = NORMAL');
// A checkpoint never runs itself here: this connection only reads and checkpoints.
db.pragma('wal_autocheckpoint = 0');
/** @type {import('better-sqlite3').Statement<[], { busy: number, log: number, checkpointed: number }>} */
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

/** @param {import('./checkpointer.js').WorkerMessage} answer */
function reply(answer) {
  port.postMessage(answer);
}

port.on('message', (message) => {
  if (message?.type === 'checkpoint') {
    const started = performance.now();
    try {
      // PASSIVE: copies what no reader still needs and never waits for, or blocks, the writer.
      const row = checkpoint.get();
      if (!row) throw new Error('wal_checkpoint returned no row');
      reply({ type: 'checkpointed', busy: row.busy, walFrames: row.log, copiedFrames: row.checkpointed, ms: performance.now() - started });
    } catch (err) {
      reply({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    }
  } else if (message?.type === 'close') {
    db.close();
    port.close();
  }
});

/**
 * Opens the gateway's database; the error is rethrown as a plain Error, since the thread's owner gets only a copy of it.
 * @param {string} file
 */
function open(file) {
  try {
    return new Database(file, { fileMustExist: true });
  } catch (err) {
    throw new Error(
      `checkpoint thread cannot open ${file}: ${err instanceof Error ? err.message : String(err)}${err instanceof Error && 'code' in err && typeof err.code === 'string' ? ` (${err.code})` : ''}`,
    );
  }
}
