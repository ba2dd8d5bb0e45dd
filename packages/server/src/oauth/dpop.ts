import { createHash, createHmac, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { jwkThumbprint, verifyJwsSignature, verifyJwsSignatureOffThread } from '@custos/sdk';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { isSingleUseId } from './jwt-claims.js';
import { OAuthError } from './oauth-error.js';

/** Asymmetric algorithms accepted for DPoP proofs (never `none` or HMAC). */
export const DPOP_ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** Proof keys by RFC 7638 thumbprint: an agent signs every proof with the same key. */
const proofKeys = new Map<string, KeyObject>();
/**
 * Proof headers that checked out, by their exact encoded text: an agent's
 * proofs all carry the same header (`typ`, `alg`, `jwk`), and the same text
 * decodes the same way, so it is parsed, checked and thumbprinted once.
 */
const checkedHeaders = new Map<string, CheckedHeader>();
/** `htu` values as compared, by their text (a client sends the same few URLs). */
const normalizedUrls = new Map<string, string | null>();
const CACHE_LIMIT = 10_000;
/** Longer header and URL texts are checked each time, not remembered (an ES256 header is ≈ 250 characters). */
const MAX_CACHED_TEXT = 1024;

export interface DpopSettings {
  readonly maxAgeSeconds: number;
  readonly leewaySeconds: number;
  /** When set, proofs must carry a nonce from {@link DpopNonces}. */
  readonly nonces: DpopNonces | null;
}

/** A verified proof: the key thumbprint to bind to, and the jti to burn (replay check). */
export interface VerifiedProof {
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

const invalid = (description: string, cause?: unknown) =>
  new OAuthError('invalid_dpop_proof', description, {}, cause === undefined ? undefined : { cause });

/** `htu` comparison ignores query and fragment (RFC 9449 §4.3 item 9). */
export function normalizeHtu(url: string): string | null {
  const known = normalizedUrls.get(url);
  if (known !== undefined) return known;
  let normalized: string | null;
  try {
    const u = new URL(url);
    normalized = `${u.protocol}//${u.host.toLowerCase()}${u.pathname}`;
  } catch {
    normalized = null;
  }
  if (url.length <= MAX_CACHED_TEXT) {
    if (normalizedUrls.size >= CACHE_LIMIT) normalizedUrls.clear();
    normalizedUrls.set(url, normalized);
  }
  return normalized;
}

/**
 * Stateless server nonces (RFC 9449 §8): an HMAC of the current time window, so
 * every node sharing the master key issues and accepts the same nonces without
 * storing them. A nonce is accepted in its window and the one before.
 */
export class DpopNonces {
  constructor(
    private readonly key: Buffer,
    private readonly windowMs = 60_000,
  ) {}
  private at(window: number): string {
    return createHmac('sha256', this.key).update(`dpop-nonce:${window}`).digest('base64url').slice(0, 32);
  }
  current(nowMs: number): string {
    return this.at(Math.floor(nowMs / this.windowMs));
  }
  accepts(nonce: unknown, nowMs: number): boolean {
    const w = Math.floor(nowMs / this.windowMs);
    return typeof nonce === 'string' && (nonce === this.at(w) || nonce === this.at(w - 1));
  }
}

/** A proof header that checked out: its `alg`, its key, and the key's thumbprint. */
interface CheckedHeader {
  readonly alg: string;
  readonly key: KeyObject;
  readonly jkt: string;
}

/**
 * The proof's header checked (`typ`, an allowed `alg`, a public `jwk`); `text`
 * is its encoded form to remember once the proof's signature verified (null:
 * remembered already, or not to be).
 */
function checkedHeader(proof: string): { readonly checked: CheckedHeader; readonly text: string | null } {
  const dot = proof.indexOf('.');
  const second = dot > 0 ? proof.indexOf('.', dot + 1) : -1;
  // a compact JWS (three parts) with a header of a usual size only: what decodeProtectedHeader
  // would refuse is never looked up, and the cache's memory stays small
  const text =
    second > dot && proof.indexOf('.', second + 1) < 0 && dot <= MAX_CACHED_TEXT ? proof.slice(0, dot) : null;
  const known = text === null ? undefined : checkedHeaders.get(text);
  if (known) return { checked: known, text: null };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (error) {
    throw invalid('DPoP proof is not a JWT', error);
  }
  if (header.typ !== 'dpop+jwt') throw invalid('DPoP proof `typ` must be `dpop+jwt`');
  if (!header.alg || !(DPOP_ALGS as readonly string[]).includes(header.alg)) {
    throw invalid(`DPoP proof algorithm \`${String(header.alg)}\` is not allowed`);
  }
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (!jwk || typeof jwk !== 'object') throw invalid('DPoP proof has no `jwk` header');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalid('DPoP proof `jwk` must not contain a private key');
  const jkt = jwkThumbprint(jwk);
  if (jkt === null) throw invalid('DPoP proof `jwk` is not a supported public key');
  let key = proofKeys.get(jkt);
  if (!key) {
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (error) {
      throw invalid('DPoP proof `jwk` is not a valid public key', error);
    }
    if (proofKeys.size > CACHE_LIMIT) proofKeys.clear();
    proofKeys.set(jkt, key);
  }
  return { checked: { alg: header.alg, key, jkt }, text };
}

/** Remembers a header that checked out, once a proof carrying it verified. */
function rememberHeader(text: string, checked: CheckedHeader): void {
  if (checkedHeaders.size >= CACHE_LIMIT) checkedHeaders.clear();
  checkedHeaders.set(text, checked);
}

/**
 * Verifies a DPoP proof per RFC 9449 §4.3 (everything but the jti replay check,
 * which the caller does atomically with what the proof authorizes): exactly one
 * header, `typ: dpop+jwt`, an asymmetric `alg`, a public `jwk` that verifies the
 * signature, `htm`, `htu`, `iat` within the window, a `jti`, the nonce when
 * required, and `ath` when an access token is presented. `offThread` checks the
 * signature on libuv's thread pool (throughput paths such as the token
 * endpoint); otherwise on the calling thread (lowest latency for one request).
 */
export async function verifyDpopProof(
  headerValues: readonly string[],
  request: { method: string; url: string; accessToken?: string },
  settings: DpopSettings,
  nowMs: number,
  offThread = false,
): Promise<VerifiedProof> {
  if (headerValues.length !== 1) throw invalid('exactly one DPoP header is required');
  const proof = headerValues[0] as string;
  if (proof.includes(',') || proof.includes(' ')) throw invalid('exactly one DPoP header is required');
  const { checked, text } = checkedHeader(proof);
  const { alg, key, jkt } = checked;
  // the signature is checked with node:crypto at the raw cost
  const verified = offThread
    ? await verifyJwsSignatureOffThread(proof, alg, key)
    : verifyJwsSignature(proof, alg, key);
  if (!verified) throw invalid('DPoP proof signature does not verify');
  if (text !== null) rememberHeader(text, checked);
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(proof);
  } catch (error) {
    throw invalid('DPoP proof is not a JWT', error);
  }
  if (payload.htm !== request.method) throw invalid('DPoP proof `htm` does not match the request method');
  const htu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : null;
  if (htu === null || htu !== normalizeHtu(request.url))
    throw invalid('DPoP proof `htu` does not match the request URL');
  const iat = payload.iat;
  const now = nowMs / 1000;
  if (
    typeof iat !== 'number' ||
    iat > now + settings.leewaySeconds ||
    iat < now - settings.maxAgeSeconds - settings.leewaySeconds
  ) {
    throw invalid('DPoP proof `iat` is outside the accepted window');
  }
  if (!isSingleUseId(payload.jti)) {
    throw invalid('DPoP proof needs a `jti` of 8 to 256 characters, none a control character');
  }
  if (request.accessToken !== undefined) {
    const ath = createHash('sha256').update(request.accessToken, 'ascii').digest('base64url');
    if (payload.ath === undefined) throw invalid('DPoP proof has no `ath` for the access token');
    if (payload.ath !== ath) throw invalid('DPoP proof `ath` does not match the access token');
  }
  if (settings.nonces && !settings.nonces.accepts(payload.nonce, nowMs)) {
    throw new OAuthError('use_dpop_nonce', 'use the DPoP nonce the server provided', {
      'dpop-nonce': settings.nonces.current(nowMs),
    });
  }
  return { jkt, jti: payload.jti, iat };
}
