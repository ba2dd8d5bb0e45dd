import { ASSERTION_ALGS } from './client-auth.js';
import { DPOP_ALGS } from './dpop.js';

/** Endpoint paths under the issuer; the metadata document is their only contract. */
export const PATHS = {
  metadata: '/.well-known/oauth-authorization-server',
  jwks: '/oauth/jwks',
  token: '/oauth/token',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
} as const;

/** The RFC 8414 authorization server metadata for `issuer`. */
export function authorizationServerMetadata(issuer: string, dpopNonce: boolean): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}${PATHS.jwks}`,
    token_endpoint: `${issuer}${PATHS.token}`,
    introspection_endpoint: `${issuer}${PATHS.introspection}`,
    revocation_endpoint: `${issuer}${PATHS.revocation}`,
    grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    dpop_nonce_required: dpopNonce,
    access_token_signing_alg_values_supported: ['ES256', 'EdDSA'],
  };
}
