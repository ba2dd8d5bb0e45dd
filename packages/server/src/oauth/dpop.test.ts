import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { normalizeHtu, verifyDpopProof } from './dpop.js';
import { OAuthError } from './oauth-error.js';

const URL_ = 'https://custos.example.com/mcp/files';
const settings = { maxAgeSeconds: 60, leewaySeconds: 5, nonces: null };

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

/** A proof with `jwk` in its header, signed by `signer` (the same key unless forged). */
function proof(jwk: JWK, signer: CryptoKey, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ htm: 'POST', htu: URL_, jti: randomBytes(12).toString('base64url'), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .sign(signer);
}

const refusal = (description: RegExp) => (error: unknown) =>
  error instanceof OAuthError && error.error === 'invalid_dpop_proof' && description.test(error.description);

describe('DPoP proof headers checked once per header text', () => {
  it('still checks every proof’s signature and claims once its header is known', async () => {
    const agent = await keyPair();
    const stranger = await keyPair();
    const verify = (text: string, offThread = false) =>
      verifyDpopProof([text], { method: 'POST', url: URL_ }, settings, Date.now(), offThread);
    const good = await proof(agent.jwk, agent.privateKey);
    assert.equal((await verify(good)).jti.length > 8, true);
    // the same header text, signed by another key: refused, on the event loop and off it
    const forged = await proof(agent.jwk, stranger.privateKey);
    assert.equal(forged.split('.')[0], good.split('.')[0]);
    await assert.rejects(verify(forged), refusal(/signature does not verify/));
    await assert.rejects(verify(forged, true), refusal(/signature does not verify/));
    // a known header with a wrong claim, and with its signature cut off
    await assert.rejects(verify(await proof(agent.jwk, agent.privateKey, { htm: 'GET' })), refusal(/`htm`/));
    const [head, payload] = good.split('.');
    await assert.rejects(verify(`${head}.${payload}`), refusal(/not a JWT/));
    await assert.rejects(verify(head as string), refusal(/not a JWT/));
    await assert.rejects(verify(`${good}.more`), refusal(/not a JWT/));
  });

  it('refuses a bad header every time (refusals are not remembered)', async () => {
    const agent = await keyPair();
    const withPrivate = await exportJWK(agent.privateKey);
    const text = await proof(withPrivate, agent.privateKey);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        verifyDpopProof([text], { method: 'POST', url: URL_ }, settings, Date.now()),
        refusal(/must not contain a private key/),
      );
    }
  });

  it('compares `htu` without query and fragment, the same way each time', () => {
    for (let i = 0; i < 2; i++) {
      assert.equal(normalizeHtu('HTTPS://Custos.Example.com/mcp/files?x=1#y'), URL_);
      assert.equal(normalizeHtu('not a url'), null);
    }
  });
});
