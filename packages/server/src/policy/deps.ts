import type { Clock } from '../core/index.js';
import type { Store } from '../storage/index.js';
import type { PolicyEngine } from './engine.js';

/** What policy operations need; passed explicitly, never looked up. */
export interface PolicyDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly engine: PolicyEngine;
}
