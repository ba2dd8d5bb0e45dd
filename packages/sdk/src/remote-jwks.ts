import { createRemoteJWKSet, customFetch, type RemoteJWKSet } from 'jose';
import { createPerFetchCache } from './per-fetch-cache.js';

/** How a remote JWKS is fetched and refreshed. */
export interface RemoteJwksOptions {
  /** HTTP client (default the global `fetch`). */
  readonly fetch?: typeof fetch;
  /** Least time between two fetches caused by an unknown `kid`, in seconds (default 30). */
  readonly cooldownSeconds?: number;
}

const setsFor = createPerFetchCache<RemoteJWKSet>();

/**
 * The process-wide jose `RemoteJWKSet` for `jwksUri` (one per URI, cooldown and
 * `fetch`), so keys are fetched and imported once and shared by every
 * verification. jose refetches the set when it is older than 10 minutes, or when
 * a token names an unknown `kid` and the cooldown has passed.
 */
export function remoteJwks(jwksUri: string, options: RemoteJwksOptions = {}): RemoteJWKSet {
  const fetchImpl = options.fetch;
  const sets = setsFor(fetchImpl);
  const cooldownSeconds = options.cooldownSeconds ?? 30;
  const key = `${cooldownSeconds} ${jwksUri}`;
  let set = sets.get(key);
  if (!set) {
    set = createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: cooldownSeconds * 1000,
      ...(fetchImpl ? { [customFetch]: (url: string, init: RequestInit) => fetchImpl(url, init) } : {}),
    });
    sets.set(key, set);
  }
  return set;
}
