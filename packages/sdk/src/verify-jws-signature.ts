import { constants, type KeyObject, KeyObject as KeyObjectClass, verify } from 'node:crypto';

/** How node:crypto verifies each allowed JWS algorithm (RFC 7518 §3). */
const PARAMS: Readonly<Record<string, { hash: string | null; dsa?: 'ieee-p1363'; pss?: number }>> = {
  ES256: { hash: 'sha256', dsa: 'ieee-p1363' },
  ES384: { hash: 'sha384', dsa: 'ieee-p1363' },
  ES512: { hash: 'sha512', dsa: 'ieee-p1363' },
  EdDSA: { hash: null },
  Ed25519: { hash: null },
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pss: 32 },
  PS384: { hash: 'sha384', pss: 48 },
  PS512: { hash: 'sha512', pss: 64 },
};

const keyObjects = new WeakMap<object, KeyObject>();

/** The node:crypto key object of a key jose imported (converted once, then cached). */
export function keyObjectOf(key: object): KeyObject {
  if (key instanceof KeyObjectClass) return key;
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = KeyObjectClass.from(key as Parameters<typeof KeyObjectClass.from>[0]);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/**
 * Checks the signature of a compact JWS whose header jose has already parsed
 * and whose key jose has already selected and imported. This is the one step
 * done with node:crypto directly: it verifies synchronously at the raw cost,
 * where WebCrypto's async dispatch costs about twice as much. Returns false for
 * any mismatch, unknown algorithm or malformed signature.
 */
export function verifyJwsSignature(token: string, alg: string, key: KeyObject): boolean {
  const params = PARAMS[alg];
  const dot = token.lastIndexOf('.');
  if (!params || dot < 0) return false;
  const data = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  try {
    return verify(
      params.hash,
      data,
      {
        key,
        ...(params.dsa ? { dsaEncoding: params.dsa } : {}),
        ...(params.pss ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.pss } : {}),
      },
      signature,
    );
  } catch {
    return false;
  }
}
