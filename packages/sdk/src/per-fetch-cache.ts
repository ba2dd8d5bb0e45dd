/**
 * Returns a lookup of process-wide caches partitioned by `fetch` implementation,
 * so data fetched through one HTTP client (a test's, a proxy's) is never served to
 * callers of another. The default `fetch` has its own partition.
 */
export function createPerFetchCache<T>(): (fetchImpl: typeof fetch | undefined) => Map<string, T> {
  const defaultPartition = new Map<string, T>();
  const partitions = new WeakMap<typeof fetch, Map<string, T>>();
  return (fetchImpl) => {
    if (fetchImpl === undefined) return defaultPartition;
    const existing = partitions.get(fetchImpl);
    if (existing) return existing;
    const created = new Map<string, T>();
    partitions.set(fetchImpl, created);
    return created;
  };
}
