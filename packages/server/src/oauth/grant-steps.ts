import { type Actor, auditStatement } from '../audit/index.js';
import { type Decision, type DecisionRequest, decisionAuditEntry, recordedRequest } from '../policy/index.js';
import {
  type AgentRecord,
  claimJtiStatement,
  type IssuedTokenRecord,
  issuedTokenStatement,
  type Statement,
  type UnitOutcome,
} from '../storage/index.js';
import type { AuthenticatedClient } from './client-auth.js';
import type { OAuthDeps, OAuthRequest } from './deps.js';
import type { VerifiedProof } from './dpop.js';
import { type Form, one } from './form.js';
import { issueAccessToken } from './issue-access-token.js';
import { OAuthError } from './oauth-error.js';

/** Steps every grant of the token endpoint shares (client credentials and token exchange). */

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** A policy question asked while granting a token, with its answer. */
export interface Decided {
  readonly request: DecisionRequest;
  readonly decision: Decision;
}

export function agentActor(agentId: string, requestId: string, onBehalfOf?: Actor['onBehalfOf']): Actor {
  return {
    type: 'agent',
    id: agentId,
    role: 'agent',
    userId: null,
    requestId,
    ...(onBehalfOf ? { onBehalfOf } : {}),
  };
}

/** The `scope` parameter as a set (RFC 6749 §3.3), or null when absent. */
export function requestedScopes(form: Form): string[] | null {
  const raw = one(form, 'scope');
  if (raw === undefined) return null;
  const requested = [...new Set(raw.split(' ').filter((s) => s !== ''))];
  for (const scope of requested) {
    if (!SCOPE_TOKEN.test(scope)) throw new OAuthError('invalid_scope', 'malformed scope');
  }
  return requested;
}

/** The RFC 8707 `resource` parameters: absolute URIs without a fragment. */
export function requestedResources(form: Form): string[] {
  const resources = [...new Set(form.get('resource') ?? [])];
  for (const resource of resources) {
    let url: URL;
    try {
      url = new URL(resource);
    } catch {
      throw new OAuthError('invalid_target', 'each `resource` must be an absolute URI');
    }
    if (url.hash) throw new OAuthError('invalid_target', '`resource` must not have a fragment');
  }
  return resources;
}

/** Candidates when the client names none: the agent's allow-list, then what policies name for it. */
export async function candidates(
  deps: OAuthDeps,
  agent: AgentRecord,
  type: 'Scope' | 'Audience',
): Promise<string[]> {
  const listed = type === 'Scope' ? agent.allowedScopes : agent.allowedAudiences;
  const named = await deps.policy.namedResources({ type: 'Agent', id: agent.id }, type);
  return [...new Set([...listed, ...named.map((u) => u.id)])];
}

/** Records a refused decision (with its policies) before the refusal is answered. */
export async function recordRefusedDecision(deps: OAuthDeps, actor: Actor, refused: Decided): Promise<void> {
  await deps.committer
    .submit({
      statements: [
        auditStatement(deps.clock, actor, decisionAuditEntry(refused.request, refused.decision, 'token')),
      ],
    })
    .catch(() => undefined); // the refusal itself is recorded by the caller (`token.refuse`)
}

/** The decisions behind a token, as its audit event records them (what-if replays them). */
export function policyDetails(decisions: readonly Decided[]): Record<string, unknown> {
  return {
    version: decisions.at(-1)?.decision.version ?? null,
    decisions: decisions.map(({ request, decision }) => ({
      request: recordedRequest(request),
      decision: decision.allowed ? 'allow' : 'deny',
      policies: decision.policies,
      ...(decision.errors.length > 0 ? { errors: decision.errors } : {}),
    })),
  };
}

/**
 * Commits an issuance before the token is returned (no record, no token): the
 * single-use claims of the client assertion and the DPoP proof, the issued-token
 * record and its audit event, together through group commit.
 */
/** What a grant decided to issue, and how its record differs from the others'. */
export interface Issuance {
  /** `sub`: the agent itself, or the person a delegated token acts for. */
  readonly subject: string;
  readonly audience: readonly string[];
  readonly scopes: readonly string[];
  readonly ttlSeconds: number;
  readonly act?: Readonly<Record<string, unknown>>;
  /** Policy questions asked on the way (recorded with the issuance). */
  readonly decisions: readonly Decided[];
  /** The issued-token row's extra columns (a delegated token's person and consent). */
  readonly record?: Pick<IssuedTokenRecord, 'subject' | 'consentId'>;
  readonly audit: {
    readonly actor: Actor;
    readonly action: string;
    readonly target: { readonly type: string; readonly id: string };
    readonly grantType: string;
    /** Details of this grant, besides those every issuance records. */
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

/**
 * Mints the access token, commits it (with its audit event and the single-use
 * claims) and returns the token response's common members. Nothing is returned
 * to the client unless the commit succeeded.
 */
export async function issueToken(
  deps: OAuthDeps,
  request: OAuthRequest,
  client: AuthenticatedClient,
  proof: VerifiedProof | null,
  issuance: Issuance,
): Promise<Record<string, unknown>> {
  const { audit } = issuance;
  const issued = await issueAccessToken(
    { keys: deps.keys, clock: deps.clock, issuer: deps.issuer },
    {
      subject: issuance.subject,
      clientId: client.agent.id,
      audience: issuance.audience,
      scopes: issuance.scopes,
      ttlSeconds: issuance.ttlSeconds,
      jkt: proof?.jkt,
      act: issuance.act,
    },
  );
  await commitIssuance(
    deps,
    client,
    proof,
    {
      jti: issued.jti,
      agentId: client.agent.id,
      credential: client.credential,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      revokedAt: null,
      ...issuance.record,
    },
    auditStatement(deps.clock, audit.actor, {
      action: audit.action,
      target: audit.target,
      details: {
        grantType: audit.grantType,
        credential: client.credential,
        tokenId: issued.jti,
        signingKey: issued.kid,
        audience: issuance.audience,
        scopes: issuance.scopes,
        dpopJkt: proof?.jkt ?? null,
        expiresAt: new Date(issued.expiresAt).toISOString(),
        sourceAddress: request.sourceAddress,
        ...audit.details,
        policy: policyDetails(issuance.decisions),
      },
    }),
  );
  return {
    access_token: issued.token,
    token_type: proof ? 'DPoP' : 'Bearer',
    expires_in: issuance.ttlSeconds,
    ...(issuance.scopes.length > 0 ? { scope: issuance.scopes.join(' ') } : {}),
  };
}

async function commitIssuance(
  deps: OAuthDeps,
  client: AuthenticatedClient,
  proof: VerifiedProof | null,
  record: IssuedTokenRecord,
  audit: Statement,
): Promise<void> {
  const statements: Statement[] = [];
  if (client.replay) {
    const { scope, jti, expiresAt } = client.replay;
    statements.push(claimJtiStatement(scope, jti, expiresAt, 'assertion_replayed'));
  }
  if (proof) {
    const expiresAt = (proof.iat + deps.dpop.maxAgeSeconds + 2 * deps.dpop.leewaySeconds) * 1000;
    statements.push(claimJtiStatement(`dpop:${proof.jkt}`, proof.jti, expiresAt, 'proof_replayed'));
  }
  statements.push(issuedTokenStatement(record), audit);
  let outcome: UnitOutcome;
  try {
    outcome = await deps.committer.submit({ statements });
  } catch (error) {
    throw new OAuthError(
      'temporarily_unavailable',
      'the token could not be recorded; try again',
      {},
      { cause: error },
    );
  }
  if (!outcome.ok) {
    throw outcome.code === 'assertion_replayed'
      ? new OAuthError('invalid_client', 'client assertion has already been used')
      : new OAuthError('invalid_dpop_proof', 'DPoP proof has already been used');
  }
}
