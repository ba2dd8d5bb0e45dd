import type { AuditKey, Checkpointer } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { IdentityDeps } from '../identity/index.js';
import type { OAuthDeps } from '../oauth/index.js';
import type { MasterKey } from '../secrets/index.js';

/** Everything route handlers may use. */
export interface AppDeps extends IdentityDeps {
  readonly config: Config;
  readonly oauth: OAuthDeps;
  /** Seals and unseals secrets at rest (vault, keys). */
  readonly master: MasterKey;
  readonly audit: { readonly key: AuditKey; readonly checkpointer: Checkpointer };
}
