import type { Store, TxRepositories } from './store.js';

export type Unit<T> = (tx: TxRepositories) => Promise<T>;

interface Pending {
  readonly unit: Unit<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface GroupCommitter {
  /**
   * Runs `unit` in a transaction shared with other concurrently submitted units,
   * and resolves only once that transaction has committed (so its writes are
   * durable). Each unit runs in its own savepoint: a unit that throws is undone
   * alone and rejects with its error; the others still commit. If the commit
   * itself fails, every unit of the batch rejects: nothing is acknowledged that
   * was not stored.
   */
  submit<T>(unit: Unit<T>): Promise<T>;
  /** Resolves once everything submitted so far has been settled. */
  drain(): Promise<void>;
}

/**
 * Group commit: one durable commit for many small writes (token issuances,
 * their audit events, single-use jtis). The first unit starts a flush at once
 * (no added latency when idle); units arriving during a flush wait for the next
 * one, so batches grow with load.
 */
export function createGroupCommitter(store: Store, options: { maxBatch?: number } = {}): GroupCommitter {
  const maxBatch = options.maxBatch ?? 512;
  let queue: Pending[] = [];
  let flushing: Promise<void> | null = null;

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      try {
        await store.transaction(async (tx) => {
          for (const pending of batch) {
            try {
              outcomes.push({ ok: true, value: await tx.savepoint(() => pending.unit(tx)) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      batch.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) pending.resolve(outcome.value);
        else pending.reject(outcome?.error);
      });
    }
  }

  function kick(): void {
    flushing ??= flush().finally(() => {
      flushing = null;
      if (queue.length > 0) kick();
    });
  }

  return {
    submit<T>(unit: Unit<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ unit, resolve: resolve as (value: unknown) => void, reject });
        kick();
      });
    },
    async drain() {
      while (flushing) await flushing;
    },
  };
}
