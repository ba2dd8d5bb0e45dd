import { Worker } from 'node:worker_threads';
import type { BatchUnit, BatchWriter, UnitOutcome } from '../batch.js';
import { isSqliteUnavailableCode, StoreUnavailable } from '../store-unavailable.js';
import { decodeOutcomes, encodeBatch, type WireBatch, type WireOutcome } from './batch-wire.js';
import { currentFault, faultPragmas } from './write-faults.js';

type Reply = { id: number; outcomes?: WireOutcome[]; error?: string; code?: unknown } | { closed: true };

/** The batch writer of a SQLite file, which can also be given PRAGMAs (fault injection). */
export interface SqliteBatchWriter extends BatchWriter {
  /** Runs the PRAGMA statements on the worker's connection, between batches. */
  pragma(pragmas: readonly string[]): Promise<void>;
  /**
   * Resolves once the writer stands still between batches (holding no lock),
   * with the function that lets it go on. For a transaction on another
   * connection of this process: it then gets the write lock without waiting.
   * Never rejects: if the writer cannot answer, the release does nothing and
   * SQLite's busy timeout arbitrates as usual.
   */
  hold(): Promise<() => void>;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const script = (name: string) => new URL(`./${name}${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/** How often the checkpointer copies the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 1000;

/**
 * Under tsx (tests, benchmarks) this module runs from its .ts source; loader
 * hooks do not reach worker threads, so the worker registers tsx itself first.
 */
function startWorker(name: string, workerData: unknown): Worker {
  const url = script(name);
  if (!FROM_SOURCE) return new Worker(url, { workerData });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * The checkpointer's thread (checkpoint-worker.ts). `stop` resolves once its
 * connection is closed, or at once if the thread has already ended (and
 * terminates it if it does not answer within a second). `onGone` is called if
 * the thread ends while not asked to: nothing checkpoints then unless the
 * caller arranges it.
 */
function startCheckpointer(path: string, onGone: () => void): { stop(): Promise<void> } {
  const worker = startWorker('checkpoint-worker', { path, intervalMs: CHECKPOINT_INTERVAL_MS });
  worker.unref();
  let exited = false;
  let stopping: Promise<void> | null = null;
  worker.on('error', () => undefined); // the exit that follows is what counts
  worker.on('exit', () => {
    exited = true;
    if (!stopping) onGone();
  });
  return {
    stop: () =>
      (stopping ??= exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const finish = () => void worker.terminate().then(() => resolve());
            const deadline = setTimeout(finish, 1000);
            worker.once('message', () => {
              clearTimeout(deadline);
              finish();
            });
            worker.once('exit', () => {
              clearTimeout(deadline);
              resolve();
            });
            worker.postMessage({ close: true });
          })),
  };
}

/**
 * A {@link BatchWriter} over a SQLite file, writing on a worker thread. If the
 * thread dies (an error it could not handle, out of memory), everything
 * pending and everything sent later fails at once with `StoreUnavailable`,
 * `hold` no longer waits, and `onGone` is called (the driver then starts a
 * new writer for the next batch).
 */
export function openSqliteBatchWriter(
  path: string,
  options: { onGone?: () => void } = {},
): SqliteBatchWriter {
  const worker = startWorker('batch-worker', { path, pragmas: faultPragmas(currentFault(path)) });
  worker.unref();
  // if the checkpointer thread ends, the writer checkpoints on commit again (SQLite's default threshold)
  const checkpointer = startCheckpointer(path, () => {
    if (!gone) void send({ pragmas: ['wal_autocheckpoint = 1000'] }).catch(() => undefined);
  });
  const pending = new Map<number, { resolve(o: WireOutcome[]): void; reject(e: Error): void }>();
  let nextId = 1;
  let closed: (() => void) | null = null;
  let gone: Error | null = null;
  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const die = (error: Error) => {
    if (gone) return;
    gone = new StoreUnavailable(error);
    void checkpointer.stop();
    failAll(gone);
    options.onGone?.();
  };
  worker.on('message', (reply: Reply) => {
    if ('closed' in reply) {
      closed?.();
      return;
    }
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error === undefined) p?.resolve(reply.outcomes ?? []);
    else {
      const error = Object.assign(new Error(`batch write failed: ${reply.error}`), { code: reply.code });
      p?.reject(isSqliteUnavailableCode(reply.code) ? new StoreUnavailable(error) : error);
    }
  });
  worker.on('error', (error) => die(error));
  worker.on('exit', () => {
    if (closed) return; // closed on purpose
    die(new Error('the SQLite batch writer stopped'));
  });
  const send = (
    message: { batch: WireBatch } | { pragmas: readonly string[] } | { hold: SharedArrayBuffer },
  ) =>
    new Promise<WireOutcome[]>((resolve, reject) => {
      if (gone) {
        reject(gone);
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...message });
    }).finally(() => {
      if (pending.size === 0) worker.unref();
    });
  return {
    write: async (units: readonly BatchUnit[]): Promise<UnitOutcome[]> =>
      decodeOutcomes(units, await send({ batch: encodeBatch(units) })),
    pragma: async (pragmas: readonly string[]) => {
      await send({ pragmas });
    },
    hold: async () => {
      if (gone) return () => undefined;
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const release = () => {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      };
      try {
        await send({ hold: flag.buffer as SharedArrayBuffer });
      } catch {
        // the writer is gone or failing: nothing to hold
      }
      return release;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (gone) {
          resolve();
          return;
        }
        closed = () => {
          void Promise.all([worker.terminate(), checkpointer.stop()]).then(() => resolve());
        };
        worker.ref();
        worker.postMessage({ close: true });
      }),
  };
}
