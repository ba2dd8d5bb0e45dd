import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../src/core/index.js';
import { useApproval } from '../src/governance/approvals.js';
import { DIALECTS } from './support/databases.js';
import {
  auditEvents,
  createAgent,
  dpopProof,
  type Json,
  newKeyPair,
  signAssertion,
  type TestAgent,
  tokenForm,
  unsignedJwt,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const RESOURCE = 'https://api.example.com';

for (const dialect of DIALECTS) {
  describe(`what callers send with control characters (${dialect})`, () => {
    let t: TestServer;
    let agent: TestAgent;
    const grant = async (assertion: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${t.url}/oauth/token`, {
        method: 'POST',
        headers,
        body: tokenForm(agent.id, assertion, { resource: RESOURCE }),
      });
      return { status: response.status, body: (await response.json()) as Json };
    };

    before(async () => {
      t = await startTestServer(dialect);
      await t.api('POST', '/api/v1/users', { body: { email: 'nul@example.com', name: 'Owner' } });
      agent = await createAgent(t, 'nul@example.com', { audiences: [RESOURCE] });
    });
    after(async () => t?.close());

    it('records a refusal that quotes a NUL, and other grants of its batch go through', async () => {
      // PostgreSQL refuses NUL in text: the refusal's record would fail, and its whole batch with it
      const refusals = [
        // (no agent needed for this one: the algorithm is refused before anything else)
        Promise.resolve(unsignedJwt({ alg: 'ES256\u0000' }, { iss: agent.id, sub: agent.id })),
        signAssertion(t.config.issuer, agent, { header: { kid: 'k\u0000' } }),
      ];
      const answers = await Promise.all([
        ...refusals.map(async (a) => grant(await a)),
        ...Array.from({ length: 6 }, async () => grant(await signAssertion(t.config.issuer, agent))),
      ]);
      for (const refused of answers.slice(0, 2)) {
        assert.equal(refused.status, 401, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'invalid_client');
      }
      for (const granted of answers.slice(2)) assert.equal(granted.status, 200, JSON.stringify(granted.body));
      const reasons = (await auditEvents(t, { action: 'token.refuse' })).map((e) => String(e.reason));
      assert.ok(
        reasons.some((r) => r.includes('`ES256\uFFFD`')),
        reasons.join('\n'),
      );
      // a `kid` is looked up as text (PostgreSQL refuses NUL even in a query): refused before
      assert.ok(
        reasons.some((r) => r.includes('`kid` has a control character')),
        reasons.join('\n'),
      );
      const verified = await t.api('GET', '/api/v1/audit/verify');
      assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
    });

    it('refuses a NUL anywhere in an admin API request, and changes nothing', async () => {
      const before = await t.api('GET', '/api/v1/users');
      const created = await t.api('POST', '/api/v1/users', {
        body: { email: 'zero@example.com', name: 'Ze\u0000ro' },
      });
      assert.equal(created.status, 400, JSON.stringify(created.body));
      assert.deepEqual(created.body.errors, [
        { pointer: '/name', detail: 'text must not contain NUL (U+0000)' },
      ]);
      const looked = await t.api('GET', '/api/v1/agents/agt%00');
      assert.equal(looked.status, 400, JSON.stringify(looked.body));
      assert.equal((looked.body.errors as Json[])[0]?.pointer, '/params/id');
      const listed = await t.api('GET', '/api/v1/agents?owner=%00');
      assert.equal(listed.status, 400, JSON.stringify(listed.body));
      assert.equal((listed.body.errors as Json[])[0]?.pointer, '/query/owner');
      assert.deepEqual((await t.api('GET', '/api/v1/users')).body, before.body);
    });

    it('refuses a single-use identifier with a control character', async () => {
      const jti = await grant(
        await signAssertion(t.config.issuer, agent, { claims: { jti: 'abcdefgh\u0000' } }),
      );
      assert.equal(jti.status, 401);
      assert.match(String(jti.body.error_description), /control character/);
      const keys = await newKeyPair();
      const proof = await dpopProof(keys, { htu: `${t.config.issuer}/oauth/token`, jti: 'abcdefgh\u0001' });
      const bound = await grant(await signAssertion(t.config.issuer, agent), { dpop: proof });
      assert.equal(bound.status, 400);
      assert.equal(bound.body.error, 'invalid_dpop_proof');
      assert.match(String(bound.body.error_description), /control character/);
    });

    it('answers a NUL in a token to revoke, a subject token’s issuer or an approval reference precisely', async () => {
      // PostgreSQL refuses NUL even in a query's parameters: a look-up by one finds nothing instead
      const revoke = await fetch(`${t.url}/oauth/revoke`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.adminToken}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: unsignedJwt({ alg: 'ES256' }, { jti: 'abc\u0000def' }) }),
      });
      assert.equal(revoke.status, 200, 'RFC 7009: an unknown token is answered 200');
      assert.deepEqual(await revoke.json(), {});

      const exchange = await fetch(`${t.url}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          client_id: agent.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await signAssertion(t.config.issuer, agent),
          subject_token: unsignedJwt({ alg: 'ES256' }, { iss: 'https://idp\u0000.example', sub: 'x' }),
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          resource: RESOURCE,
        }),
      });
      const refused = (await exchange.json()) as Json;
      assert.equal(exchange.status, 400, JSON.stringify(refused));
      assert.equal(refused.error, 'invalid_request');
      assert.equal(
        refused.error_description,
        "the subject token's issuer `https://idp\u0000.example` is not trusted",
      );

      const problem = await useApproval(
        { store: t.server.store, clock: systemClock, ttlMs: 60_000 },
        'apr_\u0000',
        {
          agentId: agent.id,
          personId: null,
          action: 'tools/call',
          resource: { type: 'Tool', id: 's/t' },
          args: {},
        },
        'owner',
        null,
      );
      assert.match(String(problem), /not one/);
    });
  });
}
