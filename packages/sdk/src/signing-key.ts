import type { KeyObject } from 'node:crypto';
import { type CryptoKey, importJWK, type JWK } from 'jose';

/** Signature algorithms an agent key may use for `private_key_jwt`. */
export type AgentKeyAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256';

/** The private key forms accepted by `createAgentClient`. */
export type AgentPrivateKey = JWK | CryptoKey | KeyObject;

/** A private key ready for jose's signers, with its algorithm and key id. */
export interface SigningKey {
  readonly key: CryptoKey | KeyObject;
  readonly alg: AgentKeyAlgorithm;
  readonly kid: string;
}

const ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

function isAgentKeyAlgorithm(value: unknown): value is AgentKeyAlgorithm {
  return typeof value === 'string' && ALGORITHMS.includes(value);
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return Object.prototype.toString.call(value) === '[object CryptoKey]';
}

function isKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.toString.call(value) === '[object KeyObject]'
  );
}

function algFromCurve(curve: string | undefined): AgentKeyAlgorithm | undefined {
  if (curve === 'P-256' || curve === 'prime256v1') return 'ES256';
  if (curve === 'P-384' || curve === 'secp384r1') return 'ES384';
  if (curve === 'Ed25519') return 'EdDSA';
  return undefined;
}

function inferAlg(key: AgentPrivateKey): AgentKeyAlgorithm | undefined {
  if (isCryptoKey(key)) {
    const algorithm = key.algorithm as { name: string; namedCurve?: string };
    if (algorithm.name === 'ECDSA') return algFromCurve(algorithm.namedCurve);
    if (algorithm.name === 'Ed25519') return 'EdDSA';
    if (algorithm.name === 'RSASSA-PKCS1-v1_5') return 'RS256';
    if (algorithm.name === 'RSA-PSS') return 'PS256';
    return undefined;
  }
  if (isKeyObject(key)) {
    if (key.asymmetricKeyType === 'ec') return algFromCurve(key.asymmetricKeyDetails?.namedCurve);
    if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
    if (key.asymmetricKeyType === 'rsa') return 'RS256';
    if (key.asymmetricKeyType === 'rsa-pss') return 'PS256';
    return undefined;
  }
  if (isAgentKeyAlgorithm(key.alg)) return key.alg;
  if (key.kty === 'EC' || key.kty === 'OKP') return algFromCurve(key.crv);
  if (key.kty === 'RSA') return 'RS256';
  return undefined;
}

/**
 * Resolves the agent's private key once: picks the algorithm (`alg` argument,
 * else the JWK's `alg`, else inferred from the key type; RSA keys default to
 * RS256) and the key id (`kid` argument, else the JWK's `kid`), and imports a JWK
 * as a non-extractable `CryptoKey`.
 *
 * @throws {TypeError} when the key is not a private key of a supported type, the
 *   algorithm is not allowed, or no key id is known.
 */
export async function resolveSigningKey(
  privateKey: AgentPrivateKey,
  alg: string | undefined,
  kid: string | undefined,
): Promise<SigningKey> {
  const chosenAlg = alg ?? inferAlg(privateKey);
  if (!isAgentKeyAlgorithm(chosenAlg)) {
    throw new TypeError(`unsupported private key algorithm \`${String(chosenAlg)}\``);
  }
  if (isCryptoKey(privateKey) || isKeyObject(privateKey)) {
    if (privateKey.type !== 'private') throw new TypeError('`privateKey` must be a private key');
    if (!kid) throw new TypeError('`privateKeyId` is required when `privateKey` is not a jwk');
    return { key: privateKey, alg: chosenAlg, kid };
  }
  if (typeof privateKey.d !== 'string') throw new TypeError('`privateKey` jwk has no private member `d`');
  const chosenKid = kid ?? privateKey.kid;
  if (!chosenKid) throw new TypeError('`privateKey` jwk has no `kid`: pass `privateKeyId`');
  const imported = await importJWK({ ...privateKey, ext: false }, chosenAlg, { extractable: false });
  if (!isCryptoKey(imported)) throw new TypeError('`privateKey` must be an asymmetric jwk');
  return { key: imported, alg: chosenAlg, kid: chosenKid };
}
