import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './signing-key.js';

/** Lifetime of a client assertion, in seconds (the contract fixes `exp = iat + 60`). */
export const CLIENT_ASSERTION_LIFETIME_SECONDS = 60;

/** Input of {@link createClientAssertion}. */
export interface ClientAssertionInput {
  /** The agent id: both `iss` and `sub`. */
  readonly agentId: string;
  /** The authorization server's issuer identifier, exactly as in its metadata. */
  readonly audience: string;
  readonly signingKey: SigningKey;
  /** Current time in milliseconds since the epoch. */
  readonly now: number;
}

/**
 * Signs an RFC 7523 `private_key_jwt` client assertion: header
 * `{ alg, kid, typ: 'JWT' }`, claims `iss = sub = agentId`, `aud`, `iat`,
 * `exp = iat + 60` and a fresh 128-bit random `jti`, so every assertion is single-use.
 *
 * @throws {TypeError} (from jose) when the key does not fit its algorithm.
 */
export function createClientAssertion(input: ClientAssertionInput): Promise<string> {
  const iat = Math.floor(input.now / 1000);
  const { key, alg, kid } = input.signingKey;
  return new SignJWT({})
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(input.agentId)
    .setSubject(input.agentId)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + CLIENT_ASSERTION_LIFETIME_SECONDS)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key);
}
