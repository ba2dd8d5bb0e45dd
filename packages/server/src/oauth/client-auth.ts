import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { verifyJwsSignatureOffThread } from '@custos/sdk';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { Clock } from '../core/index.js';
import type { AgentRecord, FederatedIssuerRecord, Store } from '../storage/index.js';
import { AuthCache } from './auth-cache.js';
import { checkTimeClaims, hasControlCharacter, isSingleUseId } from './jwt-claims.js';
import { OAuthError } from './oauth-error.js';

const AGENT_ID = /^agt_[0-9a-z]{26}$/;

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric algorithms accepted for client assertions; `none` and HMAC never are. */
export const ASSERTION_ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;

export interface ClientAuthSettings {
  readonly issuer: string;
  readonly leewaySeconds: number;
  readonly maxLifetimeSeconds: number;
}

/** An authenticated agent, and the single-use identifier to burn with whatever it is granted. */
export interface AuthenticatedClient {
  readonly agent: AgentRecord;
  /** `key:<kid>` or `federation:<issuer id>`: what to revoke to cut this client off. */
  readonly credential: string;
  readonly replay: { readonly scope: string; readonly jti: string; readonly expiresAt: number } | null;
}

const invalidClient = (description: string, cause?: unknown) =>
  new OAuthError('invalid_client', description, {}, cause === undefined ? undefined : { cause });

/** Maps a `jose` validation failure to a precise description. */
function describeJoseError(error: unknown, what: string): OAuthError {
  if (error instanceof joseErrors.JWTExpired) return invalidClient(`${what} has expired`, error);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf')
      return invalidClient(`${what} is not yet valid (\`nbf\` is in the future)`, error);
    if (error.claim === 'iat') return invalidClient(`${what} \`iat\` is in the future`, error);
    return invalidClient(`${what} claim \`${error.claim}\` is invalid: ${error.reason}`, error);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return invalidClient(`${what} signature does not verify`, error);
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return invalidClient(`${what} was signed by an unknown key`, error);
  return invalidClient(`${what} is invalid`, error);
}

/**
 * Authenticates a client at the token, revocation and other endpoints with
 * `private_key_jwt` (RFC 7523; audience = the issuer identifier, RFC 7523bis)
 * or with a workload token from a trusted federated issuer.
 */
export class ClientAuthenticator {
  private readonly keyCache = new Map<string, KeyObject>();
  private readonly remoteSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  private readonly cache: AuthCache;

  constructor(
    private readonly deps: { store: Store; clock: Clock },
    private readonly settings: ClientAuthSettings,
  ) {
    this.cache = new AuthCache(deps.store);
  }

  /**
   * Validates an assertion and the agent it names. Checks, in order: algorithm
   * allow-list, `iss = sub = client_id`, the agent is active and unexpired, the
   * signing key is one of *this* agent's unrevoked, unexpired keys, the
   * signature, `aud` = issuer, `exp` present, lifetime under the cap, `nbf`,
   * and a `jti` (whose single use the caller enforces with the grant).
   */
  async authenticate(assertion: string, clientId: string | undefined): Promise<AuthenticatedClient> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch (error) {
      throw invalidClient('client assertion is not a well-formed JWT', error);
    }
    if (!header.alg || !(ASSERTION_ALGS as readonly string[]).includes(header.alg)) {
      throw invalidClient(`client assertion algorithm \`${String(header.alg)}\` is not allowed`);
    }
    if (typeof claims.iss !== 'string') throw invalidClient('client assertion has no `iss`');
    // looked up as text below (PostgreSQL refuses NUL even in a query's parameters)
    if (
      hasControlCharacter(claims.iss) ||
      (typeof header.kid === 'string' && hasControlCharacter(header.kid))
    )
      throw invalidClient('client assertion `iss` or `kid` has a control character');
    // agent ids never look like an issuer URL, so only other issuers need a lookup
    if (!AGENT_ID.test(claims.iss)) {
      const federated = await this.deps.store.federatedIssuers.getByIssuer(claims.iss);
      if (federated) return this.authenticateFederated(assertion, federated, clientId);
    }

    if (claims.iss !== claims.sub)
      throw invalidClient('client assertion `iss` and `sub` must both be the client id');
    if (clientId !== undefined && clientId !== claims.iss) {
      throw invalidClient('`client_id` does not match the client assertion');
    }
    const agent = await this.activeAgent(claims.iss);
    const keys =
      header.kid === undefined
        ? (await this.deps.store.agentKeys.list(agent.id)).filter((k) => k.alg === header.alg)
        : [await this.cache.agentKey(agent.id, header.kid)].filter((k) => k !== null);
    if (keys.length === 0) {
      throw invalidClient(
        header.kid === undefined
          ? 'no key of this client matches the assertion'
          : `unknown key \`${header.kid}\` for this client`,
      );
    }
    const now = this.deps.clock.now();
    let lastError: unknown;
    for (const key of keys) {
      if (key.revokedAt !== null) {
        lastError = invalidClient(`key \`${key.kid}\` has been revoked`);
        continue;
      }
      if (key.expiresAt <= now) {
        lastError = invalidClient(`key \`${key.kid}\` has expired`);
        continue;
      }
      if (key.alg !== header.alg) {
        lastError = invalidClient(`key \`${key.kid}\` is for \`${key.alg}\`, not \`${header.alg}\``);
        continue;
      }
      const cacheKey = `${agent.id}|${key.kid}|${key.thumbprint}`;
      let keyObject = this.keyCache.get(cacheKey);
      if (!keyObject) {
        keyObject = createPublicKey({ key: key.jwk as JsonWebKey, format: 'jwk' });
        if (this.keyCache.size > 10_000) this.keyCache.clear();
        this.keyCache.set(cacheKey, keyObject);
      }
      // jose parsed the header and claims above; the signature is checked with
      // node:crypto on the thread pool (see docs/architecture.md, "Token hot path")
      if (!(await verifyJwsSignatureOffThread(assertion, key.alg, keyObject))) {
        lastError = invalidClient('client assertion signature does not verify');
        continue;
      }
      if (claims.sub !== agent.id)
        throw invalidClient('client assertion `iss` and `sub` must both be the client id');
      if (claims.aud !== this.settings.issuer) {
        throw invalidClient(
          typeof claims.aud === 'string' || claims.aud === undefined
            ? 'client assertion `aud` must be the issuer identifier'
            : 'client assertion `aud` must be the issuer identifier as a single string',
        );
      }
      checkTimeClaims(claims, now, this.settings.leewaySeconds, 'client assertion');
      this.checkShape(claims, now);
      return {
        agent,
        credential: `key:${key.kid}`,
        replay: {
          scope: `assertion:${agent.id}`,
          jti: claims.jti as string,
          expiresAt: ((claims.exp as number) + this.settings.leewaySeconds) * 1000,
        },
      };
    }
    throw lastError;
  }

  private checkShape(payload: JWTPayload, now: number): void {
    if (typeof payload.aud !== 'string') {
      throw invalidClient('client assertion `aud` must be the issuer identifier as a single string');
    }
    const exp = payload.exp as number;
    const cap = this.settings.maxLifetimeSeconds;
    const since = typeof payload.iat === 'number' ? payload.iat : now / 1000;
    if (exp - since > cap || exp - now / 1000 > cap + this.settings.leewaySeconds) {
      throw invalidClient(`client assertion lifetime exceeds ${cap} seconds`);
    }
    if (!isSingleUseId(payload.jti)) {
      throw invalidClient('client assertion needs a `jti` of 8 to 256 characters, none a control character');
    }
  }

  private async activeAgent(id: string): Promise<AgentRecord> {
    const agent = AGENT_ID.test(id) ? await this.cache.agent(id) : null;
    if (!agent) throw invalidClient('unknown client');
    if (agent.status !== 'active') throw invalidClient(`client is ${agent.status}`);
    if (agent.expiresAt <= this.deps.clock.now()) throw invalidClient('client has expired');
    return agent;
  }

  private async authenticateFederated(
    assertion: string,
    issuer: FederatedIssuerRecord,
    clientId: string | undefined,
  ): Promise<AuthenticatedClient> {
    const now = this.deps.clock.now();
    let payload: JWTPayload;
    try {
      const keySet = issuer.jwks ? createLocalJWKSet(issuer.jwks as { keys: JWK[] }) : this.remoteSet(issuer);
      ({ payload } = await jwtVerify(assertion, keySet, {
        algorithms: [...ASSERTION_ALGS],
        issuer: issuer.issuer,
        audience: [...issuer.audiences],
        clockTolerance: this.settings.leewaySeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw describeJoseError(error, 'workload token');
    }
    const rule = issuer.rules.find((r) =>
      Object.entries(r.claims).every(([claim, value]) => payload[claim] === value),
    );
    if (!rule) throw invalidClient('no federation rule maps this workload token to an agent');
    if (clientId !== undefined && clientId !== rule.agent) {
      throw invalidClient('`client_id` does not match the agent the workload token maps to');
    }
    const agent = await this.activeAgent(rule.agent);
    // Workload tokens (Kubernetes, CI) are reused for their whole lifetime, so
    // they are not single-use; a jti, when present, still cannot repeat within
    // one token's grant.
    return { agent, credential: `federation:${issuer.id}`, replay: null };
  }

  private remoteSet(issuer: FederatedIssuerRecord) {
    let set = this.remoteSets.get(issuer.id);
    if (!set) {
      set = createRemoteJWKSet(new URL(issuer.jwksUri as string), {
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
      });
      this.remoteSets.set(issuer.id, set);
    }
    return set;
  }
}
