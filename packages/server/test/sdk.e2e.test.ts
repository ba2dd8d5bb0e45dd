import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CustosSdkError, createAgentClient, verifyAccessToken } from '@custos/sdk';
import { exportJWK, generateKeyPair } from 'jose';
import { startTestServer, type TestServer } from './support/server.js';

/** The SDK against a real Custos server and a real resource server, both on loopback. */
describe('@custos/sdk against a real server', () => {
  let t: TestServer;
  let resourceUrl: string;
  let agentId: string;
  let privateJwk: Record<string, unknown>;
  const close: Array<() => void> = [];
  const seen: Array<{ status: number; sub?: string; jkt?: string }> = [];

  before(async () => {
    t = await startTestServer('sqlite');
    const resource = createServer(async (req, res) => {
      try {
        const verified = await verifyAccessToken(
          { method: req.method ?? 'GET', url: `${resourceUrl}${req.url ?? '/'}`, headers: req.headers },
          { issuer: t.url, audience: resourceUrl, requiredScopes: ['read'] },
        );
        seen.push({
          status: 200,
          sub: verified.claims.sub,
          ...(verified.dpopJkt ? { jkt: verified.dpopJkt } : {}),
        });
        res.end(JSON.stringify({ hello: verified.claims.sub }));
      } catch (error) {
        const e = error as CustosSdkError;
        seen.push({ status: e.status });
        res.statusCode = e.status;
        if (e.wwwAuthenticate) res.setHeader('www-authenticate', e.wwwAuthenticate);
        res.end(JSON.stringify({ error: e.code }));
      }
    });
    await new Promise<void>((r) => resource.listen(0, '127.0.0.1', r));
    resourceUrl = `http://127.0.0.1:${(resource.address() as AddressInfo).port}`;
    close.push(() => resource.close());
    await t.api('POST', '/api/v1/users', { body: { email: 'sdk@example.com', name: 'SDK' } });
    const agent = await t.api('POST', '/api/v1/agents', {
      body: {
        name: 'sdk-agent',
        owner: 'sdk@example.com',
        allowedScopes: ['read', 'write'],
        allowedAudiences: [resourceUrl],
        requireDpop: true,
      },
    });
    agentId = String(agent.body.id);
    const pair = await generateKeyPair('ES256', { extractable: true });
    const key = await t.api('POST', `/api/v1/agents/${agentId}/keys`, {
      body: { jwk: await exportJWK(pair.publicKey) },
    });
    privateJwk = { ...(await exportJWK(pair.privateKey)), kid: String(key.body.kid), alg: 'ES256' };
  });
  after(async () => {
    for (const c of close) c();
    await t.close();
  });

  it('gets a DPoP-bound token and calls a resource that verifies it', async () => {
    const client = createAgentClient({ issuer: t.url, agentId, privateKey: privateJwk });
    const token = await client.getToken({ scope: 'read', resource: resourceUrl });
    assert.equal(token.tokenType, 'DPoP');
    assert.deepEqual(token.scope, ['read']);
    const again = await client.getToken({ scope: 'read', resource: resourceUrl });
    assert.equal(again.accessToken, token.accessToken, 'the token is cached');
    const response = await client.fetch(`${resourceUrl}/things?x=1`, undefined, {
      scope: 'read',
      resource: resourceUrl,
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { hello: agentId });
    assert.equal(seen.at(-1)?.jkt, await client.dpopThumbprint());
  });

  it('is refused by the resource when the token lacks the required scope, and by Custos when the agent is suspended', async () => {
    const client = createAgentClient({ issuer: t.url, agentId, privateKey: privateJwk });
    const writeOnly = await client.fetch(`${resourceUrl}/x`, undefined, {
      scope: 'write',
      resource: resourceUrl,
    });
    assert.equal(writeOnly.status, 403);
    assert.match(writeOnly.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    await t.api('POST', `/api/v1/agents/${agentId}/suspend`, { body: { reason: 'sdk test' } });
    const fresh = createAgentClient({ issuer: t.url, agentId, privateKey: privateJwk });
    await assert.rejects(fresh.getToken({ scope: 'read', resource: resourceUrl }), (error: unknown) => {
      assert.ok(error instanceof CustosSdkError);
      assert.equal(error.code, 'token_request_failed');
      assert.equal(error.oauthError, 'invalid_client');
      return true;
    });
  });
});
