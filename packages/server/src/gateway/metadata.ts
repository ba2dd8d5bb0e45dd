import { DPOP_ALGS } from '../oauth/index.js';

/** Paths of the gateway (DESIGN.md §4). */
export const GATEWAY_PATHS = {
  mcp: '/mcp/',
  http: '/gw/',
  metadata: '/.well-known/oauth-protected-resource',
} as const;

/** The resource URI of an upstream: what an agent asks a token for (RFC 8707) and the token's `aud`. */
export const mcpResource = (issuer: string, server: string): string =>
  `${issuer}/mcp/${encodeURIComponent(server)}`;
export const httpResource = (issuer: string, api: string): string =>
  `${issuer}/gw/${encodeURIComponent(api)}`;

/** Where the RFC 9728 metadata of a resource is: `/.well-known/oauth-protected-resource` + the resource's path. */
export const metadataUrl = (issuer: string, resource: string): string =>
  `${issuer}${GATEWAY_PATHS.metadata}${new URL(resource).pathname}`;

/** The RFC 9728 protected-resource metadata of an upstream. */
export function protectedResourceMetadata(
  issuer: string,
  resource: string,
  name: string,
): Record<string, unknown> {
  return {
    resource,
    authorization_servers: [issuer],
    bearer_methods_supported: ['header'],
    resource_name: name,
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    dpop_bound_access_tokens_required: false,
  };
}

const quoted = (text: string) => text.replace(/["\\\r\n]/g, ' ');

/**
 * The `WWW-Authenticate` challenges of a 401 (RFC 6750 §3, RFC 9449 §7.1,
 * RFC 9728 §5.1): Bearer and DPoP, each pointing to the resource metadata.
 */
export function challenge(
  resourceMetadata: string,
  error: { code: string; description: string } | null,
): string {
  const detail = error ? `, error="${error.code}", error_description="${quoted(error.description)}"` : '';
  const meta = `resource_metadata="${resourceMetadata}"`;
  return `Bearer realm="custos", ${meta}${detail}, DPoP algs="${DPOP_ALGS.join(' ')}", ${meta}${detail}`;
}
