/** Rows as the domain sees them: camelCase, times in epoch milliseconds. */

export type UserStatus = 'active' | 'deactivated';
export type AgentStatus = 'active' | 'suspended' | 'decommissioned';
export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
/** `resource_server` tokens may only call token introspection and report activity (`POST /api/v1/activity`). */
export type AdminRole = 'admin' | 'auditor' | 'owner' | 'resource_server';

export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly status: UserStatus;
  readonly managerId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface TeamRecord {
  readonly name: string;
  readonly description: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  /** Read-only: the owner's email, joined on read; ignored on insert. */
  readonly ownerEmail: string;
  readonly team: string | null;
  readonly purpose: string;
  readonly environment: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly riskLevel: RiskLevel;
  readonly status: AgentStatus;
  readonly statusReason: string | null;
  readonly expiresAt: number;
  /** Interim token allow-list: scopes this agent may be issued (until the policy engine decides). */
  readonly allowedScopes: readonly string[];
  /** Interim token allow-list: audiences (RFC 8707 resources) this agent may be issued tokens for. */
  readonly allowedAudiences: readonly string[];
  /** When set, the token endpoint refuses requests without a DPoP proof. */
  readonly requireDpop: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface AgentStatusChange {
  readonly agentId: string;
  readonly at: number;
  readonly fromStatus: AgentStatus | null;
  readonly toStatus: AgentStatus;
  readonly reason: string;
  readonly actor: string;
}

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly role: AdminRole;
  readonly userId: string | null;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface AuditEventInput {
  readonly id: string;
  readonly at: number;
  readonly requestId: string | null;
  readonly actorType: string;
  readonly actorId: string;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly reason: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditEventRecord extends AuditEventInput {
  readonly seq: number;
  /** Null only for events written before the hash chain existed. */
  readonly prevHash: string | null;
  readonly hash: string | null;
}

/** A page of results; `nextCursor` is null on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export type SigningKeyState = 'next' | 'active' | 'retired';

/** A key the authorization server signs tokens with; the private half is sealed. */
export interface SigningKeyRecord {
  readonly kid: string;
  readonly alg: 'ES256' | 'EdDSA';
  readonly publicJwk: Readonly<Record<string, unknown>>;
  /** Sealed with the master key (`secrets/seal.ts`), context `signing-key:<kid>`. */
  readonly privateKey: string;
  readonly state: SigningKeyState;
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
  /** For retired keys: the JWKS keeps publishing them until every token they signed has expired. */
  readonly publishUntil: number | null;
}

/** A public key an agent authenticates with (`private_key_jwt`). */
export interface AgentKeyRecord {
  readonly agentId: string;
  readonly kid: string;
  readonly alg: string;
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly thumbprint: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
}

/** An access token Custos issued, kept until it expires so introspection and revocation work. */
export interface IssuedTokenRecord {
  readonly jti: string;
  readonly agentId: string;
  /** What the agent authenticated with: `key:<kid>` or `federation:<issuer id>`. */
  readonly credential: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  /** The person the token acts for, when delegated. */
  readonly subject?: string | null;
  /** The consent a delegated token derives from. */
  readonly consentId?: string | null;
}

export interface FederationRule {
  /** Every claim must equal the given string for the rule to match. */
  readonly claims: Readonly<Record<string, string>>;
  /** The agent the matching token authenticates. */
  readonly agent: string;
}

/** An external issuer of workload tokens (Kubernetes, CI, SPIFFE) that agents may authenticate with. */
export interface FederatedIssuerRecord {
  readonly id: string;
  readonly issuer: string;
  readonly jwks: Readonly<{ keys: readonly Record<string, unknown>[] }> | null;
  readonly jwksUri: string | null;
  readonly audiences: readonly string[];
  readonly rules: readonly FederationRule[];
  readonly createdAt: number;
}

/** A vault entry: the value sealed with its own data key, the data key sealed with the master key. */
export interface SecretRecord {
  readonly name: string;
  readonly description: string;
  readonly dataKey: string;
  readonly value: string;
  readonly version: number;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A trusted OpenID provider for people (their ID or access tokens become RFC 8693 subject tokens). */
export interface IdentityProviderRecord {
  readonly id: string;
  readonly issuer: string;
  readonly jwks: Readonly<{ keys: readonly Record<string, unknown>[] }> | null;
  readonly jwksUri: string | null;
  /** The `aud` its tokens must carry to be accepted by Custos. */
  readonly audience: string;
  /** Which claim names the person: `sub` (looked up in user identities) or `email`. */
  readonly claim: 'sub' | 'email';
  /** Create a person on first sight (from the `email` and `name` claims). */
  readonly jitUsers: boolean;
  readonly createdAt: number;
}

/** A person's consent for an agent to act on their behalf, for named scopes, until a time. */
export interface ConsentRecord {
  readonly id: string;
  readonly userId: string;
  readonly agentId: string;
  readonly scopes: readonly string[];
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  /** Tools the agent may call for the person (`server/tool` or `server/*`); null: not limited by the consent. */
  readonly tools?: readonly string[] | null;
}
