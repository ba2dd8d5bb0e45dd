import type { Clock } from '../core/index.js';
import type { Store } from '../storage/index.js';

/** What identity operations need; passed explicitly, never looked up. */
export interface IdentityDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly settings: {
    /** Lifetime given to an agent created without `expiresAt`. */
    readonly agentDefaultTtlMs: number;
    /** Lifetime given to an admin token created without `expiresAt`. */
    readonly adminTokenDefaultTtlMs: number;
  };
}
