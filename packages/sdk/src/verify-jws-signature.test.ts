import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  jwkThumbprint,
  keyObjectOf,
  verifyJwsSignature,
  verifyJwsSignatureOffThread,
} from './verify-jws-signature.js';

describe('verifyJwsSignature / jwkThumbprint', () => {
  for (const alg of ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const) {
    it(`verifies ${alg} signatures made by jose and refuses any change`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const token = await new SignJWT({ a: 1 }).setProtectedHeader({ alg }).sign(privateKey);
      const key = keyObjectOf(publicKey);
      assert.equal(verifyJwsSignature(token, alg, key), true);
      assert.equal(verifyJwsSignature(token, 'HS256', key), false);
      for (const inherited of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        assert.equal(verifyJwsSignature(token, inherited, key), false, inherited);
        assert.equal(await verifyJwsSignatureOffThread(token, inherited, key), false, inherited);
      }
      const other = alg === 'ES256' ? 'ES384' : 'ES256';
      assert.equal(verifyJwsSignature(token, other, key), false);
      const dot = token.lastIndexOf('.');
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, flip) => {
          const sig = Buffer.from(token.slice(dot + 1), 'base64url');
          const i = pos % sig.length;
          sig[i] = (sig[i] as number) ^ flip;
          return !verifyJwsSignature(`${token.slice(0, dot)}.${sig.toString('base64url')}`, alg, key);
        }),
        { numRuns: 50 },
      );
      assert.equal(verifyJwsSignature(`${token.slice(0, 10)}x${token.slice(11)}`, alg, key), false);
      // the thread-pool form gives the same answers
      assert.equal(await verifyJwsSignatureOffThread(token, alg, key), true);
      assert.equal(await verifyJwsSignatureOffThread(token, 'HS256', key), false);
      assert.equal(await verifyJwsSignatureOffThread(token, other, key), false);
      assert.equal(
        await verifyJwsSignatureOffThread(`${token.slice(0, 10)}x${token.slice(11)}`, alg, key),
        false,
      );
      const sig = Buffer.from(token.slice(dot + 1), 'base64url');
      sig[0] = (sig[0] as number) ^ 1;
      assert.equal(
        await verifyJwsSignatureOffThread(`${token.slice(0, dot)}.${sig.toString('base64url')}`, alg, key),
        false,
      );
      assert.equal(await verifyJwsSignatureOffThread(`${token.slice(0, dot)}.!!`, alg, key), false);
      const jwk = await exportJWK(publicKey);
      assert.equal(jwkThumbprint(jwk as Record<string, unknown>), await calculateJwkThumbprint(jwk));
    });
  }

  it('has no thumbprint for unknown or incomplete keys', () => {
    assert.equal(jwkThumbprint({ kty: 'oct', k: 'x' }), null);
    assert.equal(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'a' }), null);
  });
});
