import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAgentClient } from '@custos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RunningServer } from '../src/http/index.js';
import { runCli, succeeded } from './support/cli.js';
import { type RunningUpstream, startEverything } from './support/mcp-upstreams.js';
import { createAgent, postForm, startSecondNode, type TestAgent } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * The kill switch is effective at every gateway and at introspection within
 * one second: on one SQLite node (through the CLI), and across two nodes
 * sharing PostgreSQL (the change feed: LISTEN/NOTIFY), with no restart.
 */
describe('kill switch end to end', () => {
  let everything: RunningUpstream;
  before(async () => {
    everything = await startEverything();
  });
  after(async () => {
    await everything?.stop();
  });

  async function setUp(t: TestServer): Promise<string> {
    await t.api('POST', '/api/v1/users', { body: { email: 'kill@example.com', name: 'Owner' } });
    const added = await t.api('POST', '/api/v1/gateway/servers', {
      body: { name: 'everything', transport: { type: 'http', url: everything.url } },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    return `${t.config.issuer}/mcp/everything`;
  }

  /** An agent with an MCP session open at `gatewayUrl`, and its current access token. */
  async function connectedAgent(t: TestServer, gatewayUrl: string, resource: string) {
    const agent: TestAgent = await createAgent(t, 'kill@example.com', { audiences: [resource] });
    const granted = await t.api('POST', '/api/v1/grants', {
      body: {
        principal: { type: 'Agent', id: agent.id },
        action: 'tools/call',
        resource: { type: 'Tool', id: 'everything/echo' },
        reason: 'test',
      },
    });
    assert.equal(granted.status, 201);
    // Bearer tokens: a second node is reached at its own address, not the issuer's (DPoP `htu` would differ)
    const agentClient = createAgentClient({
      issuer: t.config.issuer,
      agentId: agent.id,
      privateKey: agent.privateKey,
      privateKeyId: agent.kid,
      privateKeyAlg: 'ES256',
      dpop: false,
    });
    const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/everything`), {
      fetch: (url, init) => agentClient.fetch(url, init, { resource }),
    });
    const client = new Client({ name: 'kill-test', version: '1' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    const token = (await agentClient.getToken({ resource })).accessToken;
    return { agent, client, token };
  }

  /** Calls until refused; how long after `since` that was. */
  async function refusedWithin(client: Client, since: number): Promise<number> {
    for (;;) {
      try {
        await client.callTool({ name: 'echo', arguments: { message: 'again' } });
      } catch {
        return Date.now() - since;
      }
      if (Date.now() - since > 5000) assert.fail('still accepted 5 s later');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const introspect = async (url: string, adminToken: string, token: string) =>
    (
      await postForm(`${url}/oauth/introspect`, new URLSearchParams({ token }), {
        authorization: `Bearer ${adminToken}`,
      })
    ).body;

  it('on one node: `custos agent kill` stops the gateway session and introspection within a second (sqlite)', async () => {
    const t = await startTestServer('sqlite');
    try {
      const resource = await setUp(t);
      const { agent, client, token } = await connectedAgent(t, t.url, resource);
      assert.equal((await introspect(t.url, t.adminToken, token)).active, true);
      const killed = await runCli(['agent', 'kill', agent.id, '--reason', 'credential leaked'], {
        url: t.url,
        token: t.adminToken,
      });
      const since = Date.now();
      const out = succeeded(killed);
      assert.match(out, /^status:\s+suspended$/m);
      assert.match(out, new RegExp(`^revokedKeys:\\s+${agent.kid}$`, 'm'));
      assert.deepEqual(await introspect(t.url, t.adminToken, token), { active: false });
      const elapsed = await refusedWithin(client, since);
      assert.ok(elapsed < 1000, `refused after ${elapsed} ms`);
      await client.close();
    } finally {
      await t.close();
    }
  });

  it('across two nodes sharing PostgreSQL: the other node refuses within a second', async () => {
    const a = await startTestServer('postgres');
    let b: RunningServer | undefined;
    try {
      const resource = await setUp(a);
      b = await startSecondNode(a);
      const { agent, client, token } = await connectedAgent(a, b.url, resource);
      const killed = await a.api('POST', `/api/v1/agents/${agent.id}/kill`, {
        body: { reason: 'incident 7' },
      });
      const since = Date.now();
      assert.equal(killed.status, 200, JSON.stringify(killed.body));
      assert.deepEqual(
        await introspect(b.url, a.adminToken, token),
        { active: false },
        'node B introspects it inactive at once',
      );
      const elapsed = await refusedWithin(client, since);
      assert.ok(elapsed < 1000, `node B refused after ${elapsed} ms`);
      await client.close();
    } finally {
      await b?.close();
      await a.close();
    }
  });
});
