import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { decodeBatch, type WireBatch } from './batch-wire.js';
import { runBatch } from './run-batch.js';

type Message =
  | { id: number; batch: WireBatch }
  | { id: number; pragmas: string[] }
  | { id: number; hold: SharedArrayBuffer }
  | { close: true };

/**
 * The longest this thread stands still for the main thread's transaction. Past
 * it, writing resumes and SQLite's busy timeout arbitrates as it would without
 * the hold: a main thread that never releases costs seconds, never a hang.
 */
const HOLD_LIMIT_MS = 5_000;

/**
 * The SQLite batch writer's thread: its own connection (WAL, synchronous=FULL),
 * so the durable commit's fsync happens here and not on the event loop.
 */
const data = workerData as { path: string; pragmas: string[] };
const db = new Database(data.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
// Statement journals (a unit's savepoint) in memory, not in a temporary file
// created for each transaction: ≈ 40 µs less per DPoP-bound grant.
db.pragma('temp_store = MEMORY');
// No automatic checkpoint on commit: with readers always active, it retries
// (and fsyncs the database file) on nearly every commit once the WAL passes its
// threshold. A thread of its own checkpoints on a timer (checkpoint-worker.ts).
db.pragma('wal_autocheckpoint = 0');
for (const pragma of data.pragmas) db.pragma(pragma);

parentPort?.on('message', (message: Message) => {
  if ('close' in message) {
    db.close();
    parentPort?.postMessage({ closed: true });
    return;
  }
  try {
    if ('hold' in message) {
      // The main thread wants SQLite's write lock for a transaction of its own.
      // Between batches this thread holds no lock: say so, then wait here until
      // released, so the main thread never sleeps in SQLite's busy handler
      // (1, 2, 5… ms at a time, blocking its event loop) waiting for this one.
      parentPort?.postMessage({ id: message.id, outcomes: [] });
      Atomics.wait(new Int32Array(message.hold), 0, 0, HOLD_LIMIT_MS);
      return;
    }
    if ('pragmas' in message) {
      for (const pragma of message.pragmas) db.pragma(pragma);
      parentPort?.postMessage({ id: message.id, outcomes: [] });
      return;
    }
    parentPort?.postMessage({ id: message.id, outcomes: runBatch(db, decodeBatch(message.batch)) });
  } catch (error) {
    parentPort?.postMessage({
      id: message.id,
      error: error instanceof Error ? error.message : String(error),
      code: (error as { code?: unknown } | null)?.code,
    });
  }
});
