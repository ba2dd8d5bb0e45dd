import { decodeJwt } from 'jose';
import { type Actor, recordAuditEvent } from '../audit/index.js';
import type { IdentityDeps } from '../identity/index.js';
import { authenticateAdminToken } from '../identity/index.js';
import type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
import { one, requireForm } from './form.js';
import { hasControlCharacter } from './jwt-claims.js';
import { OAuthError } from './oauth-error.js';
import { authenticateClient } from './token-endpoint.js';

/**
 * Token revocation (RFC 7009). The agent a token was issued to revokes it by
 * authenticating as that client (`private_key_jwt`); an `admin` token may
 * revoke any. Unknown, malformed or already revoked tokens answer 200 too, as
 * the RFC requires; introspection reports a revoked token inactive at once.
 */
export async function handleRevocation(
  deps: OAuthDeps & IdentityDeps,
  request: OAuthRequest,
): Promise<OAuthResponse> {
  const form = requireForm(request.contentType, request.body);
  let actor: Actor;
  const bearer = /^Bearer +(\S+) *$/i.exec(request.authorization ?? '')?.[1];
  if (bearer) {
    try {
      actor = await authenticateAdminToken(deps, bearer, request.requestId);
    } catch {
      throw new OAuthError('invalid_client', 'the bearer token is not valid');
    }
    if (actor.role !== 'admin')
      throw new OAuthError('invalid_client', 'only admin tokens may revoke others’ tokens');
  } else {
    const client = await authenticateClient(deps, form, request.authorization);
    actor = { type: 'agent', id: client.agent.id, role: 'agent', userId: null, requestId: request.requestId };
    // INVARIANT: a client assertion used here is burned like at the token endpoint
    if (
      client.replay &&
      !(await deps.store.usedJtis.claim(client.replay.scope, client.replay.jti, client.replay.expiresAt))
    ) {
      throw new OAuthError('invalid_client', 'client assertion has already been used');
    }
  }
  const token = one(form, 'token');
  if (!token) throw new OAuthError('invalid_request', 'missing `token`');
  let jti: unknown;
  let clientId: unknown;
  try {
    ({ jti, client_id: clientId } = decodeJwt(token));
  } catch {
    return { status: 200, body: {} };
  }
  // no token Custos issued has a `jti` with a control character (and PostgreSQL refuses NUL in a look-up)
  if (typeof jti !== 'string' || hasControlCharacter(jti)) return { status: 200, body: {} };
  if (actor.type === 'agent' && clientId !== actor.id) {
    throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
  }
  const record = await deps.store.issuedTokens.get(jti);
  if (!record) return { status: 200, body: {} };
  await deps.store.transaction(async (tx) => {
    if (await tx.issuedTokens.revoke(jti as string, deps.clock.now())) {
      await tx.notify({ topic: 'token', id: jti as string });
      await recordAuditEvent(tx, deps.clock, actor, {
        action: 'token.revoke',
        target: { type: 'agent', id: record.agentId },
        details: { tokenId: jti },
      });
    }
  });
  return { status: 200, body: {} };
}
