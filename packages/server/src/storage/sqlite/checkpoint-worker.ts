import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * The SQLite checkpointer's thread: its own connection, which copies the WAL's
 * committed frames into the database file once a second (a PASSIVE checkpoint:
 * it never waits for readers or writers, and none waits for it). On the batch
 * writer's thread the same checkpoint stood in the way of every commit behind
 * it: ≈ 20 ms a second under a few thousand writes per second, which is what
 * durable callers saw as their p99.
 */
const data = workerData as { path: string; intervalMs: number };
const db = new Database(data.path);
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy or failing: the next tick retries; the writer keeps committing to the WAL meanwhile
  }
}, data.intervalMs);

parentPort?.on('message', (message: { close: true }) => {
  if (!('close' in message)) return;
  clearInterval(timer);
  db.close();
  parentPort?.postMessage({ closed: true });
});
