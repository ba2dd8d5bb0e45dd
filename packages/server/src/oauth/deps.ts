import type { Clock } from '../core/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { GroupCommitter, Store } from '../storage/index.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { DpopSettings } from './dpop.js';
import type { KeyRing } from './key-ring.js';

/** What the authorization server's endpoints need. */
export interface OAuthDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly issuer: string;
  readonly keys: KeyRing;
  readonly clients: ClientAuthenticator;
  /** Issuances and their audit records are written through group commit. */
  readonly committer: GroupCommitter;
  readonly dpop: DpopSettings;
  readonly accessTokenTtlSeconds: number;
  /** Most agents a delegation chain may hold (token exchange). */
  readonly delegationMaxDepth: number;
  /** Decides which scopes and audiences an agent may get (`token:issue`). */
  readonly policy: PolicyEngine;
}

/** An inbound OAuth request, independent of the HTTP framework. */
export interface OAuthRequest {
  readonly method: string;
  /** The full URL as the client addressed it (issuer base + path). */
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
  readonly authorization: string | undefined;
  /** Every `DPoP` header value, in order (more than one is an error). */
  readonly dpop: readonly string[];
  readonly requestId: string;
  readonly sourceAddress: string;
}

export interface OAuthResponse {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}
