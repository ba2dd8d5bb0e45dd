import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AgentClient, createAgentClient } from '@custos/sdk';
import {
  auditEvents,
  boundToken,
  createAgent,
  dpopProof,
  isJson,
  type Json,
  newKeyPair,
  rawPost,
  type TestAgent,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const TOKEN = 'billing-upstream-token-0123456789';

describe('HTTP gateway end to end (sqlite)', () => {
  let t: TestServer;
  let upstream: Server;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let client: AgentClient;
  let agentId: string;
  let agentKey: TestAgent;
  let base: string;
  let resource: string;

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end();
        return;
      }
      if (req.url === '/v1/stream') {
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'drop me',
          'keep-alive': 'timeout=5',
        });
        let n = 0;
        const timer = setInterval(() => {
          res.write(`chunk ${n}\n`);
          if (++n === 5) {
            clearInterval(timer);
            res.end();
          }
        }, 10);
        return;
      }
      if (req.url === '/v1/big') {
        // larger than the gateway relays whole: streamed, with its declared length
        const text = 'z'.repeat(100 * 1024);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(text.length) });
        res.end(text);
        return;
      }
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'upstream=1' });
        res.end(JSON.stringify({ method: req.method, url: req.url, size }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    t = await startTestServer('sqlite', { gatewayBodyLimit: 2048 });
    base = `${t.url}/gw/billing`;
    resource = `${t.config.issuer}/gw/billing`;
    await t.api('POST', '/api/v1/users', { body: { email: 'http@example.com', name: 'Owner' } });
    await t.api('PUT', '/api/v1/secrets/billing-token', { body: { value: TOKEN } });
    const api = await t.api('POST', '/api/v1/gateway/apis', {
      body: {
        name: 'billing',
        baseUrl: `http://127.0.0.1:${port}/v1`,
        routes: [
          { method: 'GET', path: '/invoices/{id}' },
          { method: 'DELETE', path: '/invoices/{id}' },
          { method: 'POST', path: '/upload' },
          { method: 'GET', path: '/stream' },
          { method: 'GET', path: '/big' },
          { method: 'GET', path: '/limited' },
          { method: 'POST', path: '/transfers' },
          { method: 'POST', path: '/payouts' },
        ],
        auth: { type: 'bearer', secret: 'billing-token' },
        limits: { perTool: { rate: 0.01, burst: 5 } },
      },
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    assert.deepEqual((api.body.routes as Json[])[0], {
      method: 'GET',
      path: '/invoices/{id}',
      entity: 'Route::"billing/GET /invoices/{id}"',
    });
    const agent = await createAgent(t, 'http@example.com', { audiences: [resource] });
    agentId = agent.id;
    agentKey = agent;
    const grant = async (action: string, route: string, condition?: string) => {
      const added = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'Agent', id: agent.id },
          action,
          resource: { type: 'Route', id: `billing/${route}` },
          reason: 'test',
          ...(condition ? { condition } : {}),
        },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    };
    await grant('http:GET', 'GET /invoices/{id}', 'context.params.id != "13"');
    await grant('http:POST', 'POST /upload');
    await grant('http:GET', 'GET /stream');
    await grant('http:GET', 'GET /big');
    await grant('http:GET', 'GET /limited');
    await grant('http:POST', 'POST /transfers');
    await grant('http:POST', 'POST /payouts');
    const policies = await t.api('PUT', '/api/v1/policies', {
      body: {
        reason: 'transfers need the owner’s approval',
        policies: [
          {
            id: 'transfers-need-approval',
            text: '@approval("owner")\nforbid (principal, action == Action::"http:POST", resource == Route::"billing/POST /transfers")\n  unless { context.approved };',
          },
          {
            id: 'payouts-need-approval',
            text: '@approval("owner")\nforbid (principal, action == Action::"http:POST", resource == Route::"billing/POST /payouts")\n  unless { context.approved };',
          },
        ],
      },
    });
    assert.equal(policies.status, 200, JSON.stringify(policies.body));
    client = createAgentClient({
      issuer: t.config.issuer,
      agentId: agent.id,
      privateKey: agent.privateKey,
      privateKeyId: agent.kid,
      privateKeyAlg: 'ES256',
    });
  });
  after(async () => {
    await t?.close();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  });

  const call = (path: string, init: RequestInit = {}) => client.fetch(`${base}${path}`, init, { resource });

  it('forwards an allowed route with the injected credential and clean headers', async () => {
    // node:http, since fetch will not send a Connection header
    const bearer = createAgentClient({
      issuer: t.config.issuer,
      agentId: agentId,
      privateKey: agentKey.privateKey,
      privateKeyId: agentKey.kid,
      privateKeyAlg: 'ES256',
      dpop: false,
    });
    const token = (await bearer.getToken({ resource })).accessToken;
    const response = await new Promise<{ status: number; body: string; headers: IncomingHttpHeaders }>(
      (resolve, reject) => {
        const req = request(
          `${base}/invoices/42?expand=lines`,
          {
            headers: {
              authorization: `Bearer ${token}`,
              connection: 'keep-alive, x-drop-me',
              'x-drop-me': '1',
              'x-keep': 'yes',
              cookie: 'agent=1',
              'proxy-authorization': 'Basic eA==',
            },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), {
      method: 'GET',
      url: '/v1/invoices/42?expand=lines',
      size: 0,
    });
    assert.deepEqual(
      response.headers['set-cookie'],
      ['upstream=1'],
      'the upstream’s own response headers pass',
    );
    const last = seen.at(-1);
    assert.equal(last?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(last?.headers.dpop, undefined);
    assert.equal(last?.headers['x-drop-me'], undefined, 'headers named in Connection are hop-by-hop');
    assert.equal(last?.headers.cookie, undefined);
    assert.equal(last?.headers['proxy-authorization'], undefined);
    assert.equal(last?.headers['x-keep'], 'yes');
    assert.ok(last?.headers['x-request-id']);
  });

  it('answers a bad DPoP proof before anything else, and neither makes nor records the call', async () => {
    const keys = await newKeyPair();
    const { token: bound, ath } = await boundToken(t.config.issuer, agentKey, keys, resource);
    const stranger = await newKeyPair();
    const get = async (path: string, signWith = keys.privateKey) =>
      fetch(`${base}${path}`, {
        headers: {
          authorization: `DPoP ${bound}`,
          dpop: await dpopProof(keys, { htm: 'GET', htu: `${resource}${path}`, claims: { ath }, signWith }),
        },
      });
    // (arguments are recorded as a keyed hash: calls of the route are counted)
    const recorded = async () =>
      (await auditEvents(t, { action: 'gateway.call' })).filter((e) =>
        JSON.stringify(e.details).includes('GET /invoices/{id}'),
      ).length;
    const recordedBefore = await recorded();
    const upstreamBefore = seen.length;
    for (const path of ['/invoices/77', '/invoices/13', '/nope/1']) {
      const refused = await get(path, stranger.privateKey);
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof"/);
      assert.match(await refused.text(), /signature does not verify/);
    }
    assert.equal(seen.length, upstreamBefore, 'the upstream was not called');
    const allowed = await get('/invoices/77');
    assert.equal(allowed.status, 200);
    assert.equal(seen.length, upstreamBefore + 1);
    let count = 0;
    for (let i = 0; i < 50 && count < recordedBefore + 1; i++) {
      count = await recorded();
      if (count < recordedBefore + 1) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(count, recordedBefore + 1, 'only the call made is recorded');
    // each refusal is recorded: anonymous (the proof failed), naming the agent the token was issued to
    const tokenId = String(JSON.parse(Buffer.from(bound.split('.')[1] ?? '', 'base64url').toString()).jti);
    let refusals: Json[] = [];
    for (let i = 0; i < 50 && refusals.length < 3; i++) {
      refusals = (await auditEvents(t, { action: 'gateway.refuse' })).filter(
        (e) => isJson(e.details) && e.details.tokenId === tokenId,
      );
      if (refusals.length < 3) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(refusals.length, 3, JSON.stringify(refusals));
    for (const e of refusals) {
      assert.equal(e.outcome, 'denied');
      assert.deepEqual(e.target, { type: 'agent', id: agentId });
      assert.ok(isJson(e.actor) && e.actor.type === 'anonymous', JSON.stringify(e.actor));
      assert.equal((e.details as Json).error, 'invalid_dpop_proof');
      assert.equal((e.details as Json).upstream, 'billing');
      assert.match(String(e.reason), /^invalid_dpop_proof: .*signature does not verify/);
      assert.equal(JSON.stringify(e).includes(bound), false, 'never the token itself');
    }
  });

  it('decides with the route parameters, and refuses ungranted methods and unknown routes', async () => {
    const refused = await call('/invoices/13');
    assert.equal(refused.status, 403);
    assert.match(String(((await refused.json()) as Json).detail), /refused/);
    assert.equal((await call('/invoices/42', { method: 'DELETE' })).status, 403);
    const noRoute = await call('/nope/1');
    assert.equal(noRoute.status, 404);
    assert.match(String(((await noRoute.json()) as Json).detail), /no route/);
  });

  it('streams the response as the upstream sends it, without its hop-by-hop headers', async () => {
    const response = await call('/stream');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-upstream-hop'), null);
    assert.equal(await response.text(), 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  });

  it('relays a response larger than it buffers, with its declared length', async () => {
    const response = await call('/big');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(100 * 1024));
    const text = await response.text();
    assert.equal(text.length, 100 * 1024);
    assert.match(text, /^z+$/);
  });

  it('streams bodies up to the limit and refuses larger ones', async () => {
    const ok = await call('/upload', {
      method: 'POST',
      body: 'x'.repeat(2000),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as Json).size, 2000);
    const big = await call('/upload', {
      method: 'POST',
      body: 'x'.repeat(5000),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(big.status, 413);
  });

  it('refuses a streamed body once it passes the limit', async () => {
    const token = await client.getToken({ resource });
    // a chunked body (no Content-Length) is counted as it streams
    const response = await rawPost(`${base}/upload`, 'y'.repeat(6000), {
      authorization: `${token.tokenType} ${token.accessToken}`,
      'transfer-encoding': 'chunked',
    });
    assert.ok(response.status === 413 || response.status === 401, String(response.status));
  });

  it('asks for a token, and rate-limits a route with Retry-After', async () => {
    const anonymous = await fetch(`${base}/invoices/42`);
    assert.equal(anonymous.status, 401);
    assert.match(
      anonymous.headers.get('www-authenticate') ?? '',
      /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/gw\/billing"/,
    );
    for (let i = 0; i < 5; i++) assert.equal((await call('/limited')).status, 200);
    const limited = await call('/limited');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  it('records each call with the route, decision, upstream status and bytes', async () => {
    let calls: Json[] = [];
    const done = () =>
      calls.some((e) => isJson(e.details) && e.details.upstreamStatus === 200) &&
      calls.some((e) => isJson(e.details) && e.details.decision === 'rate_limited');
    for (let i = 0; i < 50 && !done(); i++) {
      calls = (await auditEvents(t, { action: 'gateway.call' })).filter(
        (e) => isJson(e.details) && e.details.gateway === 'http',
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const ok = calls.find(
      (e) =>
        isJson(e.details) &&
        e.details.resource === 'Route::"billing/GET /invoices/{id}"' &&
        e.outcome === 'success',
    );
    assert.ok(ok);
    const d = ok.details as Json;
    assert.equal(d.upstreamStatus, 200);
    assert.ok(Number(d.bytesOut) > 0);
    assert.equal(d.action, 'http:GET');
    assert.ok(
      calls.some((e) => e.outcome === 'denied' && isJson(e.details) && e.details.decision === 'rate_limited'),
      JSON.stringify(
        calls.map((e) => [e.outcome, (e.details as Json).decision, (e.details as Json).resource]),
      ),
    );
    assert.equal(JSON.stringify(calls).includes(TOKEN), false);
  });

  it('an approval binds the body of an HTTP call: another body is refused, a streamed one cannot be approved', async () => {
    const ownerToken = String(
      (
        await t.api('POST', '/api/v1/tokens', {
          body: { name: 'billing owner', role: 'owner', user: 'http@example.com' },
        })
      ).body.token,
    );
    const transfers = () => seen.filter((r) => r.url === '/v1/transfers').length;
    const transfer = (body: string, approval?: string, type = 'application/json') =>
      call('/transfers', {
        method: 'POST',
        body,
        headers: { 'content-type': type, ...(approval ? { 'custos-approval': approval } : {}) },
      });

    const asked = await transfer('{"amount":10}');
    assert.equal(asked.status, 403);
    const approval = ((await asked.json()) as Json).approval as Json;
    assert.equal(approval.status, 'pending');
    assert.deepEqual(
      (approval.request as Json).body,
      {
        bytes: 13,
        sha256: createHash('sha256').update('{"amount":10}').digest('base64url'),
        type: 'application/json',
        text: '{"amount":10}',
      },
      'the approver is shown the body as it is sent',
    );
    const approved = await fetch(`${t.url}/api/v1/approvals/${String(approval.id)}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(approved.status, 200, await approved.text());

    const swapped = await transfer('{"amount":10000}', String(approval.id));
    assert.equal(swapped.status, 403);
    assert.match(JSON.stringify(await swapped.json()), /different action/);
    const retyped = await transfer('{"amount":10}', String(approval.id), 'application/x-www-form-urlencoded');
    assert.equal(retyped.status, 403, 'the content type is bound too');
    assert.match(JSON.stringify(await retyped.json()), /different action/);
    assert.equal(transfers(), 0, 'the upstream saw no transfer');

    const made = await transfer('{"amount":10}', String(approval.id));
    assert.equal(made.status, 200);
    assert.equal(((await made.json()) as Json).size, 13);
    assert.equal(transfers(), 1);

    // a body streamed through (no Content-Length) cannot be bound: refused, and no approval is opened
    const keys = await newKeyPair();
    const { token: bound, ath } = await boundToken(t.config.issuer, agentKey, keys, resource);
    const pendingBefore = (await t.api('GET', '/api/v1/approvals?status=pending')).body.items as Json[];
    const streamed = await rawPost(`${base}/transfers`, '{"amount":10}', {
      authorization: `DPoP ${bound}`,
      dpop: await dpopProof(keys, { htm: 'POST', htu: `${resource}/transfers`, claims: { ath } }),
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    assert.equal(streamed.status, 403, JSON.stringify(streamed.body));
    assert.match(JSON.stringify(streamed.body), /Content-Length of at most 64 KiB/);
    const pendingAfter = (await t.api('GET', '/api/v1/approvals?status=pending')).body.items as Json[];
    assert.equal(pendingAfter.length, pendingBefore.length, 'no approval request was opened');
    assert.equal(transfers(), 1);
  });

  it('an approval of a call without a body cannot be spent on one whose body streams through', async () => {
    const ownerToken = String(
      (
        await t.api('POST', '/api/v1/tokens', {
          body: { name: 'payouts owner', role: 'owner', user: 'http@example.com' },
        })
      ).body.token,
    );
    const payouts = () => seen.filter((r) => r.url === '/v1/payouts').length;
    const asked = await call('/payouts', { method: 'POST' });
    assert.equal(asked.status, 403);
    const approval = ((await asked.json()) as Json).approval as Json;
    assert.equal((approval.request as Json).body, undefined, 'no body to show');
    const approved = await fetch(`${t.url}/api/v1/approvals/${String(approval.id)}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(approved.status, 200, await approved.text());
    const keys = await newKeyPair();
    const { token: bound, ath } = await boundToken(t.config.issuer, agentKey, keys, resource);
    const smuggled = await rawPost(`${base}/payouts`, '{"amount":10000}', {
      authorization: `DPoP ${bound}`,
      dpop: await dpopProof(keys, { htm: 'POST', htu: `${resource}/payouts`, claims: { ath } }),
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
      'custos-approval': String(approval.id),
    });
    assert.equal(smuggled.status, 403, JSON.stringify(smuggled.body));
    assert.match(JSON.stringify(smuggled.body), /Content-Length of at most 64 KiB/);
    assert.equal(payouts(), 0, 'the upstream saw no payout');
    // the approval was not spent: the call it is for still goes through
    const made = await call('/payouts', {
      method: 'POST',
      headers: { 'custos-approval': String(approval.id) },
    });
    assert.equal(made.status, 200);
    assert.equal(payouts(), 1);
  });

  it('records refusals of tokens it did not sign a burst at a time, then says how many went unrecorded', async () => {
    const junk = () =>
      fetch(`${base}/invoices/1`, { headers: { authorization: 'Bearer not-a-token.at-all.x' } });
    const anonymous = async () =>
      (await auditEvents(t, { action: 'gateway.refuse' })).filter(
        (e) => isJson(e.target) && e.target.type === 'api' && e.target.id === 'billing',
      );
    const before = (await anonymous()).length;
    for (let i = 0; i < 40; i++) assert.equal((await junk()).status, 401);
    let burst: Json[] = [];
    for (let i = 0; i < 50; i++) {
      burst = (await anonymous()).slice(before);
      if (burst.length >= 20) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(burst.length >= 20 && burst.length < 40, `${burst.length} of 40 recorded`);
    assert.equal((burst[0]?.details as Json | undefined)?.error, 'invalid_token');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await junk()).status, 401);
    let later: Json | undefined;
    for (let i = 0; i < 50 && !later; i++) {
      later = (await anonymous()).find((e) => Number((e.details as Json).unrecordedBefore) > 0);
      if (!later) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(later, 'the next record counts the refusals not recorded');
  });
});
