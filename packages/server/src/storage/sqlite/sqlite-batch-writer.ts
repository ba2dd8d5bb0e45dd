import { Worker } from 'node:worker_threads';
import type { BatchUnit, BatchWriter, UnitOutcome } from '../batch.js';

type Reply = { id: number; outcomes?: UnitOutcome[]; error?: string } | { closed: true };

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER = new URL(FROM_SOURCE ? './batch-worker.ts' : './batch-worker.js', import.meta.url);

/**
 * Under tsx (tests, benchmarks) this module runs from its .ts source; loader
 * hooks do not reach worker threads, so the worker registers tsx itself first.
 */
function startWorker(path: string): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER, { workerData: { path } });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`;
  return new Worker(boot, { eval: true, workerData: { path } });
}

/** A {@link BatchWriter} over a SQLite file, writing on a worker thread. */
export function openSqliteBatchWriter(path: string): BatchWriter {
  const worker = startWorker(path);
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
