import { randomBytes } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { accessTokenHash, toHtu } from './dpop-claims.js';

/** A DPoP key pair: the private half never leaves the process. */
export interface DpopKey {
  readonly privateKey: CryptoKey;
  /** Public JWK embedded in every proof (`kty`, `crv`, `x`, `y` only). */
  readonly publicJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` of bound tokens. */
  readonly thumbprint: string;
}

/** Input of {@link createDpopProof}. */
export interface DpopProofInput {
  /** HTTP method of the request; sent uppercase. */
  readonly method: string;
  /** Request URL; query and fragment are dropped for `htu`. */
  readonly url: string | URL;
  /** The access token the request carries; adds `ath`. */
  readonly accessToken?: string;
  /** The latest `DPoP-Nonce` the receiving server handed out. */
  readonly nonce?: string;
  /** Current time in milliseconds since the epoch. */
  readonly now: number;
}

/**
 * Generates a fresh ES256 DPoP key pair whose private key is non-extractable.
 * Call once per client: every token bound to it is useless without it.
 */
export async function createDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const publicJwk: JWK = { kty, crv, x, y };
  return { privateKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/**
 * Signs one RFC 9449 DPoP proof: header `{ typ: 'dpop+jwt', alg: 'ES256', jwk }`,
 * claims `jti` (128 random bits), `htm`, `htu`, `iat`, and `ath` / `nonce` when
 * given. Each call yields a new `jti`: never reuse a proof.
 *
 * @throws {TypeError} when `url` is not absolute.
 */
export function createDpopProof(key: DpopKey, input: DpopProofInput): Promise<string> {
  const claims: Record<string, string> = {
    jti: randomBytes(16).toString('base64url'),
    htm: input.method.toUpperCase(),
    htu: toHtu(input.url),
  };
  if (input.accessToken !== undefined) claims.ath = accessTokenHash(input.accessToken);
  if (input.nonce !== undefined) claims.nonce = input.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk })
    .setIssuedAt(Math.floor(input.now / 1000))
    .sign(key.privateKey);
}
