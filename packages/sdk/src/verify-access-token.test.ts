import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  base64url,
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { CustosSdkError, type CustosSdkErrorCode } from './errors.js';
import type { ReplayCache } from './replay-cache.js';
import type { RequestHeaders } from './request-credentials.js';
import {
  type FakeAuthorizationServer,
  startFakeAuthorizationServer,
} from './test-support/fake-authorization-server.js';
import { type VerifyAccessTokenOptions, verifyAccessToken } from './verify-access-token.js';

const AUDIENCE = 'https://api.example';
const URL_ = 'https://api.example/orders/42?expand=lines';
let as: FakeAuthorizationServer;

interface TestDpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly jkt: string;
}
let dpopKey: TestDpopKey;
let otherKey: TestDpopKey;

async function newDpopKey(): Promise<TestDpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(publicJwk),
  };
}

before(async () => {
  as = await startFakeAuthorizationServer();
  dpopKey = await newDpopKey();
  otherKey = await newDpopKey();
});
after(() => as.close());

const nowSeconds = () => Math.floor(Date.now() / 1000);

function claims(overrides: JWTPayload = {}): JWTPayload {
  const iat = nowSeconds();
  return {
    iss: as.issuer,
    sub: 'agt_one',
    aud: AUDIENCE,
    iat,
    exp: iat + 300,
    jti: randomBytes(9).toString('base64url'),
    client_id: 'agt_one',
    scope: 'orders:read orders:write',
    ...overrides,
  };
}

const boundToken = (overrides: JWTPayload = {}) =>
  as.mint(claims({ cnf: { jkt: dpopKey.jkt }, ...overrides }));
const bearerToken = (overrides: JWTPayload = {}) => as.mint(claims(overrides));
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

interface ProofSpec {
  readonly token?: string;
  readonly method?: string;
  readonly url?: string;
  readonly header?: Record<string, unknown>;
  readonly claims?: JWTPayload;
  readonly omit?: readonly string[];
  readonly key?: TestDpopKey;
  readonly signWith?: CryptoKey;
}

/** A DPoP proof made with jose alone, so the verifier is tested against an independent signer. */
function proof(spec: ProofSpec = {}): Promise<string> {
  const key = spec.key ?? dpopKey;
  const payload: JWTPayload = {
    jti: randomBytes(16).toString('base64url'),
    htm: spec.method ?? 'GET',
    htu: (spec.url ?? URL_).split('?')[0],
    iat: nowSeconds(),
    ...(spec.token === undefined ? {} : { ath: ath(spec.token) }),
    ...spec.claims,
  };
  for (const name of spec.omit ?? []) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, ...spec.header })
    .sign(spec.signWith ?? key.privateKey);
}

/** A compact JWS with `alg: none` (jose will not produce one with a custom header). */
function unsigned(header: Record<string, unknown>, payload: JWTPayload): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
}

function verify(headers: RequestHeaders, options: Partial<VerifyAccessTokenOptions> = {}, method = 'GET') {
  return verifyAccessToken(
    { method, url: URL_, headers },
    { issuer: as.issuer, audience: AUDIENCE, ...options },
  );
}

async function verifyDpop(token: string, dpop: string, options: Partial<VerifyAccessTokenOptions> = {}) {
  return verify({ authorization: `DPoP ${token}`, dpop }, options);
}

async function rejectsWith(promise: Promise<unknown>, code: CustosSdkErrorCode): Promise<CustosSdkError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof CustosSdkError, `expected a CustosSdkError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('verifyAccessToken: accepted requests', () => {
  it('accepts a DPoP-bound token with a valid proof and returns claims and jkt', async () => {
    const token = await boundToken();
    const result = await verifyDpop(token, await proof({ token }));
    assert.equal(result.claims.sub, 'agt_one');
    assert.equal(result.claims.client_id, 'agt_one');
    assert.equal(result.dpopJkt, dpopKey.jkt);
  });

  it('accepts an unbound bearer token, application/at+jwt, Headers and array headers', async () => {
    const token = await bearerToken();
    const result = await verify(new Headers({ authorization: `Bearer ${token}` }));
    assert.equal(result.dpopJkt, undefined);
    const typed = await as.mint(claims(), { typ: 'application/at+jwt' });
    assert.equal((await verify({ Authorization: [`bearer ${typed}`] })).claims.sub, 'agt_one');
  });

  it('accepts the required scopes and an act claim', async () => {
    const token = await bearerToken({ sub: 'usr_alice', act: { sub: 'agt_one' } });
    const { claims: verified } = await verify(
      { authorization: `Bearer ${token}` },
      { requiredScopes: ['orders:write', 'orders:read'] },
    );
    assert.deepEqual(verified.act, { sub: 'agt_one' });
  });

  it('follows a key rotation: an unknown kid refetches the JWKS', async () => {
    const server = await startFakeAuthorizationServer();
    try {
      const options = { issuer: server.issuer, jwksCooldownSeconds: 0 };
      const first = await server.mint(claims({ iss: server.issuer }));
      await verify({ authorization: `Bearer ${first}` }, options);
      await server.rotateKey();
      const second = await server.mint(claims({ iss: server.issuer }));
      assert.equal((await verify({ authorization: `Bearer ${second}` }, options)).claims.iss, server.issuer);
      assert.equal(server.jwksFetches, 2);
    } finally {
      await server.close();
    }
  });

  it('records each proof jti in the given replay cache, and only after every check passed', async () => {
    const keys: string[] = [];
    const replayCache: ReplayCache = {
      checkAndStore(key) {
        keys.push(key);
        return true;
      },
    };
    const token = await boundToken();
    await rejectsWith(
      verifyDpop(token, await proof({ token, method: 'POST' }), { replayCache }),
      'invalid_dpop_proof',
    );
    assert.deepEqual(keys, []);
    await verifyDpop(token, await proof({ token, claims: { jti: 'abc' } }), { replayCache });
    assert.deepEqual(keys, [`dpop:${dpopKey.jkt}:abc`]);
  });
});

describe('verifyAccessToken: refused access tokens', () => {
  it('refuses a request without a token, with a bare challenge', async () => {
    const error = await rejectsWith(verify({}), 'missing_token');
    assert.equal(error.status, 401);
    assert.equal(error.wwwAuthenticate, 'Bearer, DPoP algs="ES256 ES384 EdDSA RS256 PS256"');
    await rejectsWith(verify({ authorization: 'Basic dXNlcjpwdw==' }), 'missing_token');
  });

  it('refuses two authorization headers', async () => {
    const token = await bearerToken();
    const error = await rejectsWith(
      verify({ authorization: [`Bearer ${token}`, `Bearer ${token}`] }),
      'invalid_request',
    );
    assert.equal(error.status, 400);
    const headers = new Headers();
    headers.append('authorization', `Bearer ${token}`);
    headers.append('authorization', `Bearer ${token}`);
    await rejectsWith(verify(headers), 'invalid_request');
  });

  it('refuses a wrong typ', async () => {
    const token = await as.mint(claims(), { typ: 'JWT' });
    const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
    assert.equal(error.status, 401);
    assert.equal(
      error.wwwAuthenticate,
      'Bearer error="invalid_token", error_description="access token `typ` is not `at+jwt`"',
    );
  });

  it('refuses alg none', async () => {
    const token = unsigned({ alg: 'none', typ: 'at+jwt', kid: as.keys[0]!.kid }, claims());
    const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
    assert.equal(error.message, 'access token algorithm is not allowed');
  });

  it('refuses HS256 signed with the public key bytes (algorithm confusion)', async () => {
    const key = as.keys[0]!;
    for (const secret of [await exportSPKI(key.publicKey), JSON.stringify(key.publicJwk)]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
        .sign(new TextEncoder().encode(secret));
      const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
      assert.equal(error.message, 'access token algorithm is not allowed');
    }
    await assert.rejects(verify({}, { algorithms: ['ES256', 'HS256'] }), TypeError);
    await assert.rejects(verify({}, { algorithms: ['none'] }), TypeError);
  });

  it('refuses a wrong iss', async () => {
    const token = await bearerToken({ iss: 'https://other.example' });
    const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
    assert.equal(error.message, 'access token `iss` check failed');
  });

  it('refuses a wrong aud', async () => {
    const token = await bearerToken({ aud: 'https://other-api.example' });
    const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
    assert.equal(error.message, 'access token `aud` check failed');
  });

  it('refuses an expired token', async () => {
    const token = await bearerToken({ exp: nowSeconds() - 10 });
    const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
    assert.equal(error.message, 'access token expired');
  });

  it('refuses a token without jti or client_id', async () => {
    for (const missing of ['jti', 'client_id', 'sub', 'iat']) {
      const payload = claims();
      delete payload[missing];
      const token = await as.mint(payload);
      const error = await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
      assert.equal(error.message, `access token lacks claim \`${missing}\``);
    }
  });

  it('refuses an unknown kid after refetching the JWKS once', async () => {
    const server = await startFakeAuthorizationServer();
    try {
      const options = { issuer: server.issuer, jwksCooldownSeconds: 0 };
      await verify({ authorization: `Bearer ${await server.mint(claims({ iss: server.issuer }))}` }, options);
      assert.equal(server.jwksFetches, 1);
      const stranger = await server.mint(claims({ iss: server.issuer }), { kid: 'unknown' }, as.keys[0]);
      const error = await rejectsWith(
        verify({ authorization: `Bearer ${stranger}` }, options),
        'invalid_token',
      );
      assert.equal(error.message, 'no issuer key matches the access token');
      assert.equal(server.jwksFetches, 2);
    } finally {
      await server.close();
    }
  });

  it('refuses to decide (503) when the JWKS cannot be fetched', async () => {
    const error = await rejectsWith(
      verify({ authorization: `Bearer ${await bearerToken()}` }, { jwksUri: 'http://127.0.0.1:9/jwks' }),
      'discovery_failed',
    );
    assert.equal(error.status, 503);
  });

  it('refuses a token lacking a required scope (403)', async () => {
    const token = await boundToken();
    const error = await rejectsWith(
      verifyDpop(token, await proof({ token }), { requiredScopes: ['orders:read', 'orders:admin'] }),
      'insufficient_scope',
    );
    assert.equal(error.status, 403);
    assert.match(
      error.wwwAuthenticate ?? '',
      /^DPoP error="insufficient_scope", .*scope="orders:read orders:admin"/,
    );
  });
});

describe('verifyAccessToken: refused DPoP requests', () => {
  async function refusedProof(spec: ProofSpec, message: string) {
    const token = await boundToken();
    const error = await rejectsWith(verifyDpop(token, await proof({ token, ...spec })), 'invalid_dpop_proof');
    assert.equal(error.message, message);
    assert.equal(error.status, 401);
    assert.match(
      error.wwwAuthenticate ?? '',
      /^DPoP error="invalid_dpop_proof", error_description=".+", algs="/,
    );
    return error;
  }

  it('refuses a bound token without a proof', async () => {
    const token = await boundToken();
    await rejectsWith(verify({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof');
  });

  it('refuses two DPoP headers', async () => {
    const token = await boundToken();
    const [a, b] = [await proof({ token }), await proof({ token })];
    await rejectsWith(verify({ authorization: `DPoP ${token}`, dpop: [a, b] }), 'invalid_dpop_proof');
    const headers = new Headers({ authorization: `DPoP ${token}` });
    headers.append('dpop', a);
    headers.append('dpop', b);
    const error = await rejectsWith(verify(headers), 'invalid_dpop_proof');
    assert.equal(error.message, 'more than one dpop proof');
  });

  it('refuses a wrong proof typ', async () => {
    await refusedProof({ header: { typ: 'JWT' } }, 'dpop proof `typ` is not `dpop+jwt`');
  });

  it('refuses a proof with alg none', async () => {
    const token = await boundToken();
    const none = unsigned(
      { typ: 'dpop+jwt', alg: 'none', jwk: dpopKey.publicJwk },
      { jti: 'x', htm: 'GET', htu: URL_.split('?')[0], iat: nowSeconds(), ath: ath(token) },
    );
    await rejectsWith(verifyDpop(token, none), 'invalid_dpop_proof');
  });

  it('refuses a bad proof signature', async () => {
    await refusedProof({ signWith: otherKey.privateKey }, 'dpop proof signature is invalid');
  });

  it('refuses a private key in the proof jwk', async () => {
    await refusedProof(
      { header: { jwk: dpopKey.privateJwk } },
      'dpop proof `jwk` contains private key members',
    );
  });

  it('refuses a proof jwk that is not an asymmetric public key of its alg', async () => {
    await refusedProof(
      { header: { jwk: { kty: 'constructor', x: 'a' } } },
      'dpop proof `jwk` is not an asymmetric public key',
    );
    await refusedProof(
      { header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } },
      'dpop proof `jwk` contains private key members',
    );
    await refusedProof(
      { header: { jwk: { kty: 'EC', crv: 'P-256', x: dpopKey.publicJwk.x } } },
      'dpop proof `jwk` lacks `y`',
    );
  });

  it('refuses a wrong htm', async () => {
    await refusedProof({ method: 'POST' }, 'dpop proof `htm` does not match the request method');
  });

  it('refuses a wrong htu', async () => {
    const message = 'dpop proof `htu` does not match the request url';
    await refusedProof({ url: 'https://api.example/orders/43' }, message);
    await refusedProof({ url: 'https://evil.example/orders/42' }, message);
    await refusedProof({ url: 'http://api.example/orders/42' }, message);
  });

  it('refuses an iat outside the window', async () => {
    const message = 'dpop proof `iat` is outside the acceptance window';
    await refusedProof({ claims: { iat: nowSeconds() - 120 } }, message);
    await refusedProof({ claims: { iat: nowSeconds() + 60 } }, message);
  });

  it('refuses a replayed jti', async () => {
    const token = await boundToken();
    const once = await proof({ token });
    await verifyDpop(token, once);
    const error = await rejectsWith(verifyDpop(token, once), 'invalid_dpop_proof');
    assert.equal(error.message, 'dpop proof `jti` was already used');
  });

  it('refuses a missing ath', async () => {
    await refusedProof({ omit: ['ath'] }, 'dpop proof lacks `ath`');
  });

  it('refuses a wrong ath', async () => {
    await refusedProof(
      { claims: { ath: ath('another-token') } },
      'dpop proof `ath` does not match the token',
    );
  });

  it('refuses a proof whose key is not the cnf.jkt', async () => {
    await refusedProof({ key: otherKey }, 'dpop proof key does not match the token binding');
  });

  it('refuses a DPoP-bound token presented as Bearer', async () => {
    const token = await boundToken();
    const error = await rejectsWith(
      verify({ authorization: `Bearer ${token}`, dpop: await proof({ token }) }),
      'invalid_token',
    );
    assert.match(error.wwwAuthenticate ?? '', /^DPoP error="invalid_token"/);
  });

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const token = await bearerToken();
    await rejectsWith(verifyDpop(token, await proof({ token })), 'invalid_token');
  });

  it('refuses an unsupported confirmation method', async () => {
    const token = await as.mint(claims({ cnf: { 'x5t#S256': 'abc' } }));
    await rejectsWith(verify({ authorization: `Bearer ${token}` }), 'invalid_token');
  });
});

describe('verifyAccessToken: property', () => {
  it('refuses any single-byte change to the signature', async () => {
    const token = await bearerToken();
    const [head, body, signature] = token.split('.') as [string, string, string];
    const bytes = base64url.decode(signature);
    await verify({ authorization: `Bearer ${token}` });
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (index, delta) => {
          const mutated = Uint8Array.from(bytes);
          mutated[index] = (mutated[index] as number) ^ delta;
          const forged = `${head}.${body}.${base64url.encode(mutated)}`;
          await rejectsWith(verify({ authorization: `Bearer ${forged}` }), 'invalid_token');
        },
      ),
      { numRuns: 200 },
    );
  });
});
