import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** A DPoP proof's public key, and a stand-in for its RFC 7638 thumbprint (a SHA-256 of the header). */
export interface ProofKey {
  readonly key: KeyObject;
  readonly jkt: string;
}

const cache = new Map<string, ProofKey>();

/**
 * The key in a compact JWS's own `jwk` header (a DPoP proof), imported once per
 * header, as the floor servers of the benchmarks do it the cheapest way.
 * Throws when the header is not a JSON object with a usable `jwk`.
 */
export function proofKey(jws: string): ProofKey {
  const head = jws.slice(0, jws.indexOf('.'));
  let found = cache.get(head);
  if (!found) {
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { jwk: object };
    found = {
      key: createPublicKey({ key: header.jwk, format: 'jwk' } as Parameters<typeof createPublicKey>[0]),
      jkt: createHash('sha256').update(head).digest('base64url'),
    };
    cache.set(head, found);
  }
  return found;
}
