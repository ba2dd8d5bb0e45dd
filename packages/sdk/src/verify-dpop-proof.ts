import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
} from 'jose';
import { accessTokenHash, toHtu } from './dpop-claims.js';
import type { CustosSdkError } from './errors.js';
import { describeJoseError, normalizeTyp } from './jose-errors.js';
import type { ReplayCache } from './replay-cache.js';
import { verificationError } from './www-authenticate.js';

/** One DPoP proof to check against the request and the token it accompanies. */
export interface DpopProofCheck {
  readonly proof: string;
  /** HTTP method of the request, as received. */
  readonly method: string;
  /** Absolute URL of the request. */
  readonly url: string;
  /** The access token the request presents (for `ath`). */
  readonly accessToken: string;
  /** `cnf.jkt` of that (already verified) access token. */
  readonly jkt: string;
  /** Asymmetric algorithms accepted for the proof. */
  readonly algorithms: readonly string[];
  /** Current time in milliseconds since the epoch. */
  readonly now: number;
  readonly clockToleranceSeconds: number;
  readonly maxAgeSeconds: number;
  readonly replayCache: ReplayCache;
}

// RFC 7517/7518 private and symmetric members: none may appear in a proof's `jwk`
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const PUBLIC_MEMBERS = new Map<unknown, readonly string[]>([
  ['EC', ['crv', 'x', 'y']],
  ['OKP', ['crv', 'x']],
  ['RSA', ['e', 'n']],
]);
const MAX_JTI_LENGTH = 512;
const MAX_CACHED_KEYS = 1000;

interface KnownProofKey {
  readonly thumbprint: string;
  /** Imported `CryptoKey` per `alg` (an RSA key may serve RS256 and PS256). */
  readonly imported: Map<string, CryptoKey>;
}

// Proof keys already seen bound to a verified access token, by their key-defining
// members: a hit skips the thumbprint digest and the import. Only keys whose
// thumbprint matched an authenticated `cnf.jkt` are added, so outsiders cannot flood it
const knownKeys = new Map<string, KnownProofKey>();

function invalid(message: string, algs: readonly string[], cause?: unknown): CustosSdkError {
  return verificationError('invalid_dpop_proof', message, { scheme: 'DPoP', algs }, cause);
}

function publicJwk(header: Record<string, unknown>, algs: readonly string[]): JWK {
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw invalid('dpop proof lacks a `jwk`', algs);
  }
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(members, m))) {
    throw invalid('dpop proof `jwk` contains private key members', algs);
  }
  const kty = members.kty;
  const required = PUBLIC_MEMBERS.get(kty);
  if (!required) throw invalid('dpop proof `jwk` is not an asymmetric public key', algs);
  // only the key-defining members: `alg`, `key_ops`, `ext` from the sender are ignored
  const out: Record<string, unknown> = { kty };
  for (const m of required) {
    if (!Object.hasOwn(members, m) || typeof members[m] !== 'string') {
      throw invalid(`dpop proof \`jwk\` lacks \`${m}\``, algs);
    }
    out[m] = members[m];
  }
  return out as JWK;
}

function remember(id: string, thumbprint: string): KnownProofKey {
  if (knownKeys.size >= MAX_CACHED_KEYS) {
    const oldest = knownKeys.keys().next();
    if (!oldest.done) knownKeys.delete(oldest.value);
  }
  const known = { thumbprint, imported: new Map<string, CryptoKey>() };
  knownKeys.set(id, known);
  return known;
}

async function importProofKey(
  jwk: JWK,
  known: KnownProofKey,
  alg: string,
  algs: readonly string[],
): Promise<CryptoKey> {
  const cached = known.imported.get(alg);
  if (cached) return cached;
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(jwk, alg);
  } catch (cause) {
    throw invalid('dpop proof `jwk` does not fit its `alg`', algs, cause);
  }
  if (key instanceof Uint8Array) throw invalid('dpop proof `jwk` is not an asymmetric public key', algs);
  known.imported.set(alg, key);
  return key;
}

/**
 * Verifies a DPoP proof per RFC 9449 §4.3 for a request carrying a DPoP-bound
 * access token: `typ` is `dpop+jwt`; `alg` is in the asymmetric allow-list; the
 * embedded `jwk` is a public key (no private members) whose RFC 7638 thumbprint
 * equals the token's `cnf.jkt`; the signature verifies with it; `htm` equals the
 * method; `htu` equals the URL without query and fragment; `iat` is at most
 * `maxAgeSeconds` old and not in the future (both ± tolerance); `ath` is the
 * token's hash; and `jti` was not seen before. The `jti` is recorded only after
 * every other check passed, so a rejected proof burns nothing. A proof key's
 * thumbprint and import are computed once per process (up to 1000 keys).
 *
 * @throws {CustosSdkError} `invalid_dpop_proof` (401, DPoP challenge) on any
 *   failed check; errors of the replay cache are rethrown unchanged.
 */
export async function verifyDpopProof(check: DpopProofCheck): Promise<void> {
  const algs = check.algorithms;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(check.proof);
  } catch (cause) {
    throw invalid('dpop proof is malformed', algs, cause);
  }
  if (normalizeTyp(header.typ) !== 'dpop+jwt') throw invalid('dpop proof `typ` is not `dpop+jwt`', algs);
  const alg = header.alg;
  if (typeof alg !== 'string' || !algs.includes(alg)) {
    throw invalid('dpop proof algorithm is not allowed', algs);
  }
  const jwk = publicJwk(header, algs);
  const id = JSON.stringify(jwk);
  let known = knownKeys.get(id);
  let thumbprint = known?.thumbprint;
  if (thumbprint === undefined) {
    try {
      thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    } catch (cause) {
      throw invalid('dpop proof `jwk` is invalid', algs, cause);
    }
  }
  if (thumbprint !== check.jkt) throw invalid('dpop proof key does not match the token binding', algs);
  known ??= remember(id, thumbprint);
  const key = await importProofKey(jwk, known, alg, algs);

  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(check.proof, key, {
      typ: 'dpop+jwt',
      algorithms: [alg],
      currentDate: new Date(check.now),
      clockTolerance: check.clockToleranceSeconds,
      maxTokenAge: check.maxAgeSeconds,
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    }));
  } catch (cause) {
    throw invalid(describeJoseError('dpop proof', cause), algs, cause);
  }
  const { jti, htm, htu, ath, iat } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
    throw invalid('dpop proof `jti` is invalid', algs);
  }
  if (htm !== check.method) throw invalid('dpop proof `htm` does not match the request method', algs);
  if (typeof htu !== 'string' || !URL.canParse(htu) || toHtu(htu) !== toHtu(check.url)) {
    throw invalid('dpop proof `htu` does not match the request url', algs);
  }
  if (ath === undefined) throw invalid('dpop proof lacks `ath`', algs);
  if (ath !== accessTokenHash(check.accessToken)) {
    throw invalid('dpop proof `ath` does not match the token', algs);
  }
  const expiresAtMs = ((iat as number) + check.maxAgeSeconds + check.clockToleranceSeconds) * 1000;
  if (!(await check.replayCache.checkAndStore(`dpop:${thumbprint}:${jti}`, expiresAtMs))) {
    throw invalid('dpop proof `jti` was already used', algs);
  }
}
