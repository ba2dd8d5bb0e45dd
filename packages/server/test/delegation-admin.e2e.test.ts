import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { DIALECTS } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;

for (const dialect of DIALECTS) {
  describe(`delegation administration: identity providers and consents (${dialect})`, () => {
    let t: TestServer;
    let agentId: string;
    let aliceToken: string;
    before(async () => {
      t = await startTestServer(dialect);
      await t.api('POST', '/api/v1/users', { body: { email: 'alice@example.com', name: 'Alice' } });
      await t.api('POST', '/api/v1/users', { body: { email: 'bob@example.com', name: 'Bob' } });
      agentId = String(
        (await t.api('POST', '/api/v1/agents', { body: { name: 'assistant', owner: 'bob@example.com' } }))
          .body.id,
      );
      aliceToken = String(
        (
          await t.api('POST', '/api/v1/tokens', {
            body: { name: 'alice', role: 'owner', user: 'alice@example.com' },
          })
        ).body.token,
      );
    });
    after(() => t.close());

    it('trusts an identity provider with inline keys or a JWKS URL, once', async () => {
      const { publicKey } = await generateKeyPair('ES256', { extractable: true });
      const created = await t.api('POST', '/api/v1/idps', {
        body: {
          issuer: 'https://login.example.com',
          jwks: { keys: [await exportJWK(publicKey)] },
          audience: 'custos',
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(String(created.body.id), /^idp_/);
      assert.equal(created.body.claim, 'email');
      const dup = await t.api('POST', '/api/v1/idps', {
        body: {
          issuer: 'https://login.example.com',
          jwksUri: 'https://login.example.com/jwks',
          audience: 'custos',
        },
      });
      assert.equal(dup.status, 409);
      const both = await t.api('POST', '/api/v1/idps', {
        body: {
          issuer: 'https://b.example.com',
          jwksUri: 'https://b.example.com/j',
          jwks: { keys: [{ kty: 'oct', k: 'x' }] },
          audience: 'c',
        },
      });
      assert.equal(both.status, 400);
      const secretKey = await t.api('POST', '/api/v1/idps', {
        body: { issuer: 'https://c.example.com', jwks: { keys: [{ kty: 'oct', k: 'AAAA' }] }, audience: 'c' },
      });
      assert.equal(secretKey.status, 400);
      assert.match(String(secretKey.body.detail), /private material/);
      const listed = (await t.api('GET', '/api/v1/idps')).body.items as Json[];
      assert.deepEqual(
        listed.map((i) => i.issuer),
        ['https://login.example.com'],
      );
      const linked = await t.api('POST', `/api/v1/idps/${created.body.id}/links`, {
        body: { subject: '00u-alice', user: 'alice@example.com' },
      });
      assert.equal(linked.status, 201);
      assert.equal(
        await t.server.store.identityProviders.userFor(String(created.body.id), '00u-alice'),
        linked.body.user,
      );
      assert.equal((await t.api('DELETE', `/api/v1/idps/${created.body.id}`)).status, 204);
      assert.equal((await t.api('DELETE', `/api/v1/idps/${created.body.id}`)).status, 404);
    });

    it('records a consent (admin, or the person with an owner token) and revokes it with its tokens', async () => {
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const byAlice = await t.api('POST', '/api/v1/consents', {
        token: aliceToken,
        body: { user: 'alice@example.com', agent: agentId, scopes: ['calendar.read'], expiresAt },
      });
      assert.equal(byAlice.status, 201, JSON.stringify(byAlice.body));
      const forBob = await t.api('POST', '/api/v1/consents', {
        token: aliceToken,
        body: { user: 'bob@example.com', agent: agentId, scopes: ['mail.send'], expiresAt },
      });
      assert.equal(forBob.status, 403);
      const past = await t.api('POST', '/api/v1/consents', {
        body: { user: 'alice@example.com', agent: agentId, scopes: ['x'], expiresAt: '2020-01-01T00:00:00Z' },
      });
      assert.equal(past.status, 400);
      const ghost = await t.api('POST', '/api/v1/consents', {
        body: {
          user: 'alice@example.com',
          agent: 'agt_00000000000000000000000000',
          scopes: ['x'],
          expiresAt,
        },
      });
      assert.equal(ghost.status, 400);

      // a delegated token derived from the consent (as token exchange records it)
      const now = Date.now();
      await t.server.store.issuedTokens.insert({
        jti: 'delegated-1',
        agentId,
        credential: 'key:k',
        issuedAt: now,
        expiresAt: now + 300_000,
        revokedAt: null,
        subject: String(byAlice.body.user),
        consentId: String(byAlice.body.id),
      });
      const mine = (await t.api('GET', '/api/v1/consents', { token: aliceToken })).body.items as Json[];
      assert.deepEqual(
        mine.map((c) => c.id),
        [byAlice.body.id],
      );
      const revoked = await t.api('DELETE', `/api/v1/consents/${byAlice.body.id}`, { token: aliceToken });
      assert.equal(revoked.status, 200);
      assert.ok(revoked.body.revokedAt);
      assert.notEqual((await t.server.store.issuedTokens.get('delegated-1'))?.revokedAt, null);
      assert.equal((await t.api('DELETE', `/api/v1/consents/${byAlice.body.id}`)).status, 409);
      const audit = await t.api('GET', `/api/v1/audit/events?target=${agentId}&action=consent.revoke`);
      const event = (audit.body.items as Json[])[0] ?? {};
      assert.equal((event.details as Json).revokedTokens, 1);
    });
  });
}
