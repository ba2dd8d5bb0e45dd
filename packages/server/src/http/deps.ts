import type { AuditKey, Checkpointer } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { Gateway } from '../gateway/index.js';
import type { IdentityDeps } from '../identity/index.js';
import type { MonitorService } from '../monitor/index.js';
import type { OAuthDeps } from '../oauth/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { MasterKey } from '../secrets/index.js';

/** Everything route handlers may use. */
export interface AppDeps extends IdentityDeps {
  readonly config: Config;
  readonly oauth: OAuthDeps;
  /** The policy decision engine (Cedar). */
  readonly policy: PolicyEngine;
  /** Seals and unseals secrets at rest (vault, keys). */
  readonly master: MasterKey;
  readonly audit: { readonly key: AuditKey; readonly checkpointer: Checkpointer };
  /** The MCP and HTTP gateway (its admin operations discover upstreams through it). */
  readonly gateway: Gateway;
  /** Continuous monitoring: findings, baselines, alerts, SETs. */
  readonly monitor: MonitorService;
}
