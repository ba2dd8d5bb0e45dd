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
import type { OAuthDeps } from './deps.js';
import type { VerifiedProof } from './dpop.js';
import { type Form, one } from './form.js';
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
export async function commitIssuance(
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
