import { type CryptoKey, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import type { IssuedTokenRecord } from '../storage/index.js';
import { actChain } from './act-chain.js';
import type { OAuthDeps } from './deps.js';

export interface ActiveToken {
  readonly claims: JWTPayload;
  readonly record: IssuedTokenRecord;
}

const keyCache = new Map<string, CryptoKey | Uint8Array>();

/**
 * Decides whether a token Custos issued is active right now: its signature
 * verifies with a published key, it is an `at+jwt` from this issuer and not
 * expired, it was recorded at issuance and not revoked, its agent is active and
 * unexpired, and the credential it was obtained with (agent key or federated
 * issuer) still stands. Any doubt answers null (inactive).
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
  if (!record || record.revokedAt !== null) return null;
  const now = deps.clock.now();
  const agent = await deps.store.agents.get(record.agentId);
  if (agent?.status !== 'active' || agent.expiresAt <= now) return null;
  const [kind, ref] = record.credential.split(/:(.*)/s) as [string, string];
  if (kind === 'key') {
    const key = await deps.store.agentKeys.get(record.agentId, ref);
    if (!key || key.revokedAt !== null) return null;
  } else if (kind === 'federation') {
    const issuers = await deps.store.federatedIssuers.list();
    if (!issuers.some((i) => i.id === ref)) return null;
  }
  if (record.subject) {
    // delegated: the person, the consent and every agent of the chain must still stand
    const person = await deps.store.users.get(record.subject);
    if (person?.status !== 'active' || claims.sub !== record.subject) return null;
    const consent = record.consentId ? await deps.store.consents.get(record.consentId) : null;
    if (!consent || consent.revokedAt !== null || consent.expiresAt <= now) return null;
    const chain = actChain(claims.act);
    if (!chain || chain.at(-1) !== record.agentId) return null;
    for (const id of chain.slice(0, -1)) {
      const other = await deps.store.agents.get(id);
      if (other?.status !== 'active' || other.expiresAt <= now) return null;
    }
  }
  return { claims, record };
}
