import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAgentClient } from '@custos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RunningServer } from '../src/http/index.js';
import { type RunningUpstream, startEverything } from './support/mcp-upstreams.js';
import {
  auditEvents,
  createAgent,
  isJson,
  type Json,
  postForm,
  startSecondNode,
  type TestAgent,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Revocation within a second across processes sharing PostgreSQL: an MCP
 * session on node B keeps calling while node A suspends the agent, revokes its
 * key or revokes one of its tokens; node B must refuse within a second, with
 * no restart and long before the token expires (the change feed: LISTEN/NOTIFY).
 */
describe('gateway revocation across two nodes (postgres)', () => {
  let a: TestServer;
  let b: RunningServer;
  let everything: RunningUpstream;
  let issuer: string;
  let resource: string;

  before(async () => {
    everything = await startEverything();
    a = await startTestServer('postgres');
    issuer = a.config.issuer;
    resource = `${issuer}/mcp/everything`;
    await a.api('POST', '/api/v1/users', { body: { email: 'rev@example.com', name: 'Owner' } });
    const added = await a.api('POST', '/api/v1/gateway/servers', {
      body: { name: 'everything', transport: { type: 'http', url: everything.url } },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    b = await startSecondNode(a);
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await everything?.stop();
  });

  async function connectedAgent(): Promise<{
    agent: TestAgent;
    client: Client;
    token: () => Promise<string>;
  }> {
    const agent = await createAgent(a, 'rev@example.com', { audiences: [resource] });
    const granted = await a.api('POST', '/api/v1/grants', {
      body: {
        principal: { type: 'Agent', id: agent.id },
        action: 'tools/call',
        resource: { type: 'Tool', id: 'everything/echo' },
        reason: 'test',
      },
    });
    assert.equal(granted.status, 201);
    // Bearer tokens: node B is reached at its own address, which is not the issuer's (DPoP `htu` would differ)
    const agentClient = createAgentClient({
      issuer,
      agentId: agent.id,
      privateKey: agent.privateKey,
      privateKeyId: agent.kid,
      privateKeyAlg: 'ES256',
      dpop: false,
    });
    const transport = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/everything`), {
      fetch: (url, init) => agentClient.fetch(url, init, { resource }),
    });
    const client = new Client({ name: 'revocation-test', version: '1' });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    assert.ok(JSON.stringify(result).includes('Echo: hello'));
    return { agent, client, token: async () => (await agentClient.getToken({ resource })).accessToken };
  }

  /** Calls through node B until it refuses; returns how long after `since` that was. */
  async function refusedWithin(client: Client, since: number): Promise<number> {
    for (;;) {
      try {
        await client.callTool({ name: 'echo', arguments: { message: 'again' } });
      } catch {
        return Date.now() - since;
      }
      if (Date.now() - since > 5000) assert.fail('node B still accepts calls 5 s later');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('node B refuses a suspended agent within a second', async () => {
    const { agent, client } = await connectedAgent();
    const suspended = await a.api('POST', `/api/v1/agents/${agent.id}/suspend`, {
      body: { reason: 'kill switch' },
    });
    assert.equal(suspended.status, 200);
    const elapsed = await refusedWithin(client, Date.now());
    assert.ok(elapsed < 1000, `refused after ${elapsed} ms`);
    // the refused attempt is in the audit log, naming the suspended agent
    let refused: Json[] = [];
    for (let i = 0; i < 50 && refused.length === 0; i++) {
      refused = (await auditEvents(a, { action: 'gateway.refuse' })).filter(
        (e) => isJson(e.target) && e.target.id === agent.id,
      );
      if (refused.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(refused.length > 0, 'a gateway.refuse record');
    assert.equal(refused[0]?.outcome, 'denied');
    assert.equal((refused[0]?.details as Json | undefined)?.error, 'invalid_token');
    assert.match(String(refused[0]?.reason), /no longer active/);
  });

  it('node B refuses once the agent key the token came from is revoked', async () => {
    const { agent, client } = await connectedAgent();
    const revoked = await a.api('DELETE', `/api/v1/agents/${agent.id}/keys/${agent.kid}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const elapsed = await refusedWithin(client, Date.now());
    assert.ok(elapsed < 1000, `refused after ${elapsed} ms`);
  });

  it('node B refuses a single revoked token within a second', async () => {
    const { client, token } = await connectedAgent();
    const revoked = await postForm(`${issuer}/oauth/revoke`, new URLSearchParams({ token: await token() }), {
      authorization: `Bearer ${a.adminToken}`,
    });
    assert.equal(revoked.status, 200);
    const elapsed = await refusedWithin(client, Date.now());
    assert.ok(elapsed < 1000, `refused after ${elapsed} ms`);
  });
});
