import { type Clock, randomToken } from '../core/index.js';
import { signCompactJws } from './jws.js';
import type { KeyRing } from './key-ring.js';

export interface AccessTokenInput {
  readonly subject: string;
  readonly clientId: string;
  readonly audience: readonly string[];
  readonly scopes: readonly string[];
  readonly ttlSeconds: number;
  /** RFC 7638 thumbprint of the DPoP key the token is bound to. */
  readonly jkt?: string | undefined;
  /** RFC 8693 actor chain, when delegated. */
  readonly act?: Readonly<Record<string, unknown>> | undefined;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly kid: string;
}

/**
 * Mints a JWT access token per RFC 9068: header `typ: at+jwt` with the active
 * key's `kid`; claims `iss sub aud exp iat jti client_id scope`, plus `cnf.jkt`
 * when DPoP-bound and `act` when delegated. Pure apart from the key ring read.
 */
export async function issueAccessToken(
  deps: { keys: KeyRing; clock: Clock; issuer: string },
  input: AccessTokenInput,
): Promise<IssuedAccessToken> {
  const key = await deps.keys.activeKey();
  const iat = Math.floor(deps.clock.now() / 1000);
  const exp = iat + input.ttlSeconds;
  const jti = randomToken(16);
  const payload: Record<string, unknown> = {
    iss: deps.issuer,
    sub: input.subject,
    aud: input.audience.length === 1 ? input.audience[0] : input.audience,
    exp,
    iat,
    jti,
    client_id: input.clientId,
    ...(input.scopes.length > 0 ? { scope: input.scopes.join(' ') } : {}),
    ...(input.jkt ? { cnf: { jkt: input.jkt } } : {}),
    ...(input.act ? { act: input.act } : {}),
  };
  const token = await signCompactJws(
    { alg: key.alg, typ: 'at+jwt', kid: key.kid },
    payload,
    key.privateKey,
    key.alg,
  );
  return { token, jti, issuedAt: iat * 1000, expiresAt: exp * 1000, kid: key.kid };
}
