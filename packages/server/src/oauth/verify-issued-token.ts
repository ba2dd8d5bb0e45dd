import { type CryptoKey, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import type { IssuedTokenRecord } from '../storage/index.js';
import { actChain } from './act-chain.js';
import type { OAuthDeps } from './deps.js';
import { tokenStanding } from './token-standing.js';

export interface ActiveToken {
  readonly claims: JWTPayload;
  readonly record: IssuedTokenRecord;
}

const keyCache = new Map<string, CryptoKey | Uint8Array>();

/**
 * Decides whether a token Custos issued is active right now: its signature
 * verifies with a published key, it is an `at+jwt` from this issuer and not
 * expired, it was recorded at issuance, and what it rests on still stands
 * (`tokenStanding`, unexpired). Any doubt answers null (inactive).
 */
export async function verifyIssuedToken(deps: OAuthDeps, token: string): Promise<ActiveToken | null> {
  let claims: JWTPayload;
  try {
    const header = decodeProtectedHeader(token);
    if (header.typ !== 'at+jwt' || typeof header.kid !== 'string') return null;
    const jwk = (await deps.keys.jwks()).keys.find((k) => k.kid === header.kid);
    if (!jwk) return null;
    let key = keyCache.get(header.kid);
    if (!key) {
      key = await importJWK(jwk as JWK, String(jwk.alg));
      keyCache.set(header.kid, key);
    }
    ({ payload: claims } = await jwtVerify(token, key, {
      issuer: deps.issuer,
      typ: 'at+jwt',
      algorithms: [String(jwk.alg)],
      currentDate: new Date(deps.clock.now()),
    }));
  } catch {
    return null;
  }
  if (typeof claims.jti !== 'string') return null;
  const record = await deps.store.issuedTokens.get(claims.jti);
  if (!record) return null;
  let chain: string[] | null = null;
  if (record.subject) {
    chain = actChain(claims.act);
    if (claims.sub !== record.subject) return null;
  }
  const standing = await tokenStanding(deps.store, record, chain);
  if (!standing.ok || standing.validUntil <= deps.clock.now()) return null;
  return { claims, record };
}
