import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { toHtu } from './dpop-claims.js';
import { createDpopKey, createDpopProof } from './dpop-proof.js';

describe('dpop proof', () => {
  it('is a dpop+jwt signed by the embedded public key, with htm, htu, iat, jti, ath and nonce', async () => {
    const key = await createDpopKey();
    const now = Date.now();
    const proof = await createDpopProof(key, {
      method: 'patch',
      url: 'HTTPS://API.Example:443/a/b?q=1#frag',
      accessToken: 'token-value',
      nonce: 'n-1',
      now,
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.deepEqual(Object.keys(protectedHeader.jwk ?? {}).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk ?? {}), key.thumbprint);
    assert.deepEqual(
      { ...payload, jti: undefined },
      {
        jti: undefined,
        htm: 'PATCH',
        htu: 'https://api.example/a/b',
        iat: Math.floor(now / 1000),
        ath: createHash('sha256').update('token-value').digest('base64url'),
        nonce: 'n-1',
      },
    );
    assert.match(payload.jti as string, /^[A-Za-z0-9_-]{22}$/);
  });

  it('never repeats a jti and keeps the private key non-extractable', async () => {
    const key = await createDpopKey();
    const input = { method: 'GET', url: 'https://a.example/', now: Date.now() };
    const [a, b] = await Promise.all([createDpopProof(key, input), createDpopProof(key, input)]);
    const jtiOf = async (p: string) => (await jwtVerify(p, EmbeddedJWK)).payload.jti;
    assert.notEqual(await jtiOf(a), await jtiOf(b));
    assert.equal(key.privateKey.extractable, false);
  });

  it('normalises htu: no query, fragment or default port', () => {
    assert.equal(toHtu('https://a.example:443/x?y#z'), 'https://a.example/x');
    assert.equal(toHtu('http://a.example:8080'), 'http://a.example:8080/');
    assert.throws(() => toHtu('/relative'), TypeError);
  });
});
