import { CustosSdkError } from './errors.js';
import { createPerFetchCache } from './per-fetch-cache.js';

/** The RFC 8414 authorization server metadata members the SDK relies on. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly jwks_uri: string;
  readonly introspection_endpoint?: string;
  readonly revocation_endpoint?: string;
  readonly dpop_signing_alg_values_supported?: readonly string[];
}

/** Options of {@link discoverAuthorizationServer}. */
export interface DiscoveryOptions {
  /** HTTP client (default the global `fetch`); also the cache partition. */
  readonly fetch?: typeof fetch;
}

const MAX_AGE_MS = 60 * 60 * 1000;
const TIMEOUT_MS = 10_000;

interface CachedMetadata {
  readonly promise: Promise<AuthorizationServerMetadata>;
  readonly fetchedAt: number;
}

const cacheFor = createPerFetchCache<CachedMetadata>();

/** The metadata URL of the contract: `{issuer}/.well-known/oauth-authorization-server`. */
export function metadataUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/oauth-authorization-server`;
}

function failed(message: string, cause?: unknown): CustosSdkError {
  return new CustosSdkError('discovery_failed', message, { status: 503, cause });
}

function isUrl(value: unknown): value is string {
  return typeof value === 'string' && URL.canParse(value);
}

function parseMetadata(issuer: string, body: unknown): AuthorizationServerMetadata {
  if (typeof body !== 'object' || body === null) throw failed('metadata is not a json object');
  const m = body as Record<string, unknown>;
  // RFC 8414 §3.3: the issuer in the document must be the one we asked for, exactly
  if (m.issuer !== issuer) throw failed(`metadata issuer does not match \`${issuer}\``);
  for (const member of ['token_endpoint', 'jwks_uri'] as const) {
    if (!isUrl(m[member])) throw failed(`metadata member \`${member}\` is missing or not a url`);
  }
  for (const member of ['introspection_endpoint', 'revocation_endpoint'] as const) {
    if (m[member] !== undefined && !isUrl(m[member])) {
      throw failed(`metadata member \`${member}\` is not a url`);
    }
  }
  const algs = m.dpop_signing_alg_values_supported;
  if (algs !== undefined && !(Array.isArray(algs) && algs.every((a) => typeof a === 'string'))) {
    throw failed('metadata member `dpop_signing_alg_values_supported` is not a list of strings');
  }
  return m as unknown as AuthorizationServerMetadata;
}

async function fetchMetadata(issuer: string, fetchImpl: typeof fetch): Promise<AuthorizationServerMetadata> {
  let response: Response;
  try {
    response = await fetchImpl(metadataUrl(issuer), {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (cause) {
    throw failed(`cannot reach the metadata of \`${issuer}\``, cause);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw failed(`metadata of \`${issuer}\` answered status ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (cause) {
    throw failed('metadata is not valid json', cause);
  }
  return parseMetadata(issuer, body);
}

/**
 * Fetches and validates the RFC 8414 metadata of `issuer` from
 * `{issuer}/.well-known/oauth-authorization-server`.
 *
 * Guarantees: the returned `issuer` equals the argument exactly and
 * `token_endpoint` and `jwks_uri` are absolute URLs. Results are cached per
 * process (per `fetch` implementation) for an hour; concurrent calls share one
 * request; failures are not cached.
 *
 * @throws {CustosSdkError} `discovery_failed` (status 503) when the document is
 *   unreachable, not 200, not JSON, or fails validation.
 */
export function discoverAuthorizationServer(
  issuer: string,
  options: DiscoveryOptions = {},
): Promise<AuthorizationServerMetadata> {
  const cache = cacheFor(options.fetch);
  const now = Date.now();
  const hit = cache.get(issuer);
  if (hit && now - hit.fetchedAt < MAX_AGE_MS) return hit.promise;
  const promise = fetchMetadata(issuer, options.fetch ?? globalThis.fetch);
  cache.set(issuer, { promise, fetchedAt: now });
  promise.catch(() => {
    if (cache.get(issuer)?.promise === promise) cache.delete(issuer);
  });
  return promise;
}
