import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { BatchUnit } from '../batch.js';
import { runBatch } from './run-batch.js';

/**
 * The SQLite batch writer's thread: its own connection (WAL, synchronous=FULL),
 * so the durable commit's fsync happens here and not on the event loop.
 */
const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
// Checkpoint on a timer rather than on commit: with readers always active, the
// automatic checkpoint retries (and fsyncs the database file) on nearly every
// commit once the WAL passes its threshold, which multiplies commit latency.
db.pragma('wal_autocheckpoint = 0');
const checkpoints = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy: the next tick retries
  }
}, 1000);

parentPort?.on('message', (message: { id: number; units: BatchUnit[] } | { close: true }) => {
  if ('close' in message) {
    clearInterval(checkpoints);
    db.close();
    parentPort?.postMessage({ closed: true });
    return;
  }
  try {
    parentPort?.postMessage({ id: message.id, outcomes: runBatch(db, message.units) });
  } catch (error) {
    parentPort?.postMessage({
      id: message.id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
