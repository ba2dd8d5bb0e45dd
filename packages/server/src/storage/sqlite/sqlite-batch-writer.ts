import { Worker } from 'node:worker_threads';
import type { BatchUnit, BatchWriter, UnitOutcome } from '../batch.js';

type Reply = { id: number; outcomes?: UnitOutcome[]; error?: string } | { closed: true };

// Under tsx (tests) this module is the .ts source and so is its sibling worker.
const WORKER = new URL(
  import.meta.url.endsWith('.ts') ? './batch-worker.ts' : './batch-worker.js',
  import.meta.url,
);

/** A {@link BatchWriter} over a SQLite file, writing on a worker thread. */
export function openSqliteBatchWriter(path: string): BatchWriter {
  const worker = new Worker(WORKER, { workerData: { path } });
  worker.unref();
  const pending = new Map<number, { resolve(o: UnitOutcome[]): void; reject(e: Error): void }>();
  let nextId = 1;
  let closed: (() => void) | null = null;
  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    if ('closed' in reply) {
      closed?.();
      return;
    }
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error !== undefined) p?.reject(new Error(`batch write failed: ${reply.error}`));
    else p?.resolve(reply.outcomes ?? []);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', () => failAll(new Error('the SQLite batch writer stopped')));
  return {
    write(units: readonly BatchUnit[]) {
      return new Promise<UnitOutcome[]>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, units });
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = () => {
          void worker.terminate().then(() => resolve());
        };
        worker.ref();
        worker.postMessage({ close: true });
      }),
  };
}
