import {
  type CompactJWSHeaderParameters,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { discoverAuthorizationServer } from './discovery.js';
import { CustosSdkError } from './errors.js';
import { describeJoseError, normalizeTyp } from './jose-errors.js';
import { remoteJwks } from './remote-jwks.js';
import { createMemoryReplayCache, type ReplayCache } from './replay-cache.js';
import { type PresentedCredentials, type RequestHeaders, readCredentials } from './request-credentials.js';
import { verifyDpopProof } from './verify-dpop-proof.js';
import { keyObjectOf, verifyJwsSignature } from './verify-jws-signature.js';
import { type AuthScheme, verificationError } from './www-authenticate.js';

/** The request as the resource server received it. */
export interface VerifiableRequest {
  /** HTTP method as received (e.g. `GET`); compared exactly with the proof's `htm`. */
  readonly method: string;
  /**
   * Absolute URL the client addressed (`https://api.example.com/path?query`). Behind
   * a proxy, rebuild it from the public scheme and host, not the internal ones.
   */
  readonly url: string;
  readonly headers: RequestHeaders;
}

/** Options of {@link verifyAccessToken}. */
export interface VerifyAccessTokenOptions {
  /** Expected `iss`, exactly; also where the JWKS is discovered. */
  readonly issuer: string;
  /** This resource's identifier(s); `aud` must contain at least one. */
  readonly audience: string | readonly string[];
  /** JWKS URL (default: `jwks_uri` from the issuer's metadata). */
  readonly jwksUri?: string;
  /** Accepted signature algorithms for tokens and proofs (default ES256, ES384, EdDSA, RS256, PS256). */
  readonly algorithms?: readonly string[];
  /** Allowed clock skew in seconds (default 5). */
  readonly clockToleranceSeconds?: number;
  /** Oldest DPoP proof accepted, in seconds since its `iat` (default 60). */
  readonly dpopMaxAgeSeconds?: number;
  /** Where proof `jti`s are remembered (default: one in-memory cache per process). */
  readonly replayCache?: ReplayCache;
  /** Scopes the token must all carry, else `insufficient_scope`. */
  readonly requiredScopes?: readonly string[];
  /** HTTP client for discovery and JWKS (default the global `fetch`). */
  readonly fetch?: typeof fetch;
  /** Current time in milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
  /** Least seconds between two JWKS fetches caused by an unknown `kid` (default 30). */
  readonly jwksCooldownSeconds?: number;
}

/** The `act` claim of a delegated token (RFC 8693 §4.1): the acting party, possibly nested. */
export interface ActorClaim {
  readonly sub: string;
  readonly act?: ActorClaim;
  readonly [claim: string]: unknown;
}

/** Claims of a verified RFC 9068 access token. */
export interface AccessTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly cnf?: { readonly jkt: string };
  readonly act?: ActorClaim;
}

/** Result of {@link verifyAccessToken}. */
export interface VerifiedAccessToken {
  readonly claims: AccessTokenClaims;
  /** Thumbprint of the DPoP key the request proved possession of; absent for bearer tokens. */
  readonly dpopJkt?: string;
}

const DEFAULT_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
const ASYMMETRIC = /^(ES256|ES384|ES512|EdDSA|Ed25519|RS256|RS384|RS512|PS256|PS384|PS512)$/;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

let defaultReplayCache: ReplayCache | undefined;

/**
 * Keys jose resolved for (JWKS URL, kid, alg), kept for a minute: a key removed
 * from the JWKS stops verifying within that time (jose itself keeps a fetched
 * set for up to ten minutes).
 */
const RESOLVED_KEY_TTL_MS = 60_000;
const resolvedKeys = new Map<string, { key: object; until: number }>();

class KeySourceUnavailable extends Error {}

function checkAlgorithms(algorithms: readonly string[] | undefined): readonly string[] {
  if (algorithms === undefined) return DEFAULT_ALGORITHMS;
  // `none` and HMAC would let anyone holding the public key mint tokens
  const bad = algorithms.find((alg) => !ASYMMETRIC.test(alg));
  if (bad !== undefined) throw new TypeError(`algorithm \`${bad}\` is not an asymmetric signature algorithm`);
  if (algorithms.length === 0) throw new TypeError('`algorithms` must not be empty');
  return algorithms;
}

function keySource(jwksUri: string, options: VerifyAccessTokenOptions): JWTVerifyGetKey {
  const jwks = remoteJwks(jwksUri, { fetch: options.fetch, cooldownSeconds: options.jwksCooldownSeconds });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      throw new KeySourceUnavailable('jwks unavailable', { cause: error });
    }
  };
}

/** RFC 7519 §4.1 checks of a signature-verified access token, with the messages jose would give. */
function checkClaims(
  payload: JWTPayload,
  options: VerifyAccessTokenOptions,
  tolerance: number,
  now: number,
  fail: (message: string) => CustosSdkError,
): void {
  for (const claim of REQUIRED_CLAIMS) {
    if (payload[claim] === undefined) throw fail(`access token lacks claim \`${claim}\``);
  }
  const seconds = now / 1000;
  if (payload.iss !== options.issuer) throw fail('access token `iss` check failed');
  const expected = typeof options.audience === 'string' ? [options.audience] : options.audience;
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.some((a) => typeof a === 'string' && expected.includes(a)))
    throw fail('access token `aud` check failed');
  if (typeof payload.exp !== 'number') throw fail('access token `exp` check failed');
  if (payload.exp <= seconds - tolerance) throw fail('access token expired');
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > seconds + tolerance)) {
    throw fail('access token `nbf` check failed');
  }
  if (typeof payload.iat !== 'number') throw fail('access token `iat` check failed');
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The binding the token declares: its `cnf.jkt`, or undefined when unbound. */
function bindingOf(payload: JWTPayload, fail: (message: string) => CustosSdkError): string | undefined {
  const cnf = payload.cnf;
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) {
    throw fail('access token `cnf` is invalid');
  }
  const members = Object.keys(cnf);
  // fail closed on confirmation methods we cannot check (e.g. mTLS `x5t#S256`)
  if (members.length !== 1 || !isNonEmptyString((cnf as Record<string, unknown>).jkt)) {
    throw fail('access token `cnf` has an unsupported confirmation method');
  }
  return (cnf as Record<string, string>).jkt;
}

async function verifyJwt(
  credentials: PresentedCredentials,
  options: VerifyAccessTokenOptions,
  algs: readonly string[],
  now: number,
): Promise<AccessTokenClaims> {
  const fail = (message: string, cause?: unknown) =>
    verificationError('invalid_token', message, { scheme: credentials.scheme, algs }, cause);
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(credentials.token);
  } catch (cause) {
    throw fail('access token is malformed', cause);
  }
  // cheap header checks first: garbage never triggers a JWKS fetch
  if (normalizeTyp(header.typ) !== 'at+jwt') throw fail('access token `typ` is not `at+jwt`');
  if (typeof header.alg !== 'string' || !algs.includes(header.alg)) {
    throw fail('access token algorithm is not allowed');
  }
  const jwksUri =
    options.jwksUri ?? (await discoverAuthorizationServer(options.issuer, { fetch: options.fetch })).jwks_uri;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const parts = credentials.token.split('.');
  if (parts.length !== 3) throw fail('access token is malformed');
  // jose selects and imports the issuer key (JWKS cached, refetched on an unknown kid);
  // the result is remembered briefly so the hot path skips the lookup
  const cacheKey = `${jwksUri} ${String(header.kid)} ${header.alg}`;
  const cached = resolvedKeys.get(cacheKey);
  let key: object;
  try {
    if (cached && cached.until > now) key = cached.key;
    else {
      key = await keySource(jwksUri, options)(header as CompactJWSHeaderParameters, {
        protected: parts[0] as string,
        payload: parts[1] as string,
        signature: parts[2] as string,
      });
      if (resolvedKeys.size > 1000) resolvedKeys.clear();
      resolvedKeys.set(cacheKey, { key, until: now + RESOLVED_KEY_TTL_MS });
    }
  } catch (cause) {
    if (cause instanceof KeySourceUnavailable) {
      throw new CustosSdkError('discovery_failed', `cannot fetch the jwks of \`${options.issuer}\``, {
        status: 503,
        cause: cause.cause,
      });
    }
    throw fail(describeJoseError('access token', cause), cause);
  }
  if (!verifyJwsSignature(credentials.token, header.alg, keyObjectOf(key))) {
    throw fail('access token signature is invalid');
  }
  let payload: JWTPayload;
  try {
    payload = decodeJwt(credentials.token);
  } catch (cause) {
    throw fail('access token is malformed', cause);
  }
  checkClaims(payload, options, tolerance, now, fail);
  for (const claim of ['sub', 'jti', 'client_id'] as const) {
    if (!isNonEmptyString(payload[claim])) throw fail(`access token \`${claim}\` is invalid`);
  }
  if ((payload.iat as number) > now / 1000 + tolerance) throw fail('access token `iat` is in the future');
  if (payload.scope !== undefined && typeof payload.scope !== 'string') {
    throw fail('access token `scope` is invalid');
  }
  return payload as AccessTokenClaims;
}

/**
 * Verifies the access token of an incoming request, as a resource server must
 * before serving it: RFC 9068 (`typ` `at+jwt`, allow-listed asymmetric `alg` —
 * never `none` or HMAC —, signature by a key of the issuer's JWKS, `iss`, `aud`,
 * `exp`, and present `sub`, `iat`, `jti`, `client_id`) and, for DPoP-bound tokens,
 * RFC 9449 §4.3 and §7 (the `DPoP` scheme, exactly one valid proof for this
 * method, URL and token, made with the bound key, not replayed). A bound token
 * sent as `Bearer`, and a `DPoP`-scheme request with an unbound token, are
 * refused. Then every `requiredScopes` entry must be in `scope`.
 *
 * The JWKS is fetched once per process and `jwksUri`, refetched when a token
 * names an unknown `kid` (at most once per `jwksCooldownSeconds`); DPoP proof
 * keys are imported once per process. Safe to call concurrently. With the
 * default replay cache, proofs are single-use within this process only.
 *
 * @throws {CustosSdkError} `missing_token`, `invalid_request`, `invalid_token`,
 *   `invalid_dpop_proof` or `insufficient_scope`, each with the `status` and
 *   `wwwAuthenticate` to answer with; `discovery_failed` (503) when the issuer's
 *   metadata or JWKS cannot be fetched.
 * @throws {TypeError} on invalid options (e.g. a symmetric algorithm, relative `url`).
 */
export async function verifyAccessToken(
  request: VerifiableRequest,
  options: VerifyAccessTokenOptions,
): Promise<VerifiedAccessToken> {
  const algs = checkAlgorithms(options.algorithms);
  if (!URL.canParse(request.url)) throw new TypeError('`request.url` must be an absolute url');
  const now = (options.clock ?? Date.now)();
  const credentials = readCredentials(request.headers, algs);
  const claims = await verifyJwt(credentials, options, algs, now);
  const jkt = bindingOf(claims, (message) =>
    verificationError('invalid_token', message, { scheme: credentials.scheme, algs }),
  );
  const scheme: AuthScheme = jkt === undefined ? credentials.scheme : 'DPoP';
  if (jkt === undefined && credentials.scheme === 'DPoP') {
    throw verificationError('invalid_token', 'access token is not dpop-bound', { scheme, algs });
  }
  if (jkt !== undefined) {
    if (credentials.scheme !== 'DPoP') {
      throw verificationError('invalid_token', 'dpop-bound access token presented as a bearer token', {
        scheme,
        algs,
      });
    }
    const [proof, ...extra] = credentials.proofs;
    if (proof === undefined || proof === '') {
      throw verificationError('invalid_dpop_proof', 'missing dpop proof', { scheme, algs });
    }
    if (extra.length > 0) {
      throw verificationError('invalid_dpop_proof', 'more than one dpop proof', { scheme, algs });
    }
    defaultReplayCache ??= createMemoryReplayCache();
    await verifyDpopProof({
      proof,
      method: request.method,
      url: request.url,
      accessToken: credentials.token,
      jkt,
      algorithms: algs,
      now,
      clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
      maxAgeSeconds: options.dpopMaxAgeSeconds ?? 60,
      replayCache: options.replayCache ?? defaultReplayCache,
    });
  }
  const required = options.requiredScopes ?? [];
  if (required.length > 0) {
    const granted = new Set((claims.scope ?? '').split(' '));
    if (!required.every((scope) => granted.has(scope))) {
      throw verificationError('insufficient_scope', 'access token lacks a required scope', {
        scheme,
        algs,
        scope: required,
      });
    }
  }
  return jkt === undefined ? { claims } : { claims, dpopJkt: jkt };
}
