import {
  constants,
  createHash,
  type KeyObject,
  KeyObject as KeyObjectClass,
  type VerifyKeyObjectInput,
  verify,
} from 'node:crypto';

/** How node:crypto verifies each allowed JWS algorithm (RFC 7518 §3). */
const PARAMS: Readonly<
  Record<
    string,
    { hash: string | null; keys: readonly string[]; curve?: string; dsa?: 'ieee-p1363'; pss?: number }
  >
> = {
  ES256: { hash: 'sha256', keys: ['ec'], curve: 'prime256v1', dsa: 'ieee-p1363' },
  ES384: { hash: 'sha384', keys: ['ec'], curve: 'secp384r1', dsa: 'ieee-p1363' },
  ES512: { hash: 'sha512', keys: ['ec'], curve: 'secp521r1', dsa: 'ieee-p1363' },
  EdDSA: { hash: null, keys: ['ed25519', 'ed448'] },
  Ed25519: { hash: null, keys: ['ed25519'] },
  RS256: { hash: 'sha256', keys: ['rsa'] },
  RS384: { hash: 'sha384', keys: ['rsa'] },
  RS512: { hash: 'sha512', keys: ['rsa'] },
  PS256: { hash: 'sha256', keys: ['rsa', 'rsa-pss'], pss: 32 },
  PS384: { hash: 'sha384', keys: ['rsa', 'rsa-pss'], pss: 48 },
  PS512: { hash: 'sha512', keys: ['rsa', 'rsa-pss'], pss: 64 },
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

/** The arguments of node:crypto's `verify` for a JWS, or null when the key cannot verify `alg`. */
function verifyArguments(
  token: string,
  alg: string,
  key: KeyObject,
): [string | null, Buffer, VerifyKeyObjectInput, Buffer] | null {
  const params = Object.hasOwn(PARAMS, alg) ? PARAMS[alg] : undefined; // not `constructor`, `toString`…
  const dot = token.lastIndexOf('.');
  if (!params || dot < 0 || key.type !== 'public') return null;
  // INVARIANT: the key fits the algorithm; otherwise e.g. an RSA key would verify an `ES256` token
  if (!params.keys.includes(key.asymmetricKeyType ?? '')) return null;
  if (params.curve && key.asymmetricKeyDetails?.namedCurve !== params.curve) return null;
  return [
    params.hash,
    Buffer.from(token.slice(0, dot)),
    {
      key,
      ...(params.dsa ? { dsaEncoding: params.dsa } : {}),
      ...(params.pss ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.pss } : {}),
    },
    Buffer.from(token.slice(dot + 1), 'base64url'),
  ];
}

/**
 * Checks the signature of a compact JWS whose header jose has already parsed
 * and whose key jose has already selected and imported. This is the one step
 * done with node:crypto directly: it verifies synchronously at the raw cost,
 * where WebCrypto's async dispatch costs about twice as much. Returns false for
 * any mismatch, unknown algorithm or malformed signature.
 */
export function verifyJwsSignature(token: string, alg: string, key: KeyObject): boolean {
  const args = verifyArguments(token, alg, key);
  if (!args) return false;
  try {
    return verify(...args);
  } catch {
    return false;
  }
}

/**
 * `verifyJwsSignature` on libuv's thread pool: the same checks, but the
 * signature math runs off the calling thread (≈ 20 µs of it instead of ≈ 110
 * for ES256), for servers whose event loop is the bottleneck under load. At a
 * single request in flight it is slower end to end than the synchronous form
 * (the hand-off), so it is for throughput paths, not latency paths.
 */
export function verifyJwsSignatureOffThread(token: string, alg: string, key: KeyObject): Promise<boolean> {
  const args = verifyArguments(token, alg, key);
  if (!args) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(...args, (error, ok) => resolve(!error && ok));
    } catch {
      resolve(false);
    }
  });
}

const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, synchronously (jose's is
 * async through WebCrypto). Returns null for a key type without a defined
 * member set or with a missing member.
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | null {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)];
  if (!members) return null;
  const canonical: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string') return null;
    canonical[member] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}
