import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { verifyJwsSignature } from '@custos/sdk';
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { Clock } from '../core/index.js';
import {
  actChain,
  type DpopSettings,
  type KeyRing,
  OAuthError,
  type VerifiedProof,
  verifyDpopProof,
} from '../oauth/index.js';
import type { ActiveTokens } from './active-tokens.js';
import { GatewayError } from './gateway-error.js';
import type { ProofReplayCache } from './replay-cache.js';

const AGENT_ID = /^agt_[0-9a-z]{26}$/;
const TOKEN_ALGS = new Set(['ES256', 'EdDSA']);

/** The caller of a gateway request, once its token (and proof) checked out. */
export interface VerifiedCaller {
  readonly agentId: string;
  /** The human the agent acts for (`sub` of a delegated token with `act`), or null. */
  readonly onBehalfOf: string | null;
  /** The delegation chain of a delegated token, first actor first (the last is `agentId`); empty otherwise. */
  readonly chain: readonly string[];
  /** The consent a delegated token derives from. */
  readonly consentId: string | null;
  /** The tools that consent limits the agent to (`server/tool`, `server/*`); null: not limited. */
  readonly consentTools: readonly string[] | null;
  /** The monitor restricted the agent: every call needs its owner's approval. */
  readonly restricted: boolean;
  readonly tokenId: string;
  /** Thumbprint of the DPoP key, for bound tokens. */
  readonly jkt: string | null;
  /** The proof's `jti` (bound tokens), to claim with the call's audit record. */
  readonly proof: { readonly jti: string; readonly iat: number } | null;
  readonly scopes: readonly string[];
  readonly claims: JWTPayload;
}

export interface PresentedRequest {
  readonly authorization: string | undefined;
  readonly dpop: readonly string[];
  readonly method: string;
  /** The URL as the agent addressed it (issuer base + path), for `htu`. */
  readonly url: string;
  /** The resource URI the token must be for (its `aud`). */
  readonly resource: string;
}

const invalidToken = (description: string) => new GatewayError('invalid_token', description);

/** Names, on a refusal, the agent and token id of a token whose signature verified. */
function presentedBy(error: unknown, claims: JWTPayload): unknown {
  if (!(error instanceof GatewayError) || error.presentedBy !== null || typeof claims.jti !== 'string')
    return error;
  const agentId = actChain(claims.act)?.at(-1) ?? claims.sub;
  if (typeof agentId === 'string' && AGENT_ID.test(agentId))
    error.presentedBy = { agentId, tokenId: claims.jti };
  return error;
}

/**
 * Verifies an agent's access token at the gateway: RFC 9068 `at+jwt` signed by
 * one of the authorization server's published keys (node:crypto on cached key
 * objects: the raw cost of one verify), from this issuer, unexpired, for this
 * resource (`aud`); a DPoP proof with `ath` when the token is bound (RFC 9449:
 * a bound token used as a Bearer token is refused); and the revocation check.
 */
export class TokenVerifier {
  private readonly keyObjects = new Map<string, { key: KeyObject; alg: string }>();
  /**
   * Claims of tokens whose signature verified, by their exact text: an agent
   * presents the same token for many calls, and the same bytes verify the same
   * way. Time claims, audience, binding and revocation are checked every call.
   */
  private readonly verified = new Map<string, JWTPayload>();

  constructor(
    private readonly deps: {
      readonly keys: KeyRing;
      readonly clock: Clock;
      readonly issuer: string;
      readonly leewaySeconds: number;
      readonly dpop: DpopSettings;
    },
    private readonly active: ActiveTokens,
    private readonly replay: ProofReplayCache,
  ) {}

  private async keyFor(kid: string): Promise<{ key: KeyObject; alg: string } | null> {
    const cached = this.keyObjects.get(kid);
    if (cached) return cached;
    const jwk = (await this.deps.keys.jwks()).keys.find((k) => k.kid === kid);
    if (!jwk || typeof jwk.alg !== 'string') return null;
    const entry = { key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), alg: jwk.alg };
    if (this.keyObjects.size > 1000) this.keyObjects.clear();
    this.keyObjects.set(kid, entry);
    return entry;
  }

  /** Parses the token and verifies its signature with a published key (then remembers it). */
  private async checkSignature(token: string): Promise<{ claims: JWTPayload }> {
    let protectedHeader: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      protectedHeader = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw invalidToken('the access token is not a well-formed JWT');
    }
    const typ = String(protectedHeader.typ ?? '').toLowerCase();
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt')
      throw invalidToken('the token is not an access token (`typ` must be `at+jwt`)');
    if (!protectedHeader.alg || !TOKEN_ALGS.has(protectedHeader.alg))
      throw invalidToken(`access token algorithm \`${String(protectedHeader.alg)}\` is not accepted`);
    if (typeof protectedHeader.kid !== 'string') throw invalidToken('the access token has no `kid`');
    const key = await this.keyFor(protectedHeader.kid);
    if (!key) throw invalidToken('the access token was signed by an unknown key');
    if (key.alg !== protectedHeader.alg || !verifyJwsSignature(token, key.alg, key.key)) {
      throw invalidToken('the access token signature does not verify');
    }
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, claims);
    return { claims };
  }

  /**
   * Checks the token; throws {@link GatewayError} with the RFC 6750 / 9449 code
   * when anything is wrong with it. A DPoP proof is parsed at once (header,
   * `typ`, `alg`, `jwk`) and its signature left to libuv's thread pool; its
   * claims (`htm`, `htu`, `iat`, `jti`, `ath`, nonce) are checked once the
   * signature verified. `caller` is what the token says (its `proof` not yet
   * known); `proven` settles with the caller and its proof, or rejects with a
   * {@link GatewayError}. The gateway may work out an answer meanwhile (a
   * policy decision) but must neither act on the request nor answer it until
   * `proven` resolved.
   */
  async begin(
    request: PresentedRequest,
  ): Promise<{ readonly caller: VerifiedCaller; readonly proven: Promise<VerifiedCaller> | null }> {
    const header = request.authorization;
    if (!header) throw new GatewayError('token_required', 'an access token is required');
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match)
      throw new GatewayError(
        'invalid_request',
        'the `Authorization` header must be `Bearer <token>` or `DPoP <token>`',
      );
    const scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2] as string;
    const claims = this.verified.get(token) ?? (await this.checkSignature(token)).claims;
    // from here on the token is one Custos signed: a refusal names whom it was issued to
    // (a refusal once `caller` is returned, a bad proof included, is named by the gateway from `caller`)
    try {
      return await this.checkClaims(request, scheme, token, claims);
    } catch (error) {
      throw presentedBy(error, claims);
    }
  }

  /** The rest of {@link begin}, once the token's signature verified. */
  private async checkClaims(
    request: PresentedRequest,
    scheme: 'DPoP' | 'Bearer',
    token: string,
    claims: JWTPayload,
  ): Promise<{ readonly caller: VerifiedCaller; readonly proven: Promise<VerifiedCaller> | null }> {
    const now = this.deps.clock.now() / 1000;
    const leeway = this.deps.leewaySeconds;
    if (claims.iss !== this.deps.issuer) throw invalidToken('the access token is from another issuer');
    if (typeof claims.exp !== 'number' || claims.exp <= now - leeway)
      throw invalidToken('the access token has expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + leeway))
      throw invalidToken('the access token is not yet valid');
    if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + leeway))
      throw invalidToken('the access token `iat` is in the future');
    const audiences =
      typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.includes(request.resource)) {
      throw invalidToken(
        `the access token is not for this resource (its audience must be \`${request.resource}\`)`,
      );
    }
    if (typeof claims.jti !== 'string' || typeof claims.sub !== 'string')
      throw invalidToken('the access token lacks `jti` or `sub`');

    const cnf = claims.cnf as { jkt?: unknown } | undefined;
    const boundTo = typeof cnf?.jkt === 'string' ? cnf.jkt : null;
    let pending: Promise<VerifiedProof> | null = null;
    if (boundTo) {
      if (scheme !== 'DPoP')
        throw invalidToken(
          'the access token is DPoP-bound: send it as `Authorization: DPoP <token>` with a DPoP proof',
        );
      if (request.dpop.length === 0)
        throw new GatewayError('invalid_dpop_proof', 'a DPoP proof is required with this access token');
      // the proof's header is parsed now; its signature verified on the thread pool (its claims
      // after that) while the token's revocation is looked up
      pending = verifyDpopProof(
        request.dpop,
        { method: request.method, url: request.url, accessToken: token },
        this.deps.dpop,
        this.deps.clock.now(),
        true,
      );
      // handled here so that a caller that gives up before awaiting `proven` leaves no unhandled rejection
      pending.catch(() => undefined);
    } else if (scheme === 'DPoP') {
      throw invalidToken('the access token is not DPoP-bound: send it as `Authorization: Bearer <token>`');
    }

    // a bad proof is the answer rather than what is found wrong with the token after it started
    const { agentId, chain, state } = await this.standing(claims.act, claims.jti, claims.sub).catch(
      async (error: unknown) => {
        if (pending) await this.checkProof(pending, boundTo);
        throw error;
      },
    );
    const caller: VerifiedCaller = {
      agentId,
      onBehalfOf: chain.length > 0 ? claims.sub : null,
      chain,
      consentId: chain.length > 0 ? state.consentId : null,
      consentTools: chain.length > 0 ? state.consentTools : null,
      restricted: state.restricted,
      tokenId: claims.jti,
      jkt: boundTo,
      proof: null,
      scopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s !== '') : [],
      claims,
    };
    const proven = pending && this.proven(caller, pending);
    proven?.catch(() => undefined); // (as `pending`: awaited by the caller, or abandoned)
    return { caller, proven };
  }

  /** Whom the token names (the last agent of its `act` chain, or its subject), and that it is still active. */
  private async standing(act: unknown, jti: string, sub: string) {
    const chain = actChain(act);
    if (chain === null) throw invalidToken('the access token has a malformed `act` claim');
    const agentId = chain.at(-1) ?? sub;
    if (!AGENT_ID.test(agentId)) throw invalidToken('the access token was not issued to an agent');
    const state = await this.active.check(jti, chain);
    if (!state) throw invalidToken('the access token is unknown to this issuer');
    if (!state.active)
      throw invalidToken(`the access token is no longer active: ${state.reason ?? 'revoked'}`);
    if (state.agentId !== agentId) throw invalidToken('the access token was not issued to this agent');
    if (chain.length > 0 && state.subject !== sub)
      throw invalidToken('the access token does not act for the person it names');
    return { agentId, chain, state };
  }

  /** A started proof's verdict, and that it is signed by the key the token is bound to. */
  private async checkProof(pending: Promise<VerifiedProof>, boundTo: string | null): Promise<VerifiedProof> {
    let verified: VerifiedProof;
    try {
      verified = await pending;
    } catch (error) {
      if (error instanceof OAuthError) {
        throw new GatewayError(
          error.error === 'use_dpop_nonce' ? 'use_dpop_nonce' : 'invalid_dpop_proof',
          error.description,
          error.headers,
          { cause: error },
        );
      }
      throw error;
    }
    if (verified.jkt !== boundTo)
      throw new GatewayError(
        'invalid_dpop_proof',
        'the DPoP proof is signed by another key than the one the token is bound to',
      );
    return verified;
  }

  /** The caller once its proof checked out and was used for the first time. */
  private async proven(caller: VerifiedCaller, pending: Promise<VerifiedProof>): Promise<VerifiedCaller> {
    const verified = await this.checkProof(pending, caller.jkt);
    if (!this.replay.claim(`${verified.jkt} ${verified.jti}`, this.deps.clock.now())) {
      throw new GatewayError('invalid_dpop_proof', 'the DPoP proof has already been used');
    }
    return Object.assign({}, caller, { proof: { jti: verified.jti, iat: verified.iat } });
  }
}
