import type { IdentityDeps } from '../identity/index.js';
import { authenticateAdminToken } from '../identity/index.js';
import type { OAuthDeps, OAuthRequest, OAuthResponse } from './deps.js';
import { one, requireForm } from './form.js';
import { OAuthError } from './oauth-error.js';
import { verifyIssuedToken } from './verify-issued-token.js';

const INTROSPECTORS = new Set(['admin', 'auditor', 'resource_server']);

/**
 * Token introspection (RFC 7662). Callers authenticate with a bearer admin
 * token of role `admin`, `auditor` or `resource_server`. Anything not
 * currently valid answers `{ "active": false }` and nothing more.
 */
export async function handleIntrospection(
  deps: OAuthDeps & IdentityDeps,
  request: OAuthRequest,
): Promise<OAuthResponse> {
  const bearer = /^Bearer +(\S+) *$/i.exec(request.authorization ?? '')?.[1];
  if (!bearer) {
    throw new OAuthError(
      'invalid_client',
      'authenticate with `Authorization: Bearer <resource_server token>`',
      {
        'www-authenticate': 'Bearer realm="custos"',
      },
    );
  }
  let role: string;
  try {
    role = (await authenticateAdminToken(deps, bearer, request.requestId)).role;
  } catch {
    throw new OAuthError('invalid_client', 'the bearer token is not valid', {
      'www-authenticate': 'Bearer realm="custos"',
    });
  }
  if (!INTROSPECTORS.has(role))
    throw new OAuthError('invalid_client', `\`${role}\` tokens may not introspect`);
  const form = requireForm(request.contentType, request.body);
  const token = one(form, 'token');
  if (!token) throw new OAuthError('invalid_request', 'missing `token`');
  const active = await verifyIssuedToken(deps, token);
  if (!active) return { status: 200, body: { active: false } };
  const c = active.claims;
  return {
    status: 200,
    body: {
      active: true,
      iss: c.iss,
      sub: c.sub,
      aud: c.aud,
      exp: c.exp,
      iat: c.iat,
      jti: c.jti,
      client_id: c.client_id,
      ...(c.scope !== undefined ? { scope: c.scope } : {}),
      token_type: c.cnf ? 'DPoP' : 'Bearer',
      ...(c.cnf !== undefined ? { cnf: c.cnf } : {}),
      ...(c.act !== undefined ? { act: c.act } : {}),
    },
  };
}
