import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as jose from 'jose';
import * as client from 'openid-client';
import { DIALECTS } from './support/databases.js';
import { type RunningUpstream, startEverything } from './support/mcp-upstreams.js';
import { waitFor } from './support/monitor.js';
import {
  auditEvents,
  bearerClient,
  createAgent,
  epoch,
  isJson,
  type Json,
  newKeyPair,
  postForm,
  realClient,
  sdkClientFor,
  signAssertion,
  type TestAgent,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const IDP = 'https://login.example.test';
const IDP_AUDIENCE = 'custos-agents';

const textOf = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
};

for (const dialect of DIALECTS) {
  describe(`delegated authority: token exchange, chains, consent, both sides decide (${dialect})`, () => {
    let t: TestServer;
    let everything: RunningUpstream;
    let issuer: string;
    let resource: string;
    let idpKeys: Awaited<ReturnType<typeof newKeyPair>>;
    let alice: { id: string; email: string };
    let bea: { id: string; email: string }; // consents to the stranger for one tool only
    let assistant: TestAgent; // A: acts for alice
    let helper: TestAgent; // B: a sub-agent of A
    let third: TestAgent; // C: would be a third hop
    let stranger: TestAgent; // D: alice never consented to it
    let consentId: string;

    /** A person's ID token from the trusted provider, valid unless overridden. */
    const idToken = async (
      email: string,
      claims: Json = {},
      options: { key?: jose.CryptoKey; issuer?: string; kid?: string } = {},
    ) =>
      new jose.SignJWT({ email, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'idp-1' })
        .setIssuer(options.issuer ?? IDP)
        .setSubject(`idp|${email}`)
        .setAudience(IDP_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : epoch() + 600)
        .sign(options.key ?? idpKeys.privateKey);

    /** A raw token-exchange request by `agent` (its own client assertion). */
    const exchange = async (
      agent: TestAgent,
      subjectToken: string,
      extra: Record<string, string> = {},
      subjectTokenType = JWT_TYPE,
    ) =>
      postForm(
        `${issuer}/oauth/token`,
        new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          client_id: agent.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await signAssertion(issuer, agent),
          subject_token: subjectToken,
          subject_token_type: subjectTokenType,
          resource,
          ...extra,
        }),
      );

    const refused = async (
      result: Promise<{ status: number; body: Json }>,
      error: string,
      description: RegExp,
    ) => {
      const { status, body } = await result;
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, error, JSON.stringify(body));
      assert.match(String(body.error_description), description);
    };

    /** An MCP client (the SDK's) that sends a fixed Bearer token. */
    const mcpWith = async (token: string) => {
      const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/everything`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      const mcp = new Client({ name: 'delegated-agent', version: '1' });
      await mcp.connect(transport);
      return mcp;
    };

    before(async () => {
      everything = await startEverything();
      t = await startTestServer(dialect, { delegationMaxDepth: 2 });
      issuer = t.config.issuer;
      resource = `${issuer}/mcp/everything`;
      const user = async (email: string) =>
        (await t.api('POST', '/api/v1/users', { body: { email, name: email } })).body;
      alice = (await user('alice@example.com')) as { id: string; email: string };
      bea = (await user('bea@example.com')) as { id: string; email: string };
      await user('owner@example.com');
      idpKeys = await newKeyPair();
      const idp = await t.api('POST', '/api/v1/idps', {
        body: {
          issuer: IDP,
          jwks: { keys: [{ ...idpKeys.publicJwk, kid: 'idp-1' }] },
          audience: IDP_AUDIENCE,
        },
      });
      assert.equal(idp.status, 201, JSON.stringify(idp.body));
      const added = await t.api('POST', '/api/v1/gateway/servers', {
        body: { name: 'everything', transport: { type: 'http', url: everything.url } },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const scopes = ['files:read', 'files:write', 'mail:send'];
      assistant = await createAgent(t, 'owner@example.com', { scopes, audiences: [resource] });
      helper = await createAgent(t, 'owner@example.com', { scopes, audiences: [resource] });
      third = await createAgent(t, 'owner@example.com', { scopes, audiences: [resource] });
      stranger = await createAgent(t, 'owner@example.com', { scopes, audiences: [resource] });
      for (const agent of [assistant, helper, third, stranger]) {
        const grant = await t.api('POST', '/api/v1/grants', {
          body: {
            principal: { type: 'Agent', id: agent.id },
            action: 'tools/call',
            resource: { type: 'McpServer', id: 'everything' },
            scope: 'in',
            reason: 'delegation test',
          },
        });
        assert.equal(grant.status, 201, JSON.stringify(grant.body));
      }
      const policies = await t.api('PUT', '/api/v1/policies', {
        body: {
          reason: 'delegation: who may delegate what, which hops, what people may call',
          policies: [
            {
              id: 'people-delegate-files',
              text: `permit (principal == User::"${alice.id}", action == Action::"token:exchange", resource is Scope) when { [Scope::"files:read", Scope::"files:write", Scope::"billing:read"].contains(resource) };`,
            },
            {
              id: 'agents-may-act',
              text: 'permit (principal is Agent, action == Action::"token:exchange", resource);',
            },
            {
              id: 'no-third-party-for-assistant',
              text: `forbid (principal == Agent::"${third.id}", action == Action::"token:exchange", resource) when { context.delegation.chain.contains(Agent::"${assistant.id}") };`,
            },
            {
              id: 'bea-delegates-and-calls',
              text: `permit (principal == User::"${bea.id}", action in [Action::"token:exchange", Action::"tools/call"], resource);`,
            },
            {
              id: 'no-secrets-for-bea-through-agents',
              text: `forbid (principal is Agent, action == Action::"tools/call", resource == Tool::"everything/echo") when { context has delegation && context.delegation.person == User::"${bea.id}" && context.input has message && context.input.message like "*secret*" };`,
            },
            {
              id: 'alice-may-echo',
              text: `permit (principal == User::"${alice.id}", action == Action::"tools/call", resource == Tool::"everything/echo");`,
            },
          ],
        },
      });
      assert.equal(policies.status, 200, JSON.stringify(policies.body));
      const consent = await t.api('POST', '/api/v1/consents', {
        body: {
          user: alice.email,
          agent: assistant.id,
          scopes: ['files:read', 'files:write', 'mail:send', 'billing:read'],
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
      assert.equal(consent.status, 201, JSON.stringify(consent.body));
      consentId = String(consent.body.id);
    });
    after(async () => {
      await t?.close();
      await everything?.stop();
    });

    it('advertises the token-exchange grant', async () => {
      const metadata = (await t.api('GET', '/.well-known/oauth-authorization-server', { token: null })).body;
      assert.ok((metadata.grant_types_supported as string[]).includes(TOKEN_EXCHANGE));
    });

    it('openid-client exchanges a person’s token; jose verifies `sub` and `act`; an MCP call through the gateway is recorded with both', async () => {
      const agentClient = await realClient(issuer, assistant);
      const response = await client.genericGrantRequest(agentClient.config, TOKEN_EXCHANGE, {
        subject_token: await idToken(alice.email),
        subject_token_type: JWT_TYPE,
        scope: 'files:read',
        resource,
      });
      assert.equal(response.issued_token_type, ACCESS_TOKEN_TYPE);
      assert.equal(response.token_type.toLowerCase(), 'bearer');
      assert.equal(response.scope, 'files:read');
      const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
      const { payload, protectedHeader } = await jose.jwtVerify(response.access_token, jwks, {
        issuer,
        audience: resource,
        typ: 'at+jwt',
      });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.sub, alice.id);
      assert.deepEqual(payload.act, { sub: assistant.id });
      assert.equal(payload.client_id, assistant.id);
      assert.equal(payload.scope, 'files:read');

      const metadata = agentClient.config.serverMetadata();
      const introspected = await client.tokenIntrospection(
        bearerClient(metadata, t.adminToken),
        response.access_token,
      );
      assert.equal(introspected.active, true);
      assert.deepEqual(introspected.act, { sub: assistant.id });

      const mcp = await mcpWith(response.access_token);
      assert.equal(
        textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'for alice' } })),
        'Echo: for alice',
      );
      await mcp.close();

      // the call's outcome is recorded after the answer (fast audit mode): wait for it
      const call = await waitFor('the call in the audit log', async () =>
        (await auditEvents(t, { action: 'gateway.call' })).find(
          (e) => isJson(e.details) && e.details.tokenId === payload.jti,
        ),
      );
      assert.ok(isJson(call.actor) && call.actor.id === assistant.id);
      assert.ok(isJson(call.details));
      assert.equal(call.details.onBehalfOf, alice.id);
      assert.deepEqual(call.details.delegation, [assistant.id]);
      assert.equal(call.details.personDecision, 'allow');
      const exchanged = (await auditEvents(t, { action: 'token.exchange' })).find(
        (e) => isJson(e.details) && e.details.tokenId === payload.jti,
      );
      assert.ok(exchanged && isJson(exchanged.details));
      assert.equal(exchanged.details.person, alice.id);
      assert.deepEqual(exchanged.details.chain, [assistant.id]);
      assert.equal(exchanged.details.consentId, consentId);
      assert.ok(!JSON.stringify(exchanged).includes(response.access_token.split('.')[2] as string));
    });

    it('the person’s rights bound the call: a tool the agent may call but the person may not is refused', async () => {
      const sdk = sdkClientFor(issuer, assistant);
      const subjectToken = await idToken(alice.email);
      const delegated = await sdk.exchangeToken({ subjectToken, scope: 'files:read', resource });
      assert.equal(delegated.tokenType, 'DPoP');
      const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/everything`), {
        fetch: (url, init) => sdk.fetch(url, init, { subjectToken, scope: 'files:read', resource }),
      });
      const mcp = new Client({ name: 'delegated-dpop-agent', version: '1' });
      await mcp.connect(transport);
      const tools = ((await mcp.listTools()).tools ?? []).map((tool) => tool.name);
      assert.deepEqual(tools, ['echo'], 'only what both the agent and the person may call is listed');
      assert.equal(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'x' } })), 'Echo: x');
      await assert.rejects(
        mcp.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }),
        /the person it acts for may not/,
      );
      await mcp.close();
      // the agent on its own may call it
      const own = sdkClientFor(issuer, assistant);
      const ownTransport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/everything`), {
        fetch: (url, init) => own.fetch(url, init, { resource }),
      });
      const ownClient = new Client({ name: 'agent-itself', version: '1' });
      await ownClient.connect(ownTransport);
      assert.equal(
        textOf(await ownClient.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })),
        'The sum of 1 and 2 is 3.',
      );
      await ownClient.close();
    });

    it('refuses with the exact error: scopes the person or the agent lack, no consent, may_act, bad subject tokens', async () => {
      const token = await idToken(alice.email);
      await refused(
        exchange(assistant, token, { scope: 'mail:send' }),
        'invalid_scope',
        /person may not delegate scope `mail:send`/,
      );
      await refused(
        exchange(assistant, token, { scope: 'billing:read' }),
        'invalid_scope',
        /scope `billing:read` is not allowed for this client/,
      );
      await refused(
        exchange(assistant, token, { scope: 'calendar:read' }),
        'invalid_scope',
        /not covered by the person's consent/,
      );
      await refused(exchange(stranger, token), 'invalid_request', /has not consented to agent/);
      await refused(
        exchange(assistant, await idToken(alice.email, { may_act: { sub: helper.id } })),
        'invalid_request',
        /`may_act` does not name this client/,
      );
      assert.equal(
        (
          await exchange(assistant, await idToken(alice.email, { may_act: { sub: assistant.id } }), {
            scope: 'files:read',
          })
        ).status,
        200,
        'may_act naming the client is accepted',
      );
      const short = await exchange(assistant, await idToken(alice.email, { exp: epoch() + 20 }), {
        scope: 'files:read',
      });
      assert.equal(short.status, 200, JSON.stringify(short.body));
      assert.ok(Number(short.body.expires_in) <= 20, 'never outlives the person’s token');
      await refused(
        exchange(assistant, await idToken(alice.email, { exp: epoch() - 3600 })),
        'invalid_request',
        /subject token has expired/,
      );
      await refused(
        exchange(assistant, await idToken(alice.email, {}, { issuer: 'https://evil.example.test' })),
        'invalid_request',
        /issuer `https:\/\/evil\.example\.test` is not trusted/,
      );
      const otherAudience = await new jose.SignJWT({ email: alice.email })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
        .setIssuer(IDP)
        .setSubject('idp|alice')
        .setAudience('another-app')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(idpKeys.privateKey);
      await refused(exchange(assistant, otherAudience), 'invalid_request', /another audience/);
      const forged = await idToken(alice.email, {}, { key: (await newKeyPair()).privateKey });
      await refused(exchange(assistant, forged), 'invalid_request', /does not verify/);
      await refused(
        exchange(assistant, token, {}, 'urn:ietf:params:oauth:token-type:saml2'),
        'invalid_request',
        /`subject_token_type` .* is not supported/,
      );
      await refused(exchange(assistant, 'not-a-jwt'), 'invalid_request', /not a well-formed JWT/);
      await refused(
        exchange(assistant, token, { actor_token: token, actor_token_type: JWT_TYPE }),
        'invalid_request',
        /`actor_token` is not accepted/,
      );
      const unknownPerson = await idToken('nobody@example.com');
      await refused(exchange(assistant, unknownPerson), 'invalid_request', /names no known person/);
      // a plain agent token is not a person's token
      const own = sdkClientFor(issuer, assistant, { dpop: false });
      const agentToken = (await own.getToken({ resource })).accessToken;
      await refused(
        exchange(helper, agentToken, {}, ACCESS_TOKEN_TYPE),
        'invalid_request',
        /does not act for a person/,
      );
      const refusals = await auditEvents(t, { action: 'token.refuse' });
      assert.ok(refusals.some((e) => String(e.reason).includes('may not delegate scope `mail:send`')));
      for (const e of refusals)
        assert.ok(!JSON.stringify(e).includes(token), 'no subject token in the audit log');
    });

    it('chains: a sub-agent exchanges the delegated token; act nests, scopes only narrow, the depth is capped, each hop is decided', async () => {
      const first = await exchange(assistant, await idToken(alice.email), { scope: 'files:read' });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const parent = String(first.body.access_token);
      const second = await exchange(helper, parent, { scope: 'files:read' }, ACCESS_TOKEN_TYPE);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const child = String(second.body.access_token);
      const claims = jose.decodeJwt(child);
      assert.equal(claims.sub, alice.id);
      assert.deepEqual(claims.act, { sub: helper.id, act: { sub: assistant.id } });
      assert.equal(claims.client_id, helper.id);
      assert.ok(
        Number(claims.exp) <= Number(jose.decodeJwt(parent).exp),
        'a child never outlives its parent',
      );

      await refused(
        exchange(helper, parent, { scope: 'files:write' }, ACCESS_TOKEN_TYPE),
        'invalid_scope',
        /more than the subject token holds/,
      );
      await refused(
        exchange(
          helper,
          parent,
          { scope: 'files:read', resource: 'https://elsewhere.example.com' },
          ACCESS_TOKEN_TYPE,
        ),
        'invalid_target',
        /is not an audience of the subject token/,
      );
      await refused(
        exchange(third, child, { scope: 'files:read' }, ACCESS_TOKEN_TYPE),
        'invalid_request',
        /would hold 3 agents; at most 2/,
      );
      await refused(
        exchange(third, parent, { scope: 'files:read' }, ACCESS_TOKEN_TYPE),
        'invalid_scope',
        /policy does not let this client act for the person/,
      );
      await refused(
        exchange(assistant, child, {}, ACCESS_TOKEN_TYPE),
        'invalid_request',
        /already appears in the delegation chain/,
      );

      const mcp = await mcpWith(child);
      assert.equal(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'hop' } })), 'Echo: hop');
      await mcp.close();
      const call = await waitFor('the call in the audit log', async () =>
        (await auditEvents(t, { action: 'gateway.call' })).find(
          (e) => isJson(e.details) && e.details.tokenId === claims.jti,
        ),
      );
      assert.ok(call && isJson(call.details));
      assert.deepEqual(call.details.delegation, [assistant.id, helper.id]);
      assert.equal(call.details.onBehalfOf, alice.id);
      const decisions = await auditEvents(t, { action: 'policy.decision' });
      const hop = decisions.find(
        (e) =>
          isJson(e.details) &&
          isJson(e.details.request) &&
          e.details.request.action === 'token:exchange' &&
          isJson(e.details.request.principal) &&
          e.details.request.principal.id === third.id,
      );
      assert.ok(hop, 'the refused hop is recorded with its decision');
      assert.match(JSON.stringify(hop), /no-third-party-for-assistant/);
    });

    it('a consent can name tools; policies see the delegation and can be stricter for it', async () => {
      const consent = await t.api('POST', '/api/v1/consents', {
        body: {
          user: bea.email,
          agent: stranger.id,
          scopes: ['files:read'],
          tools: ['everything/echo'],
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
      assert.equal(consent.status, 201, JSON.stringify(consent.body));
      assert.deepEqual(consent.body.tools, ['everything/echo']);
      const bad = await t.api('POST', '/api/v1/consents', {
        body: {
          user: bea.email,
          agent: stranger.id,
          scopes: ['files:read'],
          tools: ['no slash'],
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
      assert.equal(bad.status, 400);
      const delegated = await exchange(stranger, await idToken(bea.email), { scope: 'files:read' });
      assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
      const mcp = await mcpWith(String(delegated.body.access_token));
      const tools = ((await mcp.listTools()).tools ?? []).map((tool) => tool.name);
      assert.deepEqual(tools, ['echo'], 'only the tools the consent names are listed');
      await assert.rejects(
        mcp.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }),
        /consent does not cover tool `everything\/get-sum`/,
      );
      assert.equal(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'hi' } })), 'Echo: hi');
      await assert.rejects(
        mcp.callTool({ name: 'echo', arguments: { message: 'a secret' } }),
        /forbidden by `no-secrets-for-bea-through-agents`/,
      );
      await mcp.close();
      // the same agent on its own is not bound by a rule about Bea's delegation
      const own = sdkClientFor(issuer, stranger, { dpop: false });
      const ownMcp = await mcpWith((await own.getToken({ resource })).accessToken);
      assert.equal(
        textOf(await ownMcp.callTool({ name: 'echo', arguments: { message: 'a secret' } })),
        'Echo: a secret',
      );
      await ownMcp.close();
    });

    it('a grant to a person (by email) gives them a tool, for their agents too, until revoked', async () => {
      const added = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'User', id: alice.email },
          action: 'tools/call',
          resource: { type: 'Tool', id: 'everything/get-env' },
          reason: 'alice may read the environment',
        },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const listed = await t.api('GET', `/api/v1/grants?user=${alice.id}`);
      assert.deepEqual(
        (listed.body.items as Json[]).map((g) => g.id),
        [added.body.id],
      );
      const ghost = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'User', id: 'nobody@example.com' },
          action: 'tools/call',
          resource: { type: 'Tool', id: 'everything/get-env' },
          reason: 'x',
        },
      });
      assert.equal(ghost.status, 400);
      const delegated = await exchange(assistant, await idToken(alice.email), { scope: 'files:read' });
      const mcp = await mcpWith(String(delegated.body.access_token));
      const result = await mcp.callTool({ name: 'get-env', arguments: {} });
      assert.ok(!(result as { isError?: boolean }).isError);
      assert.match(textOf(result), /"PATH"/, 'the upstream answered with its environment');
      const revoked = await t.api('POST', `/api/v1/grants/${added.body.id}/revoke`, {
        body: { reason: 'done' },
      });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      await assert.rejects(
        mcp.callTool({ name: 'get-env', arguments: {} }),
        /the person it acts for may not/,
      );
      await mcp.close();
    });

    it('revoking the consent ends every token derived from it within a second, at the gateway and at introspection', async () => {
      const sdkToken = await exchange(assistant, await idToken(alice.email), { scope: 'files:read' });
      assert.equal(sdkToken.status, 200);
      const parent = String(sdkToken.body.access_token);
      const childResponse = await exchange(helper, parent, { scope: 'files:read' }, ACCESS_TOKEN_TYPE);
      const child = String(childResponse.body.access_token);
      const parentClient = await mcpWith(parent);
      const childClient = await mcpWith(child);
      assert.equal(
        textOf(await parentClient.callTool({ name: 'echo', arguments: { message: '1' } })),
        'Echo: 1',
      );
      assert.equal(
        textOf(await childClient.callTool({ name: 'echo', arguments: { message: '2' } })),
        'Echo: 2',
      );

      const revoked = await t.api('DELETE', `/api/v1/consents/${consentId}`);
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      const at = Date.now();
      for (const mcp of [parentClient, childClient]) {
        let refusedAt: number | null = null;
        while (Date.now() - at < 1000) {
          try {
            await mcp.callTool({ name: 'echo', arguments: { message: 'again' } });
          } catch {
            refusedAt = Date.now();
            break;
          }
        }
        assert.ok(refusedAt !== null, 'refused within one second of the revocation');
      }
      await parentClient.close().catch(() => undefined);
      await childClient.close().catch(() => undefined);
      const rs = bearerClient((await realClient(issuer, assistant)).config.serverMetadata(), t.adminToken);
      for (const token of [parent, child])
        assert.equal((await client.tokenIntrospection(rs, token)).active, false);
      await refused(exchange(assistant, await idToken(alice.email)), 'invalid_request', /has not consented/);
      await refused(
        exchange(helper, parent, {}, ACCESS_TOKEN_TYPE),
        'invalid_request',
        /not an active Custos access token/,
      );
    });
  });
}
