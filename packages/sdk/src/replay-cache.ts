/**
 * Remembers single-use identifiers (DPoP proof `jti`s) until they expire.
 *
 * Implementations must make `checkAndStore` atomic: of two concurrent calls with
 * the same key, exactly one may return `true`. Several resource-server processes
 * that accept the same tokens must share one cache (e.g. Redis `SET NX PX`), or a
 * proof refused by one could be replayed against another.
 */
export interface ReplayCache {
  /**
   * Records `key` until `expiresAtMs` (milliseconds since the epoch). Returns
   * `true` when the key was not already recorded (first use), `false` when it was
   * (replay) or cannot be recorded. Throwing or rejecting makes the verification fail.
   */
  checkAndStore(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/** Options of {@link createMemoryReplayCache}. */
export interface MemoryReplayCacheOptions {
  /**
   * Most identifiers held at once (default 100 000). Size it for the peak number
   * of proofs accepted within one proof lifetime (`dpopMaxAgeSeconds` + tolerance).
   */
  readonly maxEntries?: number;
  /** Current time in milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
}

/**
 * An in-process {@link ReplayCache}, correct for a single process only.
 *
 * Guarantees: a key is reported as first use at most once until it expires.
 * Expired keys are dropped as new ones arrive. When `maxEntries` unexpired keys
 * are held, new keys are refused (`false`): it fails closed rather than forgetting
 * a key that could then be replayed.
 */
export function createMemoryReplayCache(options: MemoryReplayCacheOptions = {}): ReplayCache {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('`maxEntries` must be a positive integer');
  }
  const clock = options.clock ?? Date.now;
  // Map iteration follows insertion, which is close to expiry order: pruning from
  // the front is amortised O(1); a full scan runs only when the cache is full
  const entries = new Map<string, number>();

  function pruneFront(now: number): void {
    for (const [key, expiresAt] of entries) {
      if (expiresAt > now) return;
      entries.delete(key);
    }
  }

  function pruneAll(now: number): void {
    for (const [key, expiresAt] of entries) if (expiresAt <= now) entries.delete(key);
  }

  return {
    checkAndStore(key: string, expiresAtMs: number): boolean {
      const now = clock();
      const known = entries.get(key);
      if (known !== undefined && known > now) return false;
      entries.delete(key);
      pruneFront(now);
      if (entries.size >= maxEntries) pruneAll(now);
      if (entries.size >= maxEntries) return false;
      entries.set(key, expiresAtMs);
      return true;
    },
  };
}
