import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createAgentClient } from './agent-client.js';
import { CustosSdkError } from './errors.js';
import {
  type FakeAuthorizationServer,
  startFakeAuthorizationServer,
} from './test-support/fake-authorization-server.js';

let now = Date.now();
const clock = () => now;
let as: FakeAuthorizationServer;
let agentJwk: JWK;

async function registerAgent(agentId: string, alg = 'ES256'): Promise<JWK> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${agentId}-key`;
  as.agents.set(agentId, { kid, alg, publicJwk: await exportJWK(publicKey) });
  return { ...(await exportJWK(privateKey)), kid };
}

function client(overrides: Partial<Parameters<typeof createAgentClient>[0]> = {}) {
  return createAgentClient({
    issuer: as.issuer,
    agentId: 'agt_one',
    privateKey: agentJwk,
    clock,
    ...overrides,
  });
}

before(async () => {
  as = await startFakeAuthorizationServer({ clock });
  agentJwk = await registerAgent('agt_one');
});
after(() => as.close());
beforeEach(() => {
  now = Date.now();
  as.tokenRequests.length = 0;
  as.resourceRequests.length = 0;
  as.tokenNonce = undefined;
  as.resourceNonce = undefined;
  as.tokenDelayMs = 0;
  as.refuseWith = undefined;
  as.tokenLifetimeSeconds = 300;
  as.nonceHint = undefined;
});

describe('agent client: token requests', () => {
  it('sends client_credentials with a private_key_jwt assertion and a DPoP proof', async () => {
    const agent = client();
    const token = await agent.getToken({
      scope: 'tools:write tools:read',
      resource: ['https://b.example', 'https://a.example'],
    });
    assert.equal(as.tokenRequests.length, 1);
    const request = as.tokenRequests[0]!;
    assert.equal(request.outcome, 'issued');
    assert.equal(request.form.get('grant_type'), 'client_credentials');
    assert.equal(request.form.get('client_id'), 'agt_one');
    assert.equal(
      request.form.get('client_assertion_type'),
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    );
    assert.equal(request.form.get('scope'), 'tools:read tools:write');
    assert.deepEqual(request.form.getAll('resource'), ['https://a.example', 'https://b.example']);
    assert.deepEqual(request.assertionHeader, { alg: 'ES256', kid: 'agt_one-key', typ: 'JWT' });
    const claims = request.assertionClaims!;
    assert.equal(claims.iss, 'agt_one');
    assert.equal(claims.sub, 'agt_one');
    assert.equal(claims.aud, as.issuer);
    assert.equal(claims.iat, Math.floor(now / 1000));
    assert.equal(claims.exp, Math.floor(now / 1000) + 60);
    assert.equal(request.proofHeader?.typ, 'dpop+jwt');
    assert.equal(request.proofHeader?.alg, 'ES256');
    assert.deepEqual(Object.keys(request.proofHeader?.jwk as object).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(request.proofClaims?.htm, 'POST');
    assert.equal(request.proofClaims?.htu, `${as.issuer}/token`);
    assert.equal(token.tokenType, 'DPoP');
    assert.deepEqual(token.scope, ['tools:read', 'tools:write']);
    assert.equal(token.expiresAt, now + 300_000);
    const jkt = await agent.dpopThumbprint();
    assert.equal(jkt, await calculateJwkThumbprint(request.proofHeader?.jwk as JWK, 'sha256'));
    assert.deepEqual(decodeJwt(token.accessToken).cnf, { jkt });
  });

  it('sends no scope or resource parameter when none is asked for', async () => {
    await client().getToken();
    const form = as.tokenRequests[0]!.form;
    assert.equal(form.has('scope'), false);
    assert.equal(form.has('resource'), false);
  });

  it('caches per scope and resource set and refreshes refreshSkewSeconds before expiry', async () => {
    const agent = client({ refreshSkewSeconds: 30 });
    const first = await agent.getToken({ scope: ['a', 'b'] });
    assert.equal((await agent.getToken({ scope: 'b a' })).accessToken, first.accessToken);
    assert.equal(as.tokenRequests.length, 1);
    now += 269_000; // 31 s before expiry
    assert.equal((await agent.getToken({ scope: ['b', 'a', 'a'] })).accessToken, first.accessToken);
    assert.equal(as.tokenRequests.length, 1);
    now += 2_000; // 29 s before expiry
    const second = await agent.getToken({ scope: ['a', 'b'] });
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(second.expiresAt, now + 300_000);
    assert.equal(as.tokenRequests.length, 2);
    await agent.getToken({ scope: ['a'] });
    await agent.getToken({ scope: ['a', 'b'], resource: 'https://a.example' });
    assert.equal(as.tokenRequests.length, 4);
  });

  it('shares one token request among concurrent callers (single-flight)', async () => {
    as.tokenDelayMs = 50;
    const agent = client();
    const tokens = await Promise.all(Array.from({ length: 8 }, () => agent.getToken({ scope: 'x' })));
    assert.equal(as.tokenRequests.length, 1);
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
  });

  it('does not cache a failure: the next call asks again', async () => {
    as.refuseWith = 'temporarily_unavailable';
    const agent = client();
    const calls = await Promise.allSettled([agent.getToken(), agent.getToken()]);
    assert.deepEqual(
      calls.map((c) => c.status),
      ['rejected', 'rejected'],
    );
    assert.equal(as.tokenRequests.length, 1);
    as.refuseWith = undefined;
    assert.equal((await agent.getToken()).tokenType, 'DPoP');
    assert.equal(as.tokenRequests.length, 2);
  });

  it('retries once with the nonce after use_dpop_nonce, and remembers it', async () => {
    as.tokenNonce = 'nonce-1';
    const agent = client();
    const token = await agent.getToken();
    assert.equal(token.tokenType, 'DPoP');
    assert.deepEqual(
      as.tokenRequests.map((r) => [r.outcome, r.proofClaims?.nonce]),
      [
        ['refused', undefined],
        ['issued', 'nonce-1'],
      ],
    );
    // a fresh assertion on the retry (the first jti may already be consumed)
    assert.notEqual(as.tokenRequests[0]!.assertionClaims?.jti, as.tokenRequests[1]!.assertionClaims?.jti);
    await agent.getToken({ scope: 'other' });
    assert.equal(as.tokenRequests.length, 3);
    assert.equal(as.tokenRequests[2]!.proofClaims?.nonce, 'nonce-1');
  });

  it('gives up after one nonce retry', async () => {
    as.tokenNonce = 'never-handed-out';
    as.nonceHint = 'stale';
    await assert.rejects(client().getToken(), { code: 'token_request_failed', oauthError: 'use_dpop_nonce' });
    assert.deepEqual(
      as.tokenRequests.map((r) => r.proofClaims?.nonce),
      [undefined, 'stale'],
    );
  });

  it('does not retry a use_dpop_nonce refusal that carries no nonce', async () => {
    as.refuseWith = 'use_dpop_nonce';
    await assert.rejects(client().getToken(), { code: 'token_request_failed', oauthError: 'use_dpop_nonce' });
    assert.equal(as.tokenRequests.length, 1);
  });

  it('reports a refusal as token_request_failed with the RFC 6749 error', async () => {
    as.refuseWith = 'invalid_scope';
    await assert.rejects(client().getToken({ scope: 'admin' }), (error: unknown) => {
      assert.ok(error instanceof CustosSdkError);
      assert.equal(error.code, 'token_request_failed');
      assert.equal(error.status, 400);
      assert.equal(error.oauthError, 'invalid_scope');
      assert.equal(error.oauthErrorDescription, 'refused: invalid_scope');
      assert.equal(error.message, 'token request refused with status 400 `invalid_scope`');
      return true;
    });
  });

  it('is refused by the server when the key is not the registered one', async () => {
    const other = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(other.privateKey)), kid: 'agt_one-key' };
    await assert.rejects(client({ privateKey: jwk }).getToken(), {
      code: 'token_request_failed',
      status: 401,
      oauthError: 'invalid_client',
    });
  });

  it('requests bearer tokens without DPoP when dpop is false', async () => {
    const agent = client({ dpop: false });
    const token = await agent.getToken();
    assert.equal(token.tokenType, 'Bearer');
    assert.equal(as.tokenRequests[0]!.proofHeader, undefined);
    assert.equal(decodeJwt(token.accessToken).cnf, undefined);
    await assert.rejects(agent.dpopThumbprint(), TypeError);
  });

  it('signs with KeyObject, CryptoKey and JWK keys of every allowed algorithm', async () => {
    const es384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const ed25519 = generateKeyPairSync('ed25519');
    const rs256 = await generateKeyPair('RS256');
    const ps256 = await generateKeyPair('PS256', { extractable: true });
    const { alg: _, ...ps256Jwk } = await exportJWK(ps256.privateKey);
    const cases = [
      { alg: 'ES384', privateKey: es384.privateKey, publicJwk: es384.publicKey.export({ format: 'jwk' }) },
      {
        alg: 'EdDSA',
        privateKey: ed25519.privateKey,
        publicJwk: ed25519.publicKey.export({ format: 'jwk' }),
      },
      { alg: 'RS256', privateKey: rs256.privateKey, publicJwk: await exportJWK(rs256.publicKey) },
      // an RSA JWK without `alg` would mean RS256: the option says PS256
      { alg: 'PS256', privateKey: { ...ps256Jwk, kid: 'k1' }, publicJwk: await exportJWK(ps256.publicKey) },
    ] as const;
    for (const { alg, privateKey, publicJwk } of cases) {
      const agentId = `agt_${alg.toLowerCase()}`;
      as.agents.set(agentId, { kid: 'k1', alg, publicJwk: publicJwk as JWK });
      const token = await createAgentClient({
        issuer: as.issuer,
        agentId,
        privateKey,
        privateKeyId: 'k1',
        ...(alg === 'PS256' ? { privateKeyAlg: 'PS256' } : {}),
        clock,
      }).getToken();
      assert.equal(decodeJwt(token.accessToken).sub, agentId, alg);
      assert.equal(as.tokenRequests.at(-1)!.assertionHeader?.alg, alg);
    }
  });

  it('refuses keys it cannot use, at the first token request', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    await assert.rejects(
      client({ privateKey: publicKey, privateKeyId: 'k' }).getToken(),
      /must be a private key/,
    );
    const { privateKey } = generateKeyPairSync('ed25519');
    await assert.rejects(client({ privateKey }).getToken(), /`privateKeyId` is required/);
    const { kid: _, ...noKid } = agentJwk;
    await assert.rejects(client({ privateKey: noKid }).getToken(), /no `kid`/);
    assert.equal(as.tokenRequests.length, 0);
  });

  it('sends the assertion of an assertionProvider as-is (workload federation)', async () => {
    const workload = await generateKeyPair('ES256');
    as.federation = {
      publicKey: workload.publicKey,
      issuer: 'https://kubernetes.default.svc',
      agentId: 'agt_k8s',
    };
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://kubernetes.default.svc')
      .setSubject('system:serviceaccount:agents:planner')
      .setAudience(as.issuer)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(workload.privateKey);
    let calls = 0;
    const agent = createAgentClient({
      issuer: as.issuer,
      agentId: 'agt_k8s',
      assertionProvider: async () => {
        calls++;
        return assertion;
      },
    });
    const token = await agent.getToken();
    assert.equal(as.tokenRequests[0]!.form.get('client_assertion'), assertion);
    assert.equal(decodeJwt(token.accessToken).sub, 'agt_k8s');
    assert.equal(calls, 1);
  });

  it('refuses a server whose metadata names another issuer', async () => {
    const other = await startFakeAuthorizationServer();
    try {
      other.metadataIssuer = 'https://evil.example';
      const agent = createAgentClient({ issuer: other.issuer, agentId: 'agt_one', privateKey: agentJwk });
      await assert.rejects(agent.getToken(), { code: 'discovery_failed', status: 503 });
      assert.equal(other.tokenRequests.length, 0);
    } finally {
      await other.close();
    }
  });

  it('validates its options up front', () => {
    assert.throws(() => createAgentClient({ issuer: as.issuer, agentId: 'agt_one' }), /exactly one of/);
    assert.throws(
      () =>
        createAgentClient({
          issuer: as.issuer,
          agentId: 'agt_one',
          privateKey: agentJwk,
          assertionProvider: async () => 'x',
        }),
      /exactly one of/,
    );
    assert.throws(
      () => createAgentClient({ issuer: '/relative', agentId: 'a', privateKey: agentJwk }),
      TypeError,
    );
  });
});

describe('agent client: fetch', () => {
  it('adds the DPoP token and a fresh proof with htm, htu (no query), iat, jti and ath', async () => {
    const agent = client();
    const first = await agent.fetch(`${as.issuer}/resource/items?page=2#top`, {
      method: 'post',
      body: 'hello',
    });
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { sub: 'agt_one', scheme: 'DPoP', body: 'hello' });
    const second = await agent.fetch(new Request(`${as.issuer}/resource/items`));
    assert.equal(second.status, 200);
    await second.body?.cancel();
    const [a, b] = as.resourceRequests;
    assert.equal(a?.error, undefined);
    assert.equal(a?.proofClaims?.htm, 'POST');
    assert.equal(a?.proofClaims?.htu, `${as.issuer}/resource/items`);
    assert.equal(a?.proofClaims?.iat, Math.floor(now / 1000));
    assert.equal(b?.proofClaims?.htm, 'GET');
    assert.notEqual(a?.proofClaims?.jti, b?.proofClaims?.jti);
    assert.equal(as.tokenRequests.length, 1);
  });

  it('answers a use_dpop_nonce challenge with one retry that resends the body', async () => {
    as.resourceNonce = 'rs-nonce';
    const agent = client();
    const response = await agent.fetch(
      new Request(`${as.issuer}/resource/x`, { method: 'PUT', body: 'payload' }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { sub: 'agt_one', scheme: 'DPoP', body: 'payload' });
    assert.deepEqual(
      as.resourceRequests.map((r) => [r.error, r.proofClaims?.nonce, r.body]),
      [
        ['use_dpop_nonce', undefined, 'payload'],
        [undefined, 'rs-nonce', 'payload'],
      ],
    );
    // the nonce is remembered for the next request to that origin
    const again = await agent.fetch(`${as.issuer}/resource/y`);
    await again.body?.cancel();
    assert.equal(as.resourceRequests.length, 3);
    assert.equal(as.resourceRequests[2]?.proofClaims?.nonce, 'rs-nonce');
  });

  it('returns the second 401 when the server keeps demanding a nonce', async () => {
    as.resourceNonce = 'never-handed-out';
    as.nonceHint = 'stale';
    const response = await client().fetch(`${as.issuer}/resource/z`);
    assert.equal(response.status, 401);
    await response.body?.cancel();
    assert.deepEqual(
      as.resourceRequests.map((r) => r.proofClaims?.nonce),
      [undefined, 'stale'],
    );
  });

  it('sends Bearer without a proof when the token is not DPoP-bound', async () => {
    const response = await client({ dpop: false }).fetch(`${as.issuer}/resource/b`);
    assert.deepEqual(await response.json(), { sub: 'agt_one', scheme: 'Bearer', body: '' });
    assert.match(as.resourceRequests[0]?.authorization ?? '', /^Bearer /);
  });
});
