import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as client from 'openid-client';
import { manualClock } from '../src/core/index.js';
import type { RunningServer } from '../src/http/index.js';
import { DIALECTS } from './support/databases.js';
import {
  type AssertionOptions,
  auditEvents,
  bearerClient,
  createAgent,
  dpopProof,
  epoch,
  type HttpResult,
  isJson,
  type Json,
  type KeyPair,
  newKeyPair,
  type ProofOptions,
  postForm,
  randomJti,
  rawPost,
  realClient,
  registerKey,
  signAssertion,
  startSecondNode,
  startServerWithClock,
  type TestAgent,
  tokenForm,
  unsignedJwt,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const API = 'https://api.example.com';
const OTHER_API = 'https://other.example.com';
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const WORKLOAD_SUB = 'system:serviceaccount:ns:bot';
const JWT = /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/;

/** The OAuth error of a real client's failed call, or null. */
function oauthErrorOf(error: unknown): { error: string; status: number } | null {
  return error instanceof client.ResponseBodyError ? { error: error.error, status: error.status } : null;
}

const str = (value: unknown): string => {
  assert.equal(typeof value, 'string', `expected a string, got ${JSON.stringify(value)}`);
  return value as string;
};

/** The whole OAuth suite runs on SQLite and on PostgreSQL. */
for (const dialect of DIALECTS) {
  describe(`OAuth authorization server end to end (${dialect})`, () => {
    let t: TestServer;
    let issuer: string;
    let tokenUrl: string;
    let owner: string;
    let metadata: client.ServerMetadata;
    /** Introspects as a `resource_server` admin token. */
    let rs: client.Configuration;
    /** Revokes as the bootstrap admin. */
    let admin: client.Configuration;
    let jwks: ReturnType<typeof jose.createRemoteJWKSet>;
    /** The main agent the negative tests mutate requests of, and a second one. */
    let agent: TestAgent;
    let other: TestAgent;
    let dpopAgent: TestAgent;
    /** Signature segments of every assertion, proof and access token the tests handled. */
    const secrets = new Set<string>();

    const remember = (jwt: string): string => {
      const signature = jwt.split('.')[2];
      if (signature) secrets.add(signature);
      return jwt;
    };
    const assertion = async (who: TestAgent, options?: AssertionOptions) =>
      remember(await signAssertion(issuer, who, options));
    const proof = async (keys: KeyPair, options: Partial<ProofOptions> = {}) =>
      remember(await dpopProof(keys, { htu: tokenUrl, ...options }));
    const introspect = (token: string) => client.tokenIntrospection(rs, token);
    const verify = (token: string, keySet = jwks) =>
      jose.jwtVerify(token, keySet, { issuer, audience: API, typ: 'at+jwt' });

    before(async () => {
      t = await startTestServer(dialect);
      issuer = t.config.issuer;
      tokenUrl = `${issuer}/oauth/token`;
      const user = await t.api('POST', '/api/v1/users', {
        body: { email: 'owner@example.com', name: 'Owner' },
      });
      owner = str(user.body.email);
      const rsToken = await t.api('POST', '/api/v1/tokens', {
        body: { name: 'resource server', role: 'resource_server' },
      });
      const discovered = await client.discovery(new URL(issuer), 'discovery-only', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
        algorithm: 'oauth2',
      });
      metadata = discovered.serverMetadata();
      rs = bearerClient(metadata, str(rsToken.body.token));
      admin = bearerClient(metadata, t.adminToken);
      // like a resource server: refetch at once on an unknown kid (the rotation test uses a stricter verifier)
      jwks = jose.createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`), { cooldownDuration: 0 });
      agent = await createAgent(t, owner);
      other = await createAgent(t, owner);
      dpopAgent = await createAgent(t, owner, { requireDpop: true });
    });
    after(() => t.close());

    /** How many tokens the server has issued (every issuance writes one `token.issue` event). */
    const issuedCount = async () => (await auditEvents(t, { action: 'token.issue' })).length;

    /**
     * Sends a request that must be refused with exactly `status` and `error`,
     * and checks that no token was issued and that the refusal was (or, for
     * `audited: null`, was not) recorded with the error code as its reason.
     */
    async function refused(
      send: () => Promise<HttpResult>,
      expected: {
        status: number;
        error: string;
        description?: RegExp;
        /** The agent the refusal is recorded against; 'anonymous' when no client id is known; null: not recorded. */
        audited?: string | null;
      },
    ): Promise<HttpResult> {
      const audited = expected.audited === undefined ? agent.id : expected.audited;
      const target = audited === null || audited === 'anonymous' ? undefined : audited;
      const issuedBefore = await issuedCount();
      const refusalsBefore = await auditEvents(t, { action: 'token.refuse', ...(target ? { target } : {}) });
      const res = await send();
      assert.equal(res.status, expected.status, JSON.stringify(res.body));
      assert.equal(res.body.error, expected.error, JSON.stringify(res.body));
      assert.equal(typeof res.body.error_description, 'string');
      if (expected.description) assert.match(String(res.body.error_description), expected.description);
      assert.equal(res.body.access_token, undefined);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(await issuedCount(), issuedBefore, 'a refused request must not issue a token');
      const refusalsAfter = await auditEvents(t, { action: 'token.refuse', ...(target ? { target } : {}) });
      if (audited === null) {
        assert.equal(refusalsAfter.length, refusalsBefore.length, 'this refusal is not audited');
      } else {
        assert.equal(refusalsAfter.length, refusalsBefore.length + 1, 'the refusal must be audited');
        const event = refusalsAfter.at(-1);
        assert.ok(event);
        assert.equal(event.outcome, 'denied');
        assert.match(str(event.reason), new RegExp(`^${expected.error}: `));
        assert.deepEqual(event.actor, { type: 'anonymous', id: 'unauthenticated' });
        assert.deepEqual(event.target, target ? { type: 'agent', id: target } : null);
        assert.ok(isJson(event.details));
        assert.equal(event.details.error, expected.error);
      }
      return res;
    }

    /** POSTs a client-credentials request for `who` with `assertionJwt` and optional extra form fields/headers. */
    const tokenRequest = (
      who: string | null,
      assertionJwt: string,
      extra: Record<string, string | readonly string[]> = {},
      headers: Record<string, string> = {},
    ) => postForm(tokenUrl, tokenForm(who, assertionJwt, { resource: API, ...extra }), headers);

    describe('happy paths', () => {
      it('issues a Bearer token to private_key_jwt without DPoP; it verifies against the JWKS and introspects active', async () => {
        const c = await realClient(issuer, agent);
        const tokens = await client.clientCredentialsGrant(c.config, { scope: 'read', resource: API });
        remember(tokens.access_token);
        assert.equal(tokens.token_type, 'bearer');
        assert.equal(tokens.expires_in, 300);
        assert.equal(tokens.scope, 'read');

        const { payload, protectedHeader } = await verify(tokens.access_token);
        assert.equal(protectedHeader.typ, 'at+jwt');
        assert.equal(protectedHeader.alg, 'ES256');
        assert.equal(typeof protectedHeader.kid, 'string');
        assert.equal(payload.iss, issuer);
        assert.equal(payload.sub, agent.id);
        assert.equal(payload.aud, API);
        assert.equal(payload.client_id, agent.id);
        assert.equal(payload.scope, 'read');
        assert.equal(typeof payload.jti, 'string');
        assert.equal(payload.cnf, undefined, 'a Bearer token carries no confirmation');
        const iat = Number(payload.iat);
        assert.ok(Math.abs(iat - epoch()) <= 5, 'iat is now');
        assert.equal(Number(payload.exp) - iat, 300, 'the default lifetime is 300 s');

        const info = await introspect(tokens.access_token);
        assert.equal(info.active, true);
        assert.equal(info.iss, issuer);
        assert.equal(info.sub, agent.id);
        assert.equal(info.client_id, agent.id);
        assert.equal(info.aud, API);
        assert.equal(info.scope, 'read');
        assert.equal(info.jti, payload.jti);
        assert.equal(info.exp, payload.exp);
        assert.equal(info.iat, payload.iat);
        assert.equal(info.token_type, 'Bearer');
        assert.equal(info.cnf, undefined);
      });

      it('issues a DPoP-bound token whose cnf.jkt is the thumbprint of the DPoP key', async () => {
        const c = await realClient(issuer, agent);
        const dpopKeys = await client.randomDPoPKeyPair();
        const dpop = client.getDPoPHandle(c.config, dpopKeys);
        const tokens = await client.clientCredentialsGrant(
          c.config,
          { scope: 'read write', resource: API },
          { DPoP: dpop },
        );
        remember(tokens.access_token);
        assert.equal(tokens.token_type, 'dpop');
        const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(dpopKeys.publicKey), 'sha256');
        const { payload } = await verify(tokens.access_token);
        assert.deepEqual(payload.cnf, { jkt });
        assert.equal(payload.scope, 'read write');
        const info = await introspect(tokens.access_token);
        assert.equal(info.active, true);
        assert.equal(info.token_type, 'DPoP');
        assert.deepEqual(info.cnf, { jkt });
      });

      it('answers the exact RFC 6749 token response to a raw request (Bearer, then DPoP)', async () => {
        const bearer = await tokenRequest(agent.id, await assertion(agent), { scope: 'read' });
        assert.equal(bearer.status, 200, JSON.stringify(bearer.body));
        assert.equal(bearer.body.token_type, 'Bearer');
        assert.equal(bearer.body.expires_in, 300);
        assert.equal(bearer.body.scope, 'read');
        assert.equal(bearer.headers.get('cache-control'), 'no-store');
        assert.equal(bearer.headers.get('pragma'), 'no-cache');
        remember(str(bearer.body.access_token));

        const keys = await newKeyPair();
        const dpop = await tokenRequest(agent.id, await assertion(agent), {}, { DPoP: await proof(keys) });
        assert.equal(dpop.status, 200, JSON.stringify(dpop.body));
        assert.equal(dpop.body.token_type, 'DPoP');
        assert.equal(dpop.body.scope, 'read write', 'no scope asked: every allowed scope');
        const { payload } = await verify(remember(str(dpop.body.access_token)));
        assert.deepEqual(payload.cnf, { jkt: await jose.calculateJwkThumbprint(keys.publicJwk, 'sha256') });
      });

      it('lets the agent revoke its own token with the real client; introspection says inactive at once', async () => {
        const c = await realClient(issuer, agent);
        const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
        remember(token);
        assert.equal((await introspect(token)).active, true);
        await client.tokenRevocation(c.config, token);
        assert.deepEqual(await introspect(token), { active: false });
        const { payload } = await verify(token);
        const revokes = await auditEvents(t, { action: 'token.revoke', target: agent.id });
        const event = revokes.find((e) => isJson(e.details) && e.details.tokenId === payload.jti);
        assert.ok(event, 'the revocation is audited');
        assert.deepEqual(event.actor, { type: 'agent', id: agent.id });
        // revoking again (or an unknown token) still answers 200, as RFC 7009 requires
        await client.tokenRevocation(c.config, token);
        await client.tokenRevocation(c.config, 'not-a-token');
      });

      it('lets an admin revoke any token, but not a resource server, nor another agent', async () => {
        const c = await realClient(issuer, agent);
        const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
        remember(token);

        await assert.rejects(client.tokenRevocation(rs, token), (error: unknown) => {
          assert.deepEqual(oauthErrorOf(error), { error: 'invalid_client', status: 401 });
          return true;
        });
        const otherClient = await realClient(issuer, other);
        await assert.rejects(client.tokenRevocation(otherClient.config, token), (error: unknown) => {
          assert.deepEqual(oauthErrorOf(error), { error: 'unauthorized_client', status: 400 });
          return true;
        });
        assert.equal((await introspect(token)).active, true, 'refused revocations changed nothing');

        await client.tokenRevocation(admin, token);
        assert.deepEqual(await introspect(token), { active: false });
      });

      it('makes the tokens of a suspended agent inactive at once', async () => {
        const bot = await createAgent(t, owner);
        const c = await realClient(issuer, bot);
        const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
        remember(token);
        assert.equal((await introspect(token)).active, true);
        const suspended = await t.api('POST', `/api/v1/agents/${bot.id}/suspend`, {
          body: { reason: 'e2e: suspected leak' },
        });
        assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
        assert.deepEqual(await introspect(token), { active: false });
        // the signature alone still verifies: only introspection knows about the suspension
        await verify(token);
      });

      it('keeps tokens issued before a suspension inactive after the agent is resumed', async () => {
        const bot = await createAgent(t, owner);
        const c = await realClient(issuer, bot);
        const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
        remember(token);
        const path = `/api/v1/agents/${bot.id}`;
        assert.equal(
          (await t.api('POST', `${path}/suspend`, { body: { reason: 'suspected leak' } })).status,
          200,
        );
        assert.deepEqual(await introspect(token), { active: false });
        assert.equal((await t.api('POST', `${path}/resume`, { body: { reason: 'cleared' } })).status, 200);
        const fresh = await client.clientCredentialsGrant(c.config, { resource: API });
        remember(fresh.access_token);
        assert.equal(
          (await introspect(fresh.access_token)).active,
          true,
          'the resumed agent gets new tokens',
        );
        // the kill switch must not be undone: a token that may have leaked stays dead
        assert.deepEqual(await introspect(token), { active: false });
      });

      it('makes tokens obtained with a revoked key inactive at once, and only those', async () => {
        const bot = await createAgent(t, owner);
        const second = await newKeyPair();
        const secondKid = await registerKey(t, bot.id, second.publicJwk);
        const viaFirst = await tokenRequest(bot.id, await assertion(bot));
        const viaSecond = await tokenRequest(bot.id, await assertion({ ...bot, ...second, kid: secondKid }));
        assert.equal(viaFirst.status, 200);
        assert.equal(viaSecond.status, 200);
        const first = remember(str(viaFirst.body.access_token));
        const kept = remember(str(viaSecond.body.access_token));
        const revoked = await t.api('DELETE', `/api/v1/agents/${bot.id}/keys/${encodeURIComponent(bot.kid)}`);
        assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
        assert.equal(revoked.body.status, 'revoked');
        assert.deepEqual(await introspect(first), { active: false });
        assert.equal((await introspect(kept)).active, true, 'a token from the other key stays active');
      });

      it('publishes the metadata document (RFC 8414)', async () => {
        const res = await t.api('GET', '/.well-known/oauth-authorization-server', { token: null });
        assert.equal(res.status, 200);
        const m = res.body;
        assert.equal(m.issuer, issuer);
        assert.equal(m.token_endpoint, `${issuer}/oauth/token`);
        assert.equal(m.jwks_uri, `${issuer}/oauth/jwks`);
        assert.equal(m.introspection_endpoint, `${issuer}/oauth/introspect`);
        assert.equal(m.revocation_endpoint, `${issuer}/oauth/revoke`);
        assert.deepEqual(m.grant_types_supported, [
          'client_credentials',
          'urn:ietf:params:oauth:grant-type:token-exchange',
        ]);
        assert.deepEqual(m.token_endpoint_auth_methods_supported, ['private_key_jwt']);
        assert.ok(Array.isArray(m.dpop_signing_alg_values_supported));
        const dpopAlgs: unknown[] = m.dpop_signing_alg_values_supported;
        assert.ok(dpopAlgs.includes('ES256'));
        for (const weak of ['none', 'HS256']) assert.ok(!dpopAlgs.includes(weak), `${weak} is not offered`);
        assert.ok(Array.isArray(m.token_endpoint_auth_signing_alg_values_supported));
        assert.ok(!m.token_endpoint_auth_signing_alg_values_supported.includes('none'));
        assert.equal(
          metadata.token_endpoint,
          m.token_endpoint,
          'the real client discovered the same document',
        );
      });

      it('publishes the active and next signing keys in the JWKS, with no private members', async () => {
        const res = await fetch(`${issuer}/oauth/jwks`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^application\/jwk-set\+json/);
        const body: unknown = await res.json();
        assert.ok(isJson(body) && Array.isArray(body.keys));
        const keys = body.keys.filter(isJson);
        assert.equal(keys.length, body.keys.length);
        for (const key of keys) {
          for (const member of PRIVATE_JWK_MEMBERS) assert.equal(key[member], undefined, `no \`${member}\``);
          assert.equal(typeof key.kid, 'string');
          assert.equal(key.use, 'sig');
          assert.equal(key.alg, 'ES256');
        }
        const signing = await t.api('GET', '/api/v1/keys');
        assert.equal(signing.status, 200);
        const records = (signing.body.items ?? []).filter(isJson);
        const byState = (state: string) => records.filter((k) => k.state === state).map((k) => k.kid);
        assert.equal(byState('active').length, 1);
        assert.equal(byState('next').length, 1);
        const published = keys.map((k) => k.kid);
        for (const kid of [...byState('active'), ...byState('next')]) assert.ok(published.includes(kid));
      });

      it('audits issuance and refusal, and never records the token, the assertion or the DPoP proof', async () => {
        const c = await realClient(issuer, agent);
        const dpopKeys = await client.randomDPoPKeyPair();
        const tokens = await client.clientCredentialsGrant(
          c.config,
          { scope: 'read', resource: API },
          { DPoP: client.getDPoPHandle(c.config, dpopKeys) },
        );
        await assert.rejects(
          client.clientCredentialsGrant(c.config, { scope: 'admin', resource: API }),
          (error: unknown) => {
            assert.deepEqual(oauthErrorOf(error), { error: 'invalid_scope', status: 400 });
            return true;
          },
        );
        const { payload, protectedHeader } = await verify(tokens.access_token);
        const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(dpopKeys.publicKey), 'sha256');

        const issues = await auditEvents(t, { action: 'token.issue', target: agent.id });
        const issue = issues.find((e) => isJson(e.details) && e.details.tokenId === payload.jti);
        assert.ok(issue && isJson(issue.details), 'the issuance is audited');
        assert.deepEqual(issue.actor, { type: 'agent', id: agent.id });
        assert.deepEqual(issue.target, { type: 'agent', id: agent.id });
        assert.equal(issue.outcome, 'success');
        assert.equal(issue.details.credential, `key:${agent.kid}`);
        assert.equal(issue.details.signingKey, protectedHeader.kid);
        assert.deepEqual(issue.details.scopes, ['read']);
        assert.deepEqual(issue.details.audience, [API]);
        assert.equal(issue.details.dpopJkt, jkt);

        const refusals = await auditEvents(t, { action: 'token.refuse', target: agent.id });
        const refusal = refusals.at(-1);
        assert.ok(refusal);
        assert.match(str(refusal.reason), /^invalid_scope: /);
        assert.equal(refusal.outcome, 'denied');

        const jwts = [...c.sent.filter((v) => JWT.test(v)), tokens.access_token];
        assert.equal(jwts.length, 4, 'two assertions, one DPoP proof and the token were captured');
        const all = JSON.stringify(await auditEvents(t));
        for (const jwt of jwts) {
          const signature = jwt.split('.')[2] ?? '';
          assert.ok(signature.length > 20);
          assert.ok(!all.includes(signature), 'no audit event holds a credential or part of one');
          secrets.add(signature);
        }
      });
    });

    describe('client authentication refusals at the token endpoint', () => {
      /** The claims of a valid assertion for `who`. */
      const validClaims = (who: TestAgent): Json => {
        const now = epoch();
        return { iss: who.id, sub: who.id, aud: issuer, iat: now, exp: now + 60, jti: randomJti() };
      };

      it('refuses an `alg: none` assertion', async () => {
        for (const header of [{ alg: 'none' }, { alg: 'none', kid: agent.kid }]) {
          await refused(() => tokenRequest(agent.id, unsignedJwt(header, validClaims(agent))), {
            status: 401,
            error: 'invalid_client',
            description: /algorithm `none`/,
          });
        }
      });

      it('refuses an HS256 assertion keyed with the public key bytes', async () => {
        const hmacKeys = [
          new TextEncoder().encode(JSON.stringify(agent.publicJwk)),
          new TextEncoder().encode(await jose.exportSPKI(agent.publicKey)),
        ];
        for (const key of hmacKeys) {
          const jwt = await assertion(agent, { header: { alg: 'HS256' }, key });
          await refused(() => tokenRequest(agent.id, jwt), {
            status: 401,
            error: 'invalid_client',
            description: /algorithm `HS256`/,
          });
        }
      });

      it('refuses a replayed assertion, and a new assertion that reuses a jti', async () => {
        const jwt = await assertion(agent);
        const first = await tokenRequest(agent.id, jwt);
        assert.equal(first.status, 200, JSON.stringify(first.body));
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /already been used/,
        });
        const jti = randomJti();
        assert.equal((await tokenRequest(agent.id, await assertion(agent, { claims: { jti } }))).status, 200);
        const reused = await assertion(agent, { claims: { jti, iat: epoch() - 1 } });
        await refused(() => tokenRequest(agent.id, reused), {
          status: 401,
          error: 'invalid_client',
          description: /already been used/,
        });
      });

      it('refuses an assertion already used at the token endpoint when replayed at the revocation endpoint', async () => {
        const jwt = await assertion(agent);
        const first = await tokenRequest(agent.id, jwt);
        assert.equal(first.status, 200);
        const token = remember(str(first.body.access_token));
        const form = tokenForm(agent.id, jwt, { token });
        form.delete('grant_type');
        const res = await postForm(`${issuer}/oauth/revoke`, form);
        assert.equal(res.status, 401, JSON.stringify(res.body));
        assert.equal(res.body.error, 'invalid_client');
        assert.equal((await introspect(token)).active, true, 'the replay revoked nothing');
      });

      it('refuses an assertion replayed against a second node sharing the database', async () => {
        let second: RunningServer | undefined;
        try {
          second = await startSecondNode(t);
          const secondUrl = `${second.url}/oauth/token`;
          const jwt = await assertion(agent);
          const first = await tokenRequest(agent.id, jwt);
          assert.equal(first.status, 200, JSON.stringify(first.body));
          await refused(() => postForm(secondUrl, tokenForm(agent.id, jwt, { resource: API })), {
            status: 401,
            error: 'invalid_client',
            description: /already been used/,
          });
          // the second node does issue to a fresh assertion, so the refusal above was the replay check
          const fresh = await postForm(
            secondUrl,
            tokenForm(agent.id, await assertion(agent), { resource: API }),
          );
          assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
          assert.equal((await introspect(remember(str(fresh.body.access_token)))).active, true);

          // the same assertion sent to both nodes at once: exactly one wins
          const before = await issuedCount();
          const raced = await assertion(agent);
          const results = await Promise.all([
            tokenRequest(agent.id, raced),
            postForm(secondUrl, tokenForm(agent.id, raced, { resource: API })),
          ]);
          const statuses = results.map((r) => r.status).sort();
          assert.deepEqual(statuses, [200, 401], JSON.stringify(results.map((r) => r.body)));
          assert.equal(results.find((r) => r.status === 401)?.body.error, 'invalid_client');
          assert.equal(await issuedCount(), before + 1);
        } finally {
          await second?.close();
        }
      });

      it('refuses an assertion whose `aud` is the token endpoint, or an array', async () => {
        const cases: Array<[unknown, RegExp]> = [
          [tokenUrl, /`aud`/],
          [[issuer], /single string/],
          [[issuer, OTHER_API], /single string/],
        ];
        for (const [aud, description] of cases) {
          const jwt = await assertion(agent, { claims: { aud } });
          await refused(() => tokenRequest(agent.id, jwt), {
            status: 401,
            error: 'invalid_client',
            description,
          });
        }
      });

      it('refuses an expired assertion', async () => {
        const now = epoch();
        const jwt = await assertion(agent, { claims: { iat: now - 200, exp: now - 100 } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /expired/,
        });
      });

      it('refuses an assertion with `nbf` in the future', async () => {
        const now = epoch();
        const jwt = await assertion(agent, { claims: { nbf: now + 120, exp: now + 180 } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /nbf/,
        });
      });

      it('refuses an assertion living longer than the cap, and accepts exactly the cap', async () => {
        const now = epoch();
        for (const claims of [
          { iat: now, exp: now + 301 },
          { iat: now, exp: now + 3600 },
          { iat: undefined, exp: now + 1000 },
        ]) {
          const jwt = await assertion(agent, { claims });
          await refused(() => tokenRequest(agent.id, jwt), {
            status: 401,
            error: 'invalid_client',
            description: /lifetime/,
          });
        }
        const atCap = await tokenRequest(
          agent.id,
          await assertion(agent, { claims: { iat: now, exp: now + 300 } }),
        );
        assert.equal(atCap.status, 200, JSON.stringify(atCap.body));
      });

      it('refuses an assertion issued in the future', async () => {
        const now = epoch();
        const jwt = await assertion(agent, { claims: { iat: now + 120, exp: now + 180 } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /`iat`/,
        });
      });

      it('refuses an assertion without `exp`, without `jti`, or with a short `jti`', async () => {
        const cases: Array<[Record<string, unknown>, RegExp]> = [
          [{ exp: undefined }, /`exp`|invalid/],
          [{ jti: undefined }, /`jti`|invalid/],
          [{ jti: 'short' }, /`jti` of 8 to 256/],
        ];
        for (const [claims, description] of cases) {
          const jwt = await assertion(agent, { claims });
          await refused(() => tokenRequest(agent.id, jwt), {
            status: 401,
            error: 'invalid_client',
            description,
          });
        }
      });

      it('refuses an assertion whose `iss` is not its `sub`', async () => {
        const jwt = await assertion(agent, { claims: { sub: other.id } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /`iss` and `sub`/,
        });
      });

      it("refuses an assertion signed with another agent's key", async () => {
        const withOthersKid = await assertion(agent, { header: { kid: other.kid }, key: other.privateKey });
        await refused(() => tokenRequest(agent.id, withOthersKid), {
          status: 401,
          error: 'invalid_client',
          description: /unknown key/,
        });
        const withOwnKid = await assertion(agent, { key: other.privateKey });
        await refused(() => tokenRequest(agent.id, withOwnKid), {
          status: 401,
          error: 'invalid_client',
          description: /signature/,
        });
      });

      it('refuses an assertion with an unknown `kid`', async () => {
        const jwt = await assertion(agent, { header: { kid: 'no-such-key' } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /unknown key `no-such-key`/,
        });
      });

      it('records a refusal quoting a `kid` that is not well-formed Unicode without breaking the audit chain', async () => {
        const jwt = await assertion(agent, { header: { kid: 'bad-\ud800-kid' } });
        await refused(() => tokenRequest(agent.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /unknown key/,
        });
        const verify = await t.api('GET', '/api/v1/audit/verify');
        assert.equal(verify.status, 200, JSON.stringify(verify.body));
        assert.equal((verify.body as { ok: boolean }).ok, true, JSON.stringify(verify.body));
      });

      it('refuses two client authentication methods at once', async () => {
        const basic = `Basic ${Buffer.from(`${agent.id}:secret`).toString('base64')}`;
        const jwt = await assertion(agent);
        await refused(() => tokenRequest(agent.id, jwt, {}, { authorization: basic }), {
          status: 400,
          error: 'invalid_request',
          description: /more than one/,
        });
        await refused(() => tokenRequest(agent.id, jwt, { client_secret: 'secret' }), {
          status: 400,
          error: 'invalid_request',
          description: /more than one/,
        });
      });

      it('refuses a repeated parameter', async () => {
        const jwt = await assertion(agent);
        await refused(() => tokenRequest(agent.id, jwt, { scope: ['read', 'write'] }), {
          status: 400,
          error: 'invalid_request',
          description: /`scope` is repeated/,
          // the refusal is recorded without a target: the form that names the client did not parse
          audited: 'anonymous',
        });
        const form = tokenForm(agent.id, jwt, { resource: API, grant_type: 'client_credentials' });
        await refused(() => postForm(tokenUrl, form), {
          status: 400,
          error: 'invalid_request',
          description: /`grant_type` is repeated/,
          audited: 'anonymous',
        });
      });

      it('answers GET on the token endpoint with 405', async () => {
        const form = tokenForm(agent.id, await assertion(agent), { resource: API });
        const res = await refused(
          async () => {
            const response = await fetch(`${tokenUrl}?${form}`);
            const body: unknown = await response.json();
            return { status: response.status, headers: response.headers, body: isJson(body) ? body : {} };
          },
          { status: 405, error: 'invalid_request', audited: null },
        );
        assert.equal(res.headers.get('allow'), 'POST');
      });

      it('refuses a JSON body', async () => {
        const form = tokenForm(agent.id, await assertion(agent), { resource: API });
        await refused(
          () =>
            postForm(tokenUrl, JSON.stringify(Object.fromEntries(form)), {
              'content-type': 'application/json',
            }),
          {
            status: 400,
            error: 'invalid_request',
            description: /x-www-form-urlencoded/,
            audited: 'anonymous',
          },
        );
      });

      it('refuses an unknown grant type', async () => {
        const jwt = await assertion(agent);
        const form = tokenForm(agent.id, jwt, { resource: API });
        form.set('grant_type', 'password');
        await refused(() => postForm(tokenUrl, form), { status: 400, error: 'unsupported_grant_type' });
      });

      it('refuses a scope the agent may not have', async () => {
        const jwt = await assertion(agent);
        await refused(() => tokenRequest(agent.id, jwt, { scope: 'read admin' }), {
          status: 400,
          error: 'invalid_scope',
          description: /`admin`/,
        });
      });

      it('refuses a resource the agent may not address', async () => {
        const jwt = await assertion(agent);
        const form = tokenForm(agent.id, jwt, { resource: OTHER_API });
        await refused(() => postForm(tokenUrl, form), {
          status: 400,
          error: 'invalid_target',
          description: /other\.example\.com/,
        });
      });

      it('refuses a suspended agent', async () => {
        const bot = await createAgent(t, owner);
        const res = await t.api('POST', `/api/v1/agents/${bot.id}/suspend`, { body: { reason: 'e2e' } });
        assert.equal(res.status, 200);
        const jwt = await assertion(bot);
        await refused(() => tokenRequest(bot.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /suspended/,
          audited: bot.id,
        });
      });

      it('refuses a decommissioned agent', async () => {
        const bot = await createAgent(t, owner);
        const res = await t.api('POST', `/api/v1/agents/${bot.id}/decommission`, { body: { reason: 'e2e' } });
        assert.equal(res.status, 200);
        const jwt = await assertion(bot);
        await refused(() => tokenRequest(bot.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /decommissioned/,
          audited: bot.id,
        });
      });

      it('refuses an expired agent', async () => {
        const bot = await createAgent(t, owner);
        const updated = await t.server.store.agents.update(
          bot.id,
          { expiresAt: Date.now() - 1000 },
          Date.now(),
        );
        assert.ok(updated && updated.expiresAt < Date.now());
        const jwt = await assertion(bot);
        await refused(() => tokenRequest(bot.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /expired/,
          audited: bot.id,
        });
      });

      it('refuses a revoked key', async () => {
        const bot = await createAgent(t, owner);
        const res = await t.api('DELETE', `/api/v1/agents/${bot.id}/keys/${encodeURIComponent(bot.kid)}`);
        assert.equal(res.status, 200);
        const jwt = await assertion(bot);
        await refused(() => tokenRequest(bot.id, jwt), {
          status: 401,
          error: 'invalid_client',
          description: /revoked/,
          audited: bot.id,
        });
      });
    });

    describe('DPoP refusals at the token endpoint', () => {
      let keys: KeyPair;
      before(async () => {
        keys = await newKeyPair();
      });

      /** A token request for the DPoP-requiring agent with these DPoP header values. */
      const withProofs = async (proofs: readonly string[]) => {
        const body = tokenForm(dpopAgent.id, await assertion(dpopAgent), { resource: API }).toString();
        return rawPost(tokenUrl, body, {
          'content-type': 'application/x-www-form-urlencoded',
          ...(proofs.length > 0 ? { DPoP: proofs } : {}),
        });
      };
      const refusedProof = (proofs: readonly string[], description: RegExp) =>
        refused(() => withProofs(proofs), {
          status: 400,
          error: 'invalid_dpop_proof',
          description,
          audited: dpopAgent.id,
        });

      it('accepts a valid proof from the agent that requires DPoP (the baseline)', async () => {
        const res = await withProofs([await proof(keys)]);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.token_type, 'DPoP');
        remember(str(res.body.access_token));
      });

      it('refuses a missing proof when the agent requires DPoP', async () => {
        await refusedProof([], /must present a DPoP proof/);
      });

      it('refuses two DPoP headers', async () => {
        await refusedProof([await proof(keys), await proof(keys)], /exactly one/);
      });

      it('refuses a proof with the wrong `typ`', async () => {
        for (const typ of ['JWT', 'at+jwt']) {
          await refusedProof([await proof(keys, { header: { typ } })], /`typ`/);
        }
      });

      it('refuses an `alg: none` proof', async () => {
        const payload = { htm: 'POST', htu: tokenUrl, iat: epoch(), jti: randomJti() };
        const jwt = unsignedJwt({ typ: 'dpop+jwt', alg: 'none', jwk: keys.publicJwk }, payload);
        await refusedProof([jwt], /algorithm `none`/);
      });

      it('refuses a proof whose signature does not match its `jwk`', async () => {
        const impostor = await newKeyPair();
        await refusedProof([await proof(keys, { signWith: impostor.privateKey })], /signature/);
      });

      it('refuses a proof carrying a private key in its `jwk` header', async () => {
        const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
        const privateJwk = await jose.exportJWK(privateKey);
        assert.equal(typeof privateJwk.d, 'string');
        const { d: _d, ...publicPart } = privateJwk;
        const holder: KeyPair = { privateKey, publicKey: privateKey, publicJwk: publicPart };
        await refusedProof([await proof(holder, { header: { jwk: privateJwk } })], /private key/);
      });

      it('refuses a proof with the wrong `htm`', async () => {
        await refusedProof([await proof(keys, { htm: 'GET' })], /`htm`/);
      });

      it('refuses a proof with the wrong `htu`', async () => {
        for (const htu of [`${issuer}/oauth/introspect`, 'https://evil.example.com/oauth/token']) {
          await refusedProof([await proof(keys, { htu })], /`htu`/);
        }
      });

      it('refuses a proof whose `iat` is too old or in the future', async () => {
        const { dpopMaxAge, clockLeeway } = t.config;
        for (const iat of [epoch() - dpopMaxAge - clockLeeway - 10, epoch() + clockLeeway + 30]) {
          await refusedProof([await proof(keys, { iat })], /`iat`/);
        }
      });

      it('refuses a replayed proof', async () => {
        const jwt = await proof(keys);
        const first = await withProofs([jwt]);
        assert.equal(first.status, 200, JSON.stringify(first.body));
        remember(str(first.body.access_token));
        await refusedProof([jwt], /already been used/);
      });
    });

    describe('signing key rotation', () => {
      it('keeps every token verifiable while the keys rotate under continuous use', async () => {
        const bot = await createAgent(t, owner);
        const c = await realClient(issuer, bot);
        // A verifier that refreshes its cache often but may not refetch on an unknown kid:
        // it only succeeds because the next key is published before it signs anything.
        let fetches = 0;
        const verifier = jose.createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`), {
          cacheMaxAge: 200,
          cooldownDuration: 60_000,
          [jose.customFetch]: (url, options) => {
            fetches += 1;
            return fetch(url, options);
          },
        });
        const failures: string[] = [];
        const kids = new Set<string>();
        let first: string | undefined;
        let rotations = 0;
        let tokens = 0;
        const start = Date.now();
        let nextRotation = start + 450;
        while (Date.now() - start < 3000) {
          if (Date.now() >= nextRotation) {
            const rotated = await t.api('POST', '/api/v1/keys/rotate', { body: { reason: 'e2e rotation' } });
            assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
            rotations += 1;
            // at least 450 ms between rotations, even if an iteration stalls
            nextRotation = Date.now() + 450;
          }
          const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
          remember(token);
          first ??= token;
          tokens += 1;
          try {
            const { protectedHeader } = await verify(token, verifier);
            kids.add(String(protectedHeader.kid));
          } catch (error) {
            failures.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
          }
        }
        assert.deepEqual(failures, [], `${failures.length} of ${tokens} tokens failed to verify`);
        assert.ok(rotations >= 4, `rotated ${rotations} times`);
        assert.equal(kids.size, rotations + 1, 'every rotation switched the signing key');
        assert.ok(tokens >= 2 * rotations, `${tokens} tokens`);
        assert.ok(fetches >= 2);
        // the first token, signed by a long-retired key, still verifies with a fresh JWKS
        assert.ok(first);
        await verify(first, jose.createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`)));
        assert.equal((await introspect(first)).active, true);
      });

      it('stops verifying a token once its signing key has been removed from the JWKS', async () => {
        const clock = manualClock(Date.now());
        const s = await startServerWithClock(dialect, clock);
        try {
          const sIssuer = s.config.issuer;
          await s.api('POST', '/api/v1/users', { body: { email: 'clock@example.com', name: 'Clock' } });
          const rsToken = str(
            (await s.api('POST', '/api/v1/tokens', { body: { name: 'rs', role: 'resource_server' } })).body
              .token,
          );
          const bot = await createAgent(s, 'clock@example.com');
          const c = await realClient(sIssuer, bot);
          const sMeta = c.config.serverMetadata();
          const sRs = bearerClient(sMeta, rsToken);
          const { access_token: token } = await client.clientCredentialsGrant(c.config, { resource: API });
          remember(token);
          const verifyFresh = () =>
            jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(`${sIssuer}/oauth/jwks`)), {
              issuer: sIssuer,
              audience: API,
              typ: 'at+jwt',
            });
          const kid = String((await verifyFresh()).protectedHeader.kid);

          for (let i = 0; i < 2; i++) {
            assert.equal((await s.api('POST', '/api/v1/keys/rotate')).status, 200);
          }
          // retired twice over, but still published: still verifies, still active
          await verifyFresh();
          assert.equal((await client.tokenIntrospection(sRs, token)).active, true);

          clock.advance((3600 + s.config.clockLeeway) * 1000 + 1000);
          const rotated = await s.api('POST', '/api/v1/keys/rotate');
          assert.equal(rotated.status, 200);
          const kids = (rotated.body.items ?? []).filter(isJson).map((k) => k.kid);
          assert.ok(!kids.includes(kid), 'the retired key is deleted once its window has passed');
          const published = await (await fetch(`${sIssuer}/oauth/jwks`)).json();
          assert.ok(isJson(published) && Array.isArray(published.keys));
          assert.ok(!published.keys.some((k: unknown) => isJson(k) && k.kid === kid));

          await assert.rejects(verifyFresh(), jose.errors.JWKSNoMatchingKey);
          assert.deepEqual(await client.tokenIntrospection(sRs, token), { active: false });
        } finally {
          await s.close();
        }
      });
    });

    describe('workload identity federation', () => {
      let jwksServer: Server;
      let workloadIssuer: string;
      let workload: KeyPair;
      let federationId: string;
      let bot: TestAgent;
      const WORKLOAD_KID = 'cluster-key-1';
      const WORKLOAD_AUD = 'custos';

      before(async () => {
        workload = await newKeyPair();
        const body = JSON.stringify({
          keys: [{ ...workload.publicJwk, kid: WORKLOAD_KID, alg: 'ES256', use: 'sig' }],
        });
        jwksServer = createServer((req, res) => {
          if (req.url === '/openid/v1/jwks')
            res.writeHead(200, { 'content-type': 'application/json' }).end(body);
          else res.writeHead(404).end();
        });
        await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
        workloadIssuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
        bot = await createAgent(t, owner, { withKey: false, scopes: ['read'] });
        const keys = await t.api('GET', `/api/v1/agents/${bot.id}/keys`);
        assert.deepEqual(keys.body.items, [], 'the federated agent has no key');
        const added = await t.api('POST', '/api/v1/federation/issuers', {
          body: {
            issuer: workloadIssuer,
            jwksUri: `${workloadIssuer}/openid/v1/jwks`,
            audiences: [WORKLOAD_AUD],
            rules: [{ claims: { sub: WORKLOAD_SUB }, agent: bot.id }],
          },
        });
        assert.equal(added.status, 201, JSON.stringify(added.body));
        federationId = str(added.body.id);
      });
      after(async () => {
        jwksServer.closeAllConnections();
        await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
      });

      /** A workload token as a Kubernetes API server would mint it. */
      const workloadToken = (
        overrides: { claims?: Json; key?: jose.CryptoKey; kid?: string } = {},
      ): Promise<string> => {
        const now = epoch();
        return new jose.SignJWT({
          iss: workloadIssuer,
          sub: WORKLOAD_SUB,
          aud: WORKLOAD_AUD,
          iat: now,
          nbf: now,
          exp: now + 600,
          ...overrides.claims,
        })
          .setProtectedHeader({ alg: 'ES256', kid: overrides.kid ?? WORKLOAD_KID })
          .sign(overrides.key ?? workload.privateKey)
          .then(remember);
      };

      it('exchanges a workload token for an access token for the mapped agent', async () => {
        const jwt = await workloadToken();
        const res = await postForm(tokenUrl, tokenForm(null, jwt, { resource: API }));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.token_type, 'Bearer');
        const token = remember(str(res.body.access_token));
        const { payload } = await verify(token);
        assert.equal(payload.sub, bot.id);
        assert.equal(payload.client_id, bot.id);
        assert.equal(payload.scope, 'read');
        const info = await introspect(token);
        assert.equal(info.active, true);
        assert.equal(info.sub, bot.id);
        const issues = await auditEvents(t, { action: 'token.issue', target: bot.id });
        const issue = issues.find((e) => isJson(e.details) && e.details.tokenId === payload.jti);
        assert.ok(issue && isJson(issue.details));
        assert.equal(issue.details.credential, `federation:${federationId}`);
        // workload tokens are reusable for their lifetime (documented): a second exchange works too
        const again = await postForm(tokenUrl, tokenForm(bot.id, jwt, { resource: API }));
        assert.equal(again.status, 200, JSON.stringify(again.body));
        remember(str(again.body.access_token));
      });

      it('refuses a workload token for the wrong audience, an unmapped subject, or an unknown key', async () => {
        const stranger = await newKeyPair();
        const cases: Array<[string, Promise<string>, RegExp]> = [
          ['wrong audience', workloadToken({ claims: { aud: 'someone-else' } }), /`aud`/],
          [
            'unmapped sub',
            workloadToken({ claims: { sub: 'system:serviceaccount:ns:intruder' } }),
            /no federation rule/,
          ],
          ['unknown kid', workloadToken({ key: stranger.privateKey, kid: 'cluster-key-9' }), /unknown key/],
          ['known kid, other key', workloadToken({ key: stranger.privateKey }), /signature/],
          [
            'expired',
            workloadToken({ claims: { iat: epoch() - 900, nbf: epoch() - 900, exp: epoch() - 300 } }),
            /expired/,
          ],
        ];
        for (const [name, pending, description] of cases) {
          const jwt = await pending;
          const res = await refused(() => postForm(tokenUrl, tokenForm(bot.id, jwt, { resource: API })), {
            status: 401,
            error: 'invalid_client',
            description,
            audited: bot.id,
          });
          assert.equal(res.status, 401, name);
        }
        // a workload token cannot be used for another agent than its rule's
        await refused(
          async () => postForm(tokenUrl, tokenForm(other.id, await workloadToken(), { resource: API })),
          { status: 401, error: 'invalid_client', description: /`client_id`/, audited: other.id },
        );
      });

      it('makes tokens obtained through an issuer inactive once the issuer is removed', async () => {
        const res = await postForm(tokenUrl, tokenForm(bot.id, await workloadToken(), { resource: API }));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const token = remember(str(res.body.access_token));
        assert.equal((await introspect(token)).active, true);
        const removed = await t.api('DELETE', `/api/v1/federation/issuers/${federationId}`);
        assert.equal(removed.status, 204);
        assert.deepEqual(await introspect(token), { active: false });
        await refused(
          async () => postForm(tokenUrl, tokenForm(bot.id, await workloadToken(), { resource: API })),
          { status: 401, error: 'invalid_client', audited: bot.id },
        );
      });
    });

    describe('audit hygiene', () => {
      it('records no assertion, DPoP proof or access token handled by this suite in any audit event', async () => {
        assert.ok(secrets.size >= 50, `${secrets.size} credentials were tracked`);
        const all = JSON.stringify(await auditEvents(t));
        const leaked = [...secrets].filter((signature) => all.includes(signature));
        assert.deepEqual(leaked, []);
      });
    });
  });
}
