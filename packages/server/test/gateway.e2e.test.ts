import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createAgentClient } from '@custos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import * as jose from 'jose';
import { pino } from 'pino';
import { type Config, loadConfig } from '../src/config/index.js';
import { manualClock } from '../src/core/index.js';
import { startServer } from '../src/http/index.js';
import { generateAdminToken } from '../src/identity/index.js';
import { issueAccessToken, KeyRing } from '../src/oauth/index.js';
import { createTestDatabase, DIALECTS, type Dialect } from './support/databases.js';
import {
  FILESYSTEM_BIN,
  type RunningUpstream,
  type SeenRequest,
  startEverything,
  startGuard,
} from './support/mcp-upstreams.js';
import {
  auditEvents,
  boundToken,
  createAgent,
  dpopProof,
  isJson,
  type Json,
  newKeyPair,
  type TestAgent,
} from './support/oauth-client.js';
import { freePort, type TestServer } from './support/server.js';

const SECRET = `upstream-${randomBytes(18).toString('base64url')}`;

/** A test server whose log lines (at `trace`) are kept, to search them for secrets. */
async function startLoggedServer(
  dialect: Dialect,
  overrides: Partial<Config> = {},
): Promise<TestServer & { logs: string[] }> {
  const db = await createTestDatabase(dialect);
  const dataDir = await mkdtemp(join(tmpdir(), 'custos-gw-'));
  const adminToken = generateAdminToken();
  const loaded = loadConfig({
    env: { CUSTOS_BOOTSTRAP_TOKEN: adminToken },
    flags: { dataDir, databaseUrl: db.url, logLevel: 'trace' },
    cwd: dataDir,
  });
  const port = await freePort();
  const config: Config = Object.freeze({ ...loaded, port, issuer: `http://127.0.0.1:${port}`, ...overrides });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const server = await startServer(config, { logger: pino({ level: 'trace' }, sink) });
  return {
    url: server.url,
    adminToken,
    server,
    config,
    logs,
    async api(method, path, options = {}) {
      const token = options.token === undefined ? adminToken : options.token;
      const headers: Record<string, string> = { ...options.headers };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      const parsed =
        text && /json/.test(response.headers.get('content-type') ?? '')
          ? (JSON.parse(text) as Json)
          : text
            ? { text }
            : {};
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async close() {
      await server.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every byte an agent received, to search for the upstream secret. */
const received: string[] = [];

function recordingFetch(inner: (url: string | URL, init?: RequestInit) => Promise<Response>) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const response = await inner(url, init);
    const copy = response.clone();
    received.push([...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n'));
    if (!/event-stream/.test(response.headers.get('content-type') ?? '')) received.push(await copy.text());
    else
      void copy.text().then(
        (t) => received.push(t),
        () => undefined,
      );
    return response;
  };
}

/** An MCP client (the SDK's) that authenticates as `agent` through Custos' agent SDK (DPoP by default). */
async function mcpClient(
  issuer: string,
  base: string,
  agent: TestAgent,
  server: string,
  options: { dpop?: boolean } = {},
) {
  const resource = `${issuer}/mcp/${server}`;
  const agentClient = createAgentClient({
    issuer,
    agentId: agent.id,
    privateKey: agent.privateKey,
    privateKeyId: agent.kid,
    privateKeyAlg: 'ES256',
    dpop: options.dpop ?? true,
  });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp/${server}`), {
    fetch: recordingFetch((url, init) => agentClient.fetch(url, init, { resource })),
  });
  const client = new Client({ name: 'custos-test-agent', version: '1' });
  await client.connect(transport);
  return { client, transport, agentClient, resource };
}

const textOf = (result: unknown): string => {
  const content = isJson(result) && Array.isArray(result.content) ? result.content : [];
  return content.map((c) => (isJson(c) && typeof c.text === 'string' ? c.text : '')).join('');
};

async function refusedWith(promise: Promise<unknown>, code: number, pattern: RegExp): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof McpError, `expected an MCP error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail('the call was not refused');
}

for (const dialect of DIALECTS) {
  describe(`MCP gateway end to end (${dialect})`, () => {
    let t: TestServer & { logs: string[] };
    let everything: RunningUpstream;
    let guard: RunningUpstream & { seen: SeenRequest[] };
    let filesDir: string;
    let owner: string;
    let agent: TestAgent;
    let other: TestAgent;
    let issuer: string;
    const tokens: string[] = [];

    const grant = async (
      agentId: string,
      resource: { type: string; id: string },
      extra: Json = {},
      action = 'tools/call',
    ) => {
      const added = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'Agent', id: agentId },
          action,
          resource,
          reason: 'gateway test',
          ...extra,
        },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      return added.body;
    };

    before(async () => {
      everything = await startEverything();
      guard = await startGuard(everything.url, 'x-api-key', SECRET);
      filesDir = await mkdtemp(join(tmpdir(), 'custos-files-'));
      await writeFile(join(filesDir, 'notes.txt'), 'hello from the filesystem server\n');
      t = await startLoggedServer(dialect, { gatewayAllowedOrigins: ['https://console.example.com'] });
      issuer = t.config.issuer;
      owner = String(
        (await t.api('POST', '/api/v1/users', { body: { email: 'gw-owner@example.com', name: 'Owner' } }))
          .body.email,
      );
      assert.equal(
        (await t.api('PUT', '/api/v1/secrets/everything-key', { body: { value: SECRET } })).status,
        200,
      );
      const everythingServer = await t.api('POST', '/api/v1/gateway/servers', {
        body: {
          name: 'everything',
          transport: { type: 'http', url: guard.url },
          auth: { type: 'header', header: 'X-Api-Key', secret: 'everything-key' },
          limits: { perTool: { rate: 0.001, burst: 1000 } },
        },
      });
      assert.equal(everythingServer.status, 201, JSON.stringify(everythingServer.body));
      const files = await t.api('POST', '/api/v1/gateway/servers', {
        body: {
          name: 'files',
          transport: { type: 'stdio', command: process.execPath, args: [FILESYSTEM_BIN, filesDir] },
        },
      });
      assert.equal(files.status, 201, JSON.stringify(files.body));
      const audiences = [`${issuer}/mcp/everything`, `${issuer}/mcp/files`];
      agent = await createAgent(t, owner, { audiences });
      other = await createAgent(t, owner, { audiences });
      await grant(agent.id, { type: 'Tool', id: 'everything/echo' });
      await grant(other.id, { type: 'Tool', id: 'everything/echo' });
      await grant(
        agent.id,
        { type: 'Tool', id: 'everything/get-sum' },
        { condition: 'context.input.a < 100' },
      );
      await grant(agent.id, { type: 'McpServer', id: 'files' }, { scope: 'in' });
    });
    after(async () => {
      await t?.close();
      await guard?.stop();
      await everything?.stop();
      if (filesDir) await rm(filesDir, { recursive: true, force: true });
    });

    it('registers a server with its tools, typed for policies, and publishes RFC 9728 metadata', async () => {
      const shown = await t.api('GET', '/api/v1/gateway/servers/everything');
      assert.equal(shown.status, 200);
      assert.equal(shown.body.resource, `${issuer}/mcp/everything`);
      const tools = shown.body.tools as Json[];
      const sum = tools.find((tool) => tool.name === 'get-sum');
      assert.deepEqual(sum?.arguments, { a: 'Long', b: 'Long' });
      assert.equal(sum?.entity, 'Tool::"everything/get-sum"');
      assert.equal(JSON.stringify(shown.body).includes(SECRET), false);
      const schema = await t.api('GET', '/api/v1/schema');
      assert.match(String(schema.body.text), /type ToolInput = \{[^}]*"a": Long/);
      const metadata = await fetch(`${issuer}/.well-known/oauth-protected-resource/mcp/everything`);
      assert.equal(metadata.status, 200);
      const body = (await metadata.json()) as Json;
      assert.equal(body.resource, `${issuer}/mcp/everything`);
      assert.deepEqual(body.authorization_servers, [issuer]);
      assert.equal((await fetch(`${issuer}/.well-known/oauth-protected-resource/mcp/nope`)).status, 404);
    });

    it('lets a granted tool through with the injected credential, never the agent token', async () => {
      const { client, transport } = await mcpClient(issuer, t.url, agent, 'everything');
      const result = await client.callTool({ name: 'echo', arguments: { message: 'through the gateway' } });
      assert.equal(textOf(result), 'Echo: through the gateway');
      const upstream = guard.seen.filter((s) => s.method === 'POST');
      assert.ok(upstream.length >= 3);
      for (const seen of upstream) {
        assert.equal(seen.headers['x-api-key'], SECRET, 'the gateway injects the vault secret');
        assert.equal(seen.headers.authorization, undefined, 'the agent token never goes upstream');
        assert.equal(seen.headers.dpop, undefined, 'the DPoP proof never goes upstream');
      }
      await transport.terminateSession();
      await client.close();
    });

    it('hides tools without a grant and refuses calling them, with the reason', async () => {
      const { client } = await mcpClient(issuer, t.url, agent, 'everything');
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      assert.deepEqual(names, ['echo', 'get-sum']);
      const refusal = await refusedWith(
        client.callTool({ name: 'get-env', arguments: {} }),
        -32003,
        /`tools\/call` on `everything\/get-env` refused: no policy permits it/,
      );
      assert.deepEqual((refusal.data as Json).policies, []);
      await client.close();
    });

    it('enforces an argument condition of a grant', async () => {
      const { client } = await mcpClient(issuer, t.url, agent, 'everything');
      assert.equal(
        textOf(await client.callTool({ name: 'get-sum', arguments: { a: 5, b: 7 } })),
        'The sum of 5 and 7 is 12.',
      );
      await refusedWith(client.callTool({ name: 'get-sum', arguments: { a: 500, b: 7 } }), -32003, /refused/);
      await client.close();
    });

    it('refuses a forbid on an argument, naming the policy', async () => {
      const put = await t.api('PUT', '/api/v1/policies', {
        body: {
          reason: 'no secrets in echo',
          policies: [
            {
              id: 'no-secret-echo',
              text: 'forbid (principal, action == Action::"tools/call", resource == Tool::"everything/echo") when { context.input has message && context.input.message like "*password*" };',
            },
          ],
        },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const { client } = await mcpClient(issuer, t.url, agent, 'everything');
      const refusal = await refusedWith(
        client.callTool({ name: 'echo', arguments: { message: 'my password' } }),
        -32003,
        /forbidden by `no-secret-echo`/,
      );
      assert.deepEqual((refusal.data as Json).policies, ['no-secret-echo']);
      assert.equal(
        textOf(await client.callTool({ name: 'echo', arguments: { message: 'fine' } })),
        'Echo: fine',
      );
      await client.close();
    });

    it('validates policies against the tools’ real argument types', async () => {
      const typo = await t.api('PUT', '/api/v1/policies', {
        body: {
          reason: 'typo',
          dryRun: true,
          policies: [
            {
              id: 'typo',
              text: 'permit (principal, action == Action::"tools/call", resource) when { context.input.amout < 500 };',
            },
          ],
        },
      });
      assert.equal(typo.status, 400);
      assert.match(JSON.stringify(typo.body), /amout/);
      const wrongType = await t.api('PUT', '/api/v1/policies', {
        body: {
          reason: 'type',
          dryRun: true,
          policies: [
            {
              id: 'type',
              text: 'permit (principal, action == Action::"tools/call", resource) when { context.input.a == "five" };',
            },
          ],
        },
      });
      assert.equal(wrongType.status, 400);
      const good = await t.api('PUT', '/api/v1/policies', {
        body: {
          reason: 'ok',
          dryRun: true,
          policies: [
            {
              id: 'ok',
              text: 'permit (principal, action == Action::"tools/call", resource) when { context.input.a < 500 };',
            },
          ],
        },
      });
      assert.equal(good.status, 200, JSON.stringify(good.body));
    });

    it('runs a stdio server it supervises and decides its tools', async () => {
      const { client } = await mcpClient(issuer, t.url, agent, 'files');
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes('read_text_file'), names.join(','));
      const read = await client.callTool({
        name: 'read_text_file',
        arguments: { path: join(filesDir, 'notes.txt') },
      });
      assert.match(textOf(read), /hello from the filesystem server/);
      await client.close();
      const { client: denied } = await mcpClient(issuer, t.url, other, 'files');
      assert.deepEqual((await denied.listTools()).tools, []);
      await refusedWith(
        denied.callTool({ name: 'read_text_file', arguments: { path: join(filesDir, 'notes.txt') } }),
        -32003,
        /refused/,
      );
      await denied.close();
      // clients ask a stdio server for a stream after `initialize`: a 405, not a refusal to record
      const refusals = await auditEvents(t, { action: 'gateway.refuse' });
      assert.equal(
        refusals.filter((e) => isJson(e.details) && e.details.error === 'method_not_allowed').length,
        0,
        JSON.stringify(refusals),
      );
    });

    it('binds a session to the agent that opened it', async () => {
      const { client, transport } = await mcpClient(issuer, t.url, agent, 'everything');
      const sessionId = transport.sessionId;
      assert.ok(sessionId);
      const otherClient = createAgentClient({
        issuer,
        agentId: other.id,
        privateKey: other.privateKey,
        privateKeyId: other.kid,
        privateKeyAlg: 'ES256',
      });
      const hijack = await otherClient.fetch(
        `${t.url}/mcp/everything`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': sessionId,
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        },
        { resource: `${issuer}/mcp/everything` },
      );
      assert.equal(hijack.status, 403);
      assert.match(await hijack.text(), /opened by another agent/);
      await client.close();
      // the attempt is recorded, naming the agent whose token tried it
      let hijacks: Json[] = [];
      for (let i = 0; i < 50 && hijacks.length === 0; i++) {
        hijacks = (await auditEvents(t, { action: 'gateway.refuse' })).filter(
          (e) => isJson(e.details) && e.details.error === 'forbidden',
        );
        if (hijacks.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(hijacks.length, 1, JSON.stringify(hijacks));
      assert.deepEqual(hijacks[0]?.target, { type: 'agent', id: other.id });
      assert.match(String(hijacks[0]?.reason), /^forbidden: this MCP session was opened by another agent$/);
    });

    it('refuses a token issued for another server, with a challenge pointing to the metadata', async () => {
      const filesClient = createAgentClient({
        issuer,
        agentId: agent.id,
        privateKey: agent.privateKey,
        privateKeyId: agent.kid,
        privateKeyAlg: 'ES256',
        dpop: false,
      });
      const token = await filesClient.getToken({ resource: `${issuer}/mcp/files` });
      tokens.push(token.accessToken);
      const response = await fetch(`${t.url}/mcp/everything`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token.accessToken}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'x', version: '1' },
          },
        }),
      });
      assert.equal(response.status, 401);
      const challenge = response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /error="invalid_token"/);
      assert.match(
        challenge,
        new RegExp(`resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp/everything"`),
      );
      assert.match(await response.text(), /not for this resource/);
    });

    it('refuses a suspended agent on its next request (within a second)', async () => {
      const victim = await createAgent(t, owner, { audiences: [`${issuer}/mcp/everything`] });
      await grant(victim.id, { type: 'Tool', id: 'everything/echo' });
      const { client } = await mcpClient(issuer, t.url, victim, 'everything');
      assert.equal(
        textOf(await client.callTool({ name: 'echo', arguments: { message: 'before' } })),
        'Echo: before',
      );
      const suspended = await t.api('POST', `/api/v1/agents/${victim.id}/suspend`, {
        body: { reason: 'kill switch test' },
      });
      assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
      const at = Date.now();
      await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'after' } }));
      assert.ok(Date.now() - at < 1000);
      await client.close().catch(() => undefined);
    });

    it('records every call: agent, tool, decision and policies, upstream status, latency, bytes, hashed arguments', async () => {
      let events: Json[] = [];
      for (let i = 0; i < 50; i++) {
        events = await auditEvents(t, { action: 'gateway.call' });
        if (
          events.some(
            (e) =>
              isJson(e.details) &&
              e.details.upstreamStatus === 200 &&
              e.details.resource === 'Tool::"everything/echo"',
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const allowed = events.find(
        (e) =>
          isJson(e.details) && e.details.resource === 'Tool::"everything/echo"' && e.outcome === 'success',
      );
      assert.ok(allowed, 'an allowed echo call is recorded');
      const d = allowed.details as Json;
      assert.equal((allowed.actor as Json).id, agent.id);
      assert.equal(d.decision, 'allow');
      assert.ok(
        Array.isArray(d.policies) && d.policies.length === 1 && String(d.policies[0]).startsWith('grt_'),
      );
      assert.equal(d.upstreamStatus, 200);
      assert.equal(typeof d.latencyMs, 'number');
      assert.ok(Number(d.bytesIn) > 0 && Number(d.bytesOut) > 0);
      assert.match(String(d.argumentsHash), /^hmac-sha256:/);
      assert.equal(d.arguments, undefined, 'arguments are kept only as a keyed hash by default');
      const denied = events.find(
        (e) =>
          e.outcome === 'denied' && isJson(e.details) && e.details.resource === 'Tool::"everything/get-env"',
      );
      assert.ok(denied);
      assert.match(String(denied.reason), /no policy permits it/);
      const authorizations = await auditEvents(t, { action: 'gateway.authorize' });
      assert.ok(authorizations.length > 0, 'durable mode records the authorization before the call');
    });

    it('never lets the upstream secret reach the agent, the logs or the audit log', async () => {
      const forms = [
        SECRET,
        Buffer.from(SECRET).toString('base64'),
        Buffer.from(SECRET).toString('base64url'),
        Buffer.from(SECRET).toString('hex'),
        encodeURIComponent(`x-api-key=${SECRET}`).split('%3D')[1] as string,
        encodeURIComponent(SECRET),
      ];
      const audit = JSON.stringify(await auditEvents(t));
      const logs = t.logs.join('\n');
      assert.ok(logs.length > 1000, 'the server logged (at trace level)');
      assert.ok(received.length > 10, 'agent responses were captured');
      for (const form of forms) {
        assert.equal(received.join('\n').includes(form), false, `agent received ${form}`);
        assert.equal(logs.includes(form), false, `logs contain ${form}`);
        assert.equal(audit.includes(form), false, `audit contains ${form}`);
      }
    });
  });
}

describe('MCP gateway refusals (sqlite)', () => {
  let t: TestServer & { logs: string[] };
  let everything: RunningUpstream;
  let agent: TestAgent;
  let issuer: string;
  let resource: string;
  let bearer: string;

  const rpc = (token: string | null, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.url}/mcp/everything`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
  };

  /** Grants the agent every tool of the `everything` server. */
  const mayCallEverything = (agentId: string) =>
    t.api('POST', '/api/v1/grants', {
      body: {
        principal: { type: 'Agent', id: agentId },
        action: 'tools/call',
        resource: { type: 'McpServer', id: 'everything' },
        scope: 'in',
        reason: 'test',
      },
    });

  before(async () => {
    everything = await startEverything();
    t = await startLoggedServer('sqlite', { gatewayBodyLimit: 4096 });
    issuer = t.config.issuer;
    resource = `${issuer}/mcp/everything`;
    await t.api('POST', '/api/v1/users', { body: { email: 'gw2@example.com', name: 'Owner' } });
    const added = await t.api('POST', '/api/v1/gateway/servers', {
      body: {
        name: 'everything',
        transport: { type: 'http', url: everything.url },
        limits: { perTool: { rate: 0.01, burst: 2 } },
      },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    agent = await createAgent(t, 'gw2@example.com', { audiences: [resource] });
    await mayCallEverything(agent.id);
    const client = createAgentClient({
      issuer,
      agentId: agent.id,
      privateKey: agent.privateKey,
      privateKeyId: agent.kid,
      privateKeyAlg: 'ES256',
      dpop: false,
    });
    bearer = (await client.getToken({ resource })).accessToken;
  });
  after(async () => {
    await t?.close();
    await everything?.stop();
  });

  it('asks for a token with a challenge when there is none (RFC 6750 §3.1, RFC 9728 §5.1)', async () => {
    const response = await rpc(null, init);
    assert.equal(response.status, 401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(
      challenge,
      /^Bearer realm="custos", resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp\/everything"/,
    );
    assert.match(challenge, /DPoP algs="/);
    assert.doesNotMatch(challenge, /error=/);
  });

  it('refuses an unknown server, a malformed header, a forged, an expired and a foreign token', async () => {
    assert.equal((await fetch(`${t.url}/mcp/nope`, { method: 'POST', body: '{}' })).status, 404);
    assert.equal((await rpc(null, init, { authorization: 'Basic abc' })).status, 400);
    const { privateKey } = await jose.generateKeyPair('ES256');
    const forged = await new jose.SignJWT({ client_id: agent.id, jti: 'x'.repeat(16) })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'nope' })
      .setIssuer(issuer)
      .setSubject(agent.id)
      .setAudience(resource)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const forgedResponse = await rpc(forged, init);
    assert.equal(forgedResponse.status, 401);
    assert.match(await forgedResponse.text(), /unknown key/);
    const keys = new KeyRing(
      { store: t.server.store, clock: manualClock(Date.now() - 3_600_000), master: t.server.master },
      { alg: 'ES256', retiredPublishMs: 0, rotationPeriodMs: 0, refreshMs: 0 },
    );
    await keys.initialize();
    const expired = await issueAccessToken(
      { keys, clock: manualClock(Date.now() - 3_600_000), issuer },
      { subject: agent.id, clientId: agent.id, audience: [resource], scopes: [], ttlSeconds: 300 },
    );
    const expiredResponse = await rpc(expired.token, init);
    assert.equal(expiredResponse.status, 401);
    assert.match(await expiredResponse.text(), /has expired/);
    const notRecorded = await issueAccessToken(
      { keys, clock: manualClock(Date.now()), issuer },
      { subject: agent.id, clientId: agent.id, audience: [resource], scopes: [], ttlSeconds: 300 },
    );
    const unknown = await rpc(notRecorded.token, init);
    assert.equal(unknown.status, 401);
    assert.match(await unknown.text(), /unknown to this issuer/);
  });

  it('requires DPoP for a bound token and checks the proof', async () => {
    const client = createAgentClient({
      issuer,
      agentId: agent.id,
      privateKey: agent.privateKey,
      privateKeyId: agent.kid,
      privateKeyAlg: 'ES256',
    });
    const bound = (await client.getToken({ resource })).accessToken;
    const asBearer = await rpc(bound, init);
    assert.equal(asBearer.status, 401);
    assert.match(await asBearer.text(), /DPoP-bound/);
    const noProof = await rpc(null, init, { authorization: `DPoP ${bound}` });
    assert.equal(noProof.status, 401);
    assert.match(await noProof.text(), /DPoP proof is required/);
    const stranger = await newKeyPair();
    const wrongKey = await dpopProof(stranger, {
      htu: resource,
      claims: { ath: createHash('sha256').update(bound).digest('base64url') },
    });
    const wrong = await rpc(null, init, { authorization: `DPoP ${bound}`, dpop: wrongKey });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /another key/);
    const wrongUrl = await dpopProof(stranger, { htu: `${issuer}/mcp/other` });
    const badHtu = await rpc(null, init, { authorization: `DPoP ${bound}`, dpop: wrongUrl });
    assert.equal(badHtu.status, 401);
    assert.match(badHtu.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof"/);
  });

  it("decides a bound token's call while its proof is checked, but a bad proof changes nothing", async () => {
    // a DPoP-bound token for a key of this test's own
    const keys = await newKeyPair();
    const { token: bound, ath } = await boundToken(issuer, agent, keys, resource);
    const proof = (options: Partial<Parameters<typeof dpopProof>[1]> = {}) =>
      dpopProof(keys, { htu: resource, ...options, claims: { ath, ...options.claims } });
    const send = async (body: unknown, dpop: string, session?: string) =>
      rpc(null, body, {
        authorization: `DPoP ${bound}`,
        dpop,
        'mcp-protocol-version': '2025-06-18',
        ...(session ? { 'mcp-session-id': session } : {}),
      });
    const opened = await send(init, await proof());
    assert.equal(opened.status, 200);
    const session = opened.headers.get('mcp-session-id') ?? '';
    const sum = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 2, b: 3 } },
    });
    const calls = async () =>
      (await auditEvents(t, { action: 'gateway.call' })).filter(
        (e) => (e.actor as Json).id === agent.id && (e.target as Json).id === 'everything/get-sum',
      ).length;
    const before = await calls();

    // signed by another key than the one in its header: the signature fails
    const stranger = await newKeyPair();
    const forged = await proof({ signWith: stranger.privateKey });
    // a proof used once already
    const used = await proof();
    const first = await send(sum(10), used, session);
    assert.equal(first.status, 200);
    assert.match(await first.text(), /The sum of 2 and 3 is 5/);
    for (const [dpop, why] of [
      [forged, /signature does not verify/],
      [used, /already been used/],
      [await proof({ htm: 'GET' }), /`htm`/],
    ] as const) {
      // twice each: the tool's limit (2 calls in a burst) would be used up if these were counted
      for (let i = 0; i < 2; i++) {
        const refused = await send(sum(11), dpop, session);
        assert.equal(refused.status, 401, await refused.clone().text());
        assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof"/);
        assert.match(await refused.text(), why);
      }
    }
    // what else the request got wrong is not answered before the proof: the proof's failure is
    for (const [body, headers] of [
      ['{not json', {}],
      [sum(12), { 'mcp-session-id': 'no-such-session' }],
      [{ jsonrpc: '2.0', id: 13, method: 'tools/list' }, {}],
    ] as const) {
      const refused = await rpc(null, body, {
        authorization: `DPoP ${bound}`,
        dpop: forged,
        'mcp-session-id': session,
        ...headers,
      });
      assert.equal(refused.status, 401, JSON.stringify(body));
      assert.match(await refused.text(), /signature does not verify/);
    }
    // neither counted, rate-limited nor recorded: the next call with a good proof goes through
    const second = await send(sum(14), await proof(), session);
    assert.equal(second.status, 200);
    assert.match(await second.text(), /The sum of 2 and 3 is 5/);
    const third = await send(sum(15), await proof(), session);
    assert.match(await third.text(), /"code":-32029/); // the burst of 2 is spent by the two good calls
    let recorded = 0;
    for (let i = 0; i < 50 && recorded < before + 3; i++) {
      recorded = await calls();
      if (recorded < before + 3) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(recorded, before + 3); // two made, one rate-limited; none of the refused proofs
  });

  it('decides again when a call was counted while a proof was checked', async () => {
    // an agent that may make one call an hour; eight calls arrive together, each with a good proof
    const second = await createAgent(t, 'gw2@example.com', { audiences: [resource] });
    await mayCallEverything(second.id);
    const policy = await t.api('PUT', '/api/v1/policies', {
      body: {
        reason: 'one call an hour',
        policies: [
          {
            id: 'one-call-an-hour',
            text: `forbid (principal == Agent::"${second.id}", action == Action::"tools/call", resource)\n  when { context.session.callsLastHour >= 1 };`,
          },
        ],
      },
    });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    const keys = await newKeyPair();
    const { token: bound, ath } = await boundToken(issuer, second, keys, resource);
    const send = async (body: unknown, session?: string) =>
      rpc(null, body, {
        authorization: `DPoP ${bound}`,
        dpop: await dpopProof(keys, { htu: resource, claims: { ath } }),
        'mcp-protocol-version': '2025-06-18',
        ...(session ? { 'mcp-session-id': session } : {}),
      });
    const session = (await send(init)).headers.get('mcp-session-id') ?? '';
    const sum = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 1, b: 1 } },
    });
    // decided while their proofs are checked, before any is counted: the one counted after the
    // first must be decided again (sent all at once, so that they overlap)
    const calls = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => ({
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `DPoP ${bound}`,
          dpop: await dpopProof(keys, { htu: resource, claims: { ath } }),
          'mcp-protocol-version': '2025-06-18',
          'mcp-session-id': session,
        },
        body: JSON.stringify(sum(i)),
      })),
    );
    const answers = await Promise.all(
      calls.map((c) => fetch(`${t.url}/mcp/everything`, { method: 'POST', ...c })),
    );
    const texts = await Promise.all(answers.map((a) => a.text()));
    assert.equal(texts.filter((x) => x.includes('The sum of 1 and 1 is 2')).length, 1, texts.join('\n'));
    // (the server's limit of 2 calls per tool in a burst refuses the other 6 first)
    assert.equal(texts.filter((x) => x.includes('one-call-an-hour')).length, 1, texts.join('\n'));
    assert.equal(texts.filter((x) => x.includes('"code":-32029')).length, 6, texts.join('\n'));
  });

  it('refuses a browser origin that is not allowed', async () => {
    const response = await rpc(bearer, init, { origin: 'https://evil.example.com' });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /origin/);
  });

  it('refuses oversized bodies, batches, non-JSON-RPC and missing sessions', async () => {
    assert.equal(
      (await rpc(bearer, { ...init, params: { ...init.params, pad: 'x'.repeat(8000) } })).status,
      413,
    );
    assert.equal((await rpc(bearer, [init])).status, 400);
    assert.equal((await rpc(bearer, '{not json')).status, 400);
    assert.equal((await rpc(bearer, { hello: 'world' })).status, 400);
    const noSession = await rpc(bearer, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.equal(noSession.status, 400);
    const unknownSession = await rpc(
      bearer,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': 'nope' },
    );
    assert.equal(unknownSession.status, 404);
  });

  it('rate-limits per tool with a retry hint', async () => {
    const opened = await rpc(bearer, init);
    assert.equal(opened.status, 200);
    const session = opened.headers.get('mcp-session-id') ?? '';
    const call = () =>
      rpc(
        bearer,
        {
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: 'x' } },
        },
        { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      );
    for (let i = 0; i < 2; i++) assert.equal((await call()).status, 200);
    const limited = await call();
    assert.equal(limited.status, 200);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const body = (await limited.json()) as Json;
    assert.equal((body.error as Json).code, -32029);
    assert.ok(Number(((body.error as Json).data as Json).retryAfterMs) > 0);
    const methodless = await rpc(
      bearer,
      { jsonrpc: '2.0', id: 4, method: 'sampling/createMessage', params: {} },
      { 'mcp-session-id': session },
    );
    assert.equal(((await methodless.json()) as Json & { error: Json }).error.code, -32601);
  });
});
