/** A keyed cache whose misses are loaded once even when requested concurrently. */
export interface SingleFlightCache<T> {
  /**
   * Returns the cached value for `key` while `isFresh` accepts it; otherwise
   * joins the load already in flight for `key`, or starts `load`. A failed load
   * is shared by the callers that joined it and is not cached.
   */
  get(key: string, load: () => Promise<T>): Promise<T>;
}

const PRUNE_ABOVE = 64;

/**
 * Creates a {@link SingleFlightCache}; `isFresh` is asked on every read, so a
 * value goes stale exactly when the predicate says, with no timers.
 */
export function createSingleFlightCache<T>(isFresh: (value: T) => boolean): SingleFlightCache<T> {
  const values = new Map<string, T>();
  const inflight = new Map<string, Promise<T>>();

  function store(key: string, value: T): void {
    values.set(key, value);
    if (values.size <= PRUNE_ABOVE) return;
    for (const [other, cached] of values) if (!isFresh(cached)) values.delete(other);
  }

  return {
    get(key: string, load: () => Promise<T>): Promise<T> {
      const cached = values.get(key);
      if (cached !== undefined && isFresh(cached)) return Promise.resolve(cached);
      const pending = inflight.get(key);
      if (pending) return pending;
      const promise = load()
        .then((value) => {
          store(key, value);
          return value;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, promise);
      return promise;
    },
  };
}
