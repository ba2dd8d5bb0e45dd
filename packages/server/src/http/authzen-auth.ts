import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/index.js';
import { CustosError } from '../core/index.js';
import { authenticateAdminToken, isAdminTokenFormat } from '../identity/index.js';
import { OAuthError, verifyDpopProof, verifyIssuedToken } from '../oauth/index.js';
import type { AppDeps } from './deps.js';

/** The scope an agent's access token needs to call the AuthZEN API (as a policy enforcement point). */
export const AUTHZEN_SCOPE = 'authzen:evaluate';

/** Admin-token roles that may ask for decisions: admins, auditors, and resource servers (enforcement points). */
const PDP_ROLES = new Set(['admin', 'auditor', 'resource_server']);

const unauthenticated = (message: string) => new CustosError('unauthenticated', message);

/**
 * Authenticates a caller of the AuthZEN API: an admin token (`cst_pat_…`) of
 * role `admin`, `auditor` or `resource_server`; or an access token Custos
 * issued to an agent, carrying the `authzen:evaluate` scope (as `Bearer`, or as
 * `DPoP` with a proof when the token is DPoP-bound).
 */
export async function authenticatePdpCaller(deps: AppDeps, request: FastifyRequest): Promise<Actor> {
  const header = request.headers.authorization;
  if (!header)
    throw unauthenticated('missing `Authorization` header: send an admin token or an agent access token');
  const match = /^(Bearer|DPoP)[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match?.[1] || !match[2])
    throw unauthenticated('the `Authorization` header must use the Bearer or DPoP scheme');
  const scheme = match[1].toLowerCase();
  const token = match[2];
  if (scheme === 'bearer' && isAdminTokenFormat(token)) {
    const actor = await authenticateAdminToken(deps, token, request.id);
    if (!PDP_ROLES.has(actor.role)) {
      throw new CustosError('forbidden', `\`${actor.role}\` tokens may not ask for decisions`);
    }
    return actor;
  }
  return authenticateAgentToken(deps, request, AUTHZEN_SCOPE);
}

/**
 * Authenticates an agent by an access token Custos issued to it (`Bearer`, or
 * `DPoP` with a fresh proof when the token is bound), optionally requiring a scope.
 */
export async function authenticateAgentToken(
  deps: AppDeps,
  request: FastifyRequest,
  requiredScope: string | null,
): Promise<Actor> {
  const match = /^(Bearer|DPoP)[ ]+([^ ]+)[ ]*$/i.exec(request.headers.authorization ?? '');
  if (!match?.[1] || !match[2])
    throw unauthenticated('the `Authorization` header must use the Bearer or DPoP scheme');
  const scheme = match[1].toLowerCase();
  const token = match[2];
  const active = await verifyIssuedToken(deps.oauth, token);
  if (!active) throw unauthenticated('the access token is not active');
  const scopes = typeof active.claims.scope === 'string' ? active.claims.scope.split(' ') : [];
  if (requiredScope !== null && !scopes.includes(requiredScope)) {
    throw new CustosError('forbidden', `the access token lacks the \`${requiredScope}\` scope`);
  }
  const cnf = active.claims.cnf as { jkt?: unknown } | undefined;
  if (typeof cnf?.jkt === 'string') {
    if (scheme !== 'dpop') throw unauthenticated('a DPoP-bound token must be sent with the DPoP scheme');
    const proofs: string[] = [];
    const raw = request.raw.rawHeaders;
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i]?.toLowerCase() === 'dpop') proofs.push(raw[i + 1] ?? '');
    let proof: Awaited<ReturnType<typeof verifyDpopProof>>;
    try {
      proof = await verifyDpopProof(
        proofs,
        {
          method: request.method,
          url: `${deps.config.issuer}${request.url.split('?')[0]}`,
          accessToken: token,
        },
        deps.oauth.dpop,
        deps.clock.now(),
      );
    } catch (error) {
      throw unauthenticated(error instanceof OAuthError ? error.description : 'invalid DPoP proof');
    }
    if (proof.jkt !== cnf.jkt)
      throw unauthenticated('the DPoP proof is not signed with the key the token is bound to');
    const expiresAt = (proof.iat + deps.oauth.dpop.maxAgeSeconds + 2 * deps.oauth.dpop.leewaySeconds) * 1000;
    if (!(await deps.store.usedJtis.claim(`dpop:${proof.jkt}`, proof.jti, expiresAt))) {
      throw unauthenticated('the DPoP proof has already been used');
    }
  } else if (scheme === 'dpop') {
    throw unauthenticated('the DPoP scheme needs a DPoP-bound token');
  }
  return { type: 'agent', id: active.record.agentId, role: 'agent', userId: null, requestId: request.id };
}
