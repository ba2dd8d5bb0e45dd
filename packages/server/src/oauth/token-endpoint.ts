import { type Actor, auditStatement } from '../audit/index.js';
import type { DecisionRequest } from '../policy/index.js';
import type { AgentRecord } from '../storage/index.js';
import { ASSERTION_TYPE, type AuthenticatedClient } from './client-auth.js';
import type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
import { type VerifiedProof, verifyDpopProof } from './dpop.js';
import { type Form, one, requireForm } from './form.js';
import {
  agentActor,
  candidates,
  type Decided,
  issueToken,
  recordRefusedDecision,
  requestedResources,
  requestedScopes,
} from './grant-steps.js';
import { OAuthError } from './oauth-error.js';
import { handleTokenExchange, TOKEN_EXCHANGE } from './token-exchange.js';

const CLIENT_CREDENTIALS = 'client_credentials';

/** Step: the grant type must be one this endpoint serves. */
function checkGrantType(form: Form): string {
  const grantType = one(form, 'grant_type');
  if (!grantType) throw new OAuthError('invalid_request', 'missing `grant_type`');
  if (grantType !== CLIENT_CREDENTIALS && grantType !== TOKEN_EXCHANGE) {
    throw new OAuthError('unsupported_grant_type', `grant type \`${grantType}\` is not supported`);
  }
  return grantType;
}

/**
 * Step: exactly one client authentication method, and it must be
 * `private_key_jwt` (a client assertion). Secrets are not accepted.
 */
export async function authenticateClient(
  deps: OAuthDeps,
  form: Form,
  authorization: string | undefined,
): Promise<AuthenticatedClient> {
  const methods = [
    authorization?.toLowerCase().startsWith('basic ') ? 'client_secret_basic' : null,
    form.has('client_secret') ? 'client_secret_post' : null,
    form.has('client_assertion') || form.has('client_assertion_type') ? 'private_key_jwt' : null,
  ].filter((m) => m !== null);
  if (methods.length > 1) {
    throw new OAuthError(
      'invalid_request',
      `more than one client authentication method (${methods.join(', ')})`,
    );
  }
  if (methods[0] !== 'private_key_jwt') {
    throw new OAuthError(
      'invalid_client',
      methods.length === 0
        ? 'client authentication is required (private_key_jwt)'
        : `client authentication method \`${methods[0]}\` is not supported: use private_key_jwt`,
    );
  }
  if (one(form, 'client_assertion_type') !== ASSERTION_TYPE) {
    throw new OAuthError('invalid_client', `\`client_assertion_type\` must be \`${ASSERTION_TYPE}\``);
  }
  const assertion = one(form, 'client_assertion');
  if (!assertion) throw new OAuthError('invalid_client', 'missing `client_assertion`');
  return deps.clients.authenticate(assertion, one(form, 'client_id'));
}

/** What policy granted a token, and every `token:issue` decision taken on the way. */
interface Granted {
  readonly values: string[];
  readonly decisions: Decided[];
}

/** Asks the engine whether the agent may be issued a token on each resource (`token:issue`). */
async function decideIssue(
  deps: OAuthDeps,
  agent: AgentRecord,
  type: 'Scope' | 'Audience',
  ids: readonly string[],
): Promise<Decided[]> {
  const out: Decided[] = [];
  for (const id of ids) {
    const request: DecisionRequest = {
      principal: { type: 'Agent', id: agent.id },
      action: 'token:issue',
      resource: { type, id },
    };
    out.push({ request, decision: await deps.policy.decide(request) });
  }
  return out;
}

/**
 * Step: policy decides the scopes. Each requested scope needs `token:issue` on
 * `Scope::"<scope>"` (the agent's `allowedScopes` are platform grants of it);
 * none requested means every candidate scope policy allows.
 */
async function grantScopes(
  deps: OAuthDeps,
  form: Form,
  agent: AgentRecord,
  requestId: string,
): Promise<Granted> {
  const requested = requestedScopes(form);
  if (requested === null) {
    const decisions = await decideIssue(deps, agent, 'Scope', await candidates(deps, agent, 'Scope'));
    return {
      values: decisions.filter((d) => d.decision.allowed).map((d) => d.request.resource.id),
      decisions,
    };
  }
  const decisions = await decideIssue(deps, agent, 'Scope', requested);
  const refused = decisions.find((d) => !d.decision.allowed);
  if (refused) {
    await recordRefusedDecision(deps, agentActor(agent.id, requestId), refused);
    throw new OAuthError(
      'invalid_scope',
      `scope \`${refused.request.resource.id}\` is not allowed for this client`,
    );
  }
  return { values: requested, decisions };
}

/**
 * Step: RFC 8707 resources become the audience; each needs `token:issue` on
 * `Audience::"<resource>"`. None named: the one audience policy allows, if
 * there is exactly one.
 */
async function grantAudience(
  deps: OAuthDeps,
  form: Form,
  agent: AgentRecord,
  requestId: string,
): Promise<Granted> {
  const resources = requestedResources(form);
  if (resources.length > 0) {
    const decisions = await decideIssue(deps, agent, 'Audience', resources);
    const refused = decisions.find((d) => !d.decision.allowed);
    if (refused) {
      await recordRefusedDecision(deps, agentActor(agent.id, requestId), refused);
      throw new OAuthError(
        'invalid_target',
        `resource \`${refused.request.resource.id}\` is not allowed for this client`,
      );
    }
    return { values: resources, decisions };
  }
  const decisions = await decideIssue(deps, agent, 'Audience', await candidates(deps, agent, 'Audience'));
  const allowed = decisions.filter((d) => d.decision.allowed).map((d) => d.request.resource.id);
  if (allowed.length === 1) return { values: allowed, decisions };
  throw new OAuthError(
    'invalid_target',
    allowed.length === 0
      ? 'this client may not get tokens for any resource'
      : 'name the `resource` to get a token for',
  );
}

/** Step: verify the DPoP proof when present, and require one when the client must use DPoP. */
async function checkDpop(
  deps: OAuthDeps,
  request: OAuthRequest,
  agent: AgentRecord,
): Promise<VerifiedProof | null> {
  if (request.dpop.length === 0) {
    if (agent.requireDpop)
      throw new OAuthError('invalid_dpop_proof', 'this client must present a DPoP proof');
    return null;
  }
  return verifyDpopProof(
    request.dpop,
    { method: 'POST', url: request.url },
    deps.dpop,
    deps.clock.now(),
    true, // off the event loop: the token endpoint is a throughput path
  );
}

/**
 * The token endpoint (RFC 6749 §3.2) for `client_credentials` with
 * `private_key_jwt`, optionally DPoP-bound, and for RFC 8693 token exchange
 * (see `token-exchange.ts`). The issuance commits before the token is
 * returned (`issueToken`).
 */
export async function handleTokenRequest(deps: OAuthDeps, request: OAuthRequest): Promise<OAuthResponse> {
  const form = requireForm(request.contentType, request.body, ['resource', 'audience']);
  const grantType = checkGrantType(form);
  const client = await authenticateClient(deps, form, request.authorization);
  const agent = client.agent;
  const proof = await checkDpop(deps, request, agent);
  if (grantType === TOKEN_EXCHANGE) {
    return handleTokenExchange(deps, request, { form, client, proof });
  }
  if (form.has('audience'))
    throw new OAuthError('invalid_request', 'parameter `audience` is only for token exchange');
  const grantedScopes = await grantScopes(deps, form, agent, request.requestId);
  const grantedAudience = await grantAudience(deps, form, agent, request.requestId);
  const body = await issueToken(deps, request, client, proof, {
    subject: agent.id,
    audience: grantedAudience.values,
    scopes: grantedScopes.values,
    ttlSeconds: deps.accessTokenTtlSeconds,
    decisions: [...grantedScopes.decisions, ...grantedAudience.decisions],
    audit: {
      actor: agentActor(agent.id, request.requestId),
      action: 'token.issue',
      target: { type: 'agent', id: agent.id },
      grantType: CLIENT_CREDENTIALS,
    },
  });
  return { status: 200, body };
}

/**
 * Records a refused token request (the reason code, never the assertion or
 * proof). A failure to record a refusal is logged by the caller, not raised:
 * the refusal itself changes nothing.
 */
export async function recordTokenRefusal(
  deps: OAuthDeps,
  request: OAuthRequest,
  error: OAuthError,
): Promise<void> {
  let claimed: string | undefined;
  try {
    claimed = one(requireForm(request.contentType, request.body, ['resource', 'audience']), 'client_id');
  } catch {
    claimed = undefined;
  }
  const clientId = claimed && /^agt_[0-9a-z]{26}$/.test(claimed) ? claimed : null;
  // The caller is not authenticated: the claimed client id is the target, never the actor.
  const anonymous: Actor = {
    type: 'anonymous',
    id: 'unauthenticated',
    role: 'none',
    userId: null,
    requestId: request.requestId,
  };
  await deps.committer.submit({
    statements: [
      auditStatement(deps.clock, anonymous, {
        action: 'token.refuse',
        target: clientId ? { type: 'agent', id: clientId } : null,
        outcome: 'denied',
        reason: `${error.error}: ${error.description}`,
        details: { error: error.error, sourceAddress: request.sourceAddress },
      }),
    ],
  });
}
