// End to end: the agent client against the fake authorization server, calling a
// resource server (node:http) that guards itself with verifyAccessToken.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { type AgentClient, createAgentClient } from './agent-client.js';
import { CustosSdkError } from './errors.js';
import {
  type FakeAuthorizationServer,
  startFakeAuthorizationServer,
} from './test-support/fake-authorization-server.js';
import { verifyAccessToken } from './verify-access-token.js';

let as: FakeAuthorizationServer;
let api: Server;
let apiUrl: string;
let agent: AgentClient;

before(async () => {
  as = await startFakeAuthorizationServer();
  api = createServer((req, res) => {
    const url = `${apiUrl}${req.url ?? '/'}`;
    const requiredScopes = req.method === 'DELETE' ? ['orders:admin'] : ['orders:read'];
    verifyAccessToken(
      { method: req.method ?? 'GET', url, headers: req.headers },
      { issuer: as.issuer, audience: apiUrl, requiredScopes },
    ).then(
      ({ claims, dpopJkt }) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sub: claims.sub, dpopJkt }));
      },
      (error: unknown) => {
        if (!(error instanceof CustosSdkError)) throw error;
        res.writeHead(
          error.status,
          error.wwwAuthenticate ? { 'www-authenticate': error.wwwAuthenticate } : {},
        );
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  as.agents.set('agt_e2e', { kid: 'k1', alg: 'EdDSA', publicJwk: await exportJWK(publicKey) });
  agent = createAgentClient({
    issuer: as.issuer,
    agentId: 'agt_e2e',
    privateKey: { ...(await exportJWK(privateKey)), kid: 'k1' },
  });
});
after(async () => {
  api.closeAllConnections();
  await new Promise((resolve) => api.close(resolve));
  await as.close();
});

describe('agent client to resource server', () => {
  it('calls the resource with a DPoP-bound token the verifier accepts', async () => {
    const options = { scope: 'orders:read', resource: apiUrl };
    for (let i = 0; i < 3; i++) {
      const response = await agent.fetch(`${apiUrl}/orders/42?i=${i}`, { method: 'GET' }, options);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { sub: 'agt_e2e', dpopJkt: await agent.dpopThumbprint() });
    }
    assert.equal(as.tokenRequests.length, 1);
  });

  it('gets the 403 challenge of the verifier for a missing scope', async () => {
    const response = await agent.fetch(
      `${apiUrl}/orders/42`,
      { method: 'DELETE' },
      {
        scope: 'orders:read',
        resource: apiUrl,
      },
    );
    assert.equal(response.status, 403);
    assert.match(
      response.headers.get('www-authenticate') ?? '',
      /^DPoP error="insufficient_scope".*scope="orders:admin"/,
    );
  });

  it('is refused with the audience of another resource', async () => {
    const response = await agent.fetch(
      `${apiUrl}/orders/42`,
      {},
      { scope: 'orders:read', resource: 'https://x.example' },
    );
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });
});
