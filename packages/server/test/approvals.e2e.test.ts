import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { APPROVAL_META_KEY, pendingApprovalOf } from '@custos/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as jose from 'jose';
import type { Actor } from '../src/audit/index.js';
import { systemClock } from '../src/core/index.js';
import { restrictAgent } from '../src/monitor/restrictions.js';
import { failedWith, runCli, succeeded } from './support/cli.js';
import { DIALECTS } from './support/databases.js';
import { type RunningUpstream, startEverything } from './support/mcp-upstreams.js';
import { waitFor } from './support/monitor.js';
import {
  auditEvents,
  createAgent,
  isJson,
  type Json,
  newKeyPair,
  sdkClientFor,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const IDP = 'https://login.example.test';
const MONITOR: Actor = { type: 'system', id: 'custos-monitor', role: 'admin', userId: null, requestId: null };

const textOf = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
};

/** What a test needs of one server: an upstream, a person, an owner, an agent with a grant, and the approval policy. */
async function setUp(t: TestServer, everythingUrl: string) {
  const issuer = t.config.issuer;
  const resource = `${issuer}/mcp/everything`;
  const user = async (email: string) =>
    (await t.api('POST', '/api/v1/users', { body: { email, name: email } })).body as {
      id: string;
      email: string;
    };
  const alice = await user('alice@example.com');
  const bob = await user('bob@example.com');
  const tokenFor = async (email: string) =>
    String(
      (await t.api('POST', '/api/v1/tokens', { body: { name: email, role: 'owner', user: email } })).body
        .token,
    );
  const idpKeys = await newKeyPair();
  assert.equal(
    (
      await t.api('POST', '/api/v1/idps', {
        body: { issuer: IDP, jwks: { keys: [{ ...idpKeys.publicJwk, kid: 'k1' }] }, audience: 'custos' },
      })
    ).status,
    201,
  );
  assert.equal(
    (
      await t.api('POST', '/api/v1/gateway/servers', {
        body: { name: 'everything', transport: { type: 'http', url: everythingUrl } },
      })
    ).status,
    201,
  );
  const agent = await createAgent(t, bob.email, { scopes: ['payments'], audiences: [resource] });
  assert.equal(
    (
      await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'Agent', id: agent.id },
          action: 'tools/call',
          resource: { type: 'McpServer', id: 'everything' },
          scope: 'in',
          reason: 'approval test',
        },
      })
    ).status,
    201,
  );
  const policies = await t.api('PUT', '/api/v1/policies', {
    body: {
      reason: 'large sums need the person’s approval',
      policies: [
        {
          id: 'alice-may-sum',
          text: `permit (principal == User::"${alice.id}", action == Action::"tools/call", resource == Tool::"everything/get-sum");`,
        },
        {
          id: 'alice-delegates-payments',
          text: `permit (principal == User::"${alice.id}", action == Action::"token:exchange", resource == Scope::"payments");`,
        },
        {
          id: 'agents-may-act',
          text: 'permit (principal is Agent, action == Action::"token:exchange", resource);',
        },
        {
          id: 'large-sums-need-approval',
          text: '@approval("person")\nforbid (principal, action == Action::"tools/call", resource == Tool::"everything/get-sum")\n  when { context.input.a > 100 }\n  unless { context.approved };',
        },
      ],
    },
  });
  assert.equal(policies.status, 200, JSON.stringify(policies.body));
  assert.equal(
    (
      await t.api('POST', '/api/v1/consents', {
        body: {
          user: alice.email,
          agent: agent.id,
          scopes: ['payments'],
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      })
    ).status,
    201,
  );
  const subjectToken = await new jose.SignJWT({ email: alice.email })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(IDP)
    .setSubject('alice')
    .setAudience('custos')
    .setIssuedAt()
    .setExpirationTime('30m')
    .sign(idpKeys.privateKey);
  const sdk = sdkClientFor(issuer, agent);
  const tokenOptions = { subjectToken, scope: 'payments', resource };
  const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/everything`), {
    fetch: (url, init) => sdk.fetch(url, init, tokenOptions),
  });
  const mcp = new Client({ name: 'paying-agent', version: '1' });
  await mcp.connect(transport);
  return {
    alice,
    bob,
    agent,
    sdk,
    mcp,
    tokenOptions,
    aliceToken: await tokenFor(alice.email),
    bobToken: await tokenFor(bob.email),
  };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** Calls get-sum; on the gateway's approval answer returns the pending request, else the sum text. */
async function sum(mcp: Client, a: number, approval?: string): Promise<{ text?: string; error?: Json }> {
  try {
    const result = await mcp.callTool({
      name: 'get-sum',
      arguments: { a, b: 1 },
      ...(approval ? { _meta: { [APPROVAL_META_KEY]: approval } } : {}),
    });
    return { text: textOf(result) };
  } catch (error) {
    return { error: error as unknown as Json };
  }
}

for (const dialect of DIALECTS) {
  describe(`human approval of a sensitive call, end to end (${dialect})`, () => {
    let t: TestServer;
    let everything: RunningUpstream;
    let s: Setup;
    before(async () => {
      everything = await startEverything();
      t = await startTestServer(dialect);
      s = await setUp(t, everything.url);
    });
    after(async () => {
      await s?.mcp.close().catch(() => undefined);
      await t?.close();
      await everything?.stop();
    });

    it('call → pending → approve via CLI → the retry succeeds once → a second retry is refused', async () => {
      assert.equal((await sum(s.mcp, 5)).text, 'The sum of 5 and 1 is 6.', 'small sums need no approval');
      const first = await sum(s.mcp, 500);
      const pending = pendingApprovalOf(first.error);
      assert.ok(pending, `a pending approval, got ${JSON.stringify(first)}`);
      assert.equal(pending.status, 'pending');
      assert.equal(pending.agent, s.agent.id);
      assert.equal(pending.onBehalfOf, s.alice.id);
      assert.deepEqual((pending.request as Json).input, { a: 500, b: 1 });
      assert.equal(pending.resource.id, 'everything/get-sum');
      const again = pendingApprovalOf((await sum(s.mcp, 500)).error);
      assert.equal(again?.id, pending.id, 'asking again finds the same pending request');

      const early = await sum(s.mcp, 500, pending.id);
      assert.match(String(early.error?.message), /is still pending/);

      const cliAlice = { url: t.url, token: s.aliceToken };
      const shown = succeeded(await runCli(['approval', 'show', pending.id], cliAlice));
      assert.match(shown, /everything\/get-sum/);
      assert.match(shown, /"a":500/);
      const listed = JSON.parse(
        succeeded(await runCli(['--json', 'approval', 'list', '--status', 'pending'], cliAlice)),
      );
      assert.ok((listed.items as Json[]).some((a) => a.id === pending.id));
      failedWith(
        await runCli(['approval', 'approve', pending.id], { url: t.url, token: s.bobToken }),
        /only the person the agent acts for/,
      );
      failedWith(
        await runCli(['approval', 'approve', pending.id], { url: t.url, token: t.adminToken }),
        /only the person/,
      );
      const waiting = s.sdk.waitForApproval(pending.id, { intervalMs: 100, tokenOptions: s.tokenOptions });
      const approved = succeeded(
        await runCli(['approval', 'approve', pending.id, '--reason', 'expected invoice'], cliAlice),
      );
      assert.match(approved, /approved/);
      assert.equal((await waiting).status, 'approved');

      const otherArgs = await sum(s.mcp, 501, pending.id);
      assert.match(String(otherArgs.error?.message), /is for a different action/);
      assert.equal((await sum(s.mcp, 500, pending.id)).text, 'The sum of 500 and 1 is 501.');
      const reused = await sum(s.mcp, 500, pending.id);
      assert.match(String(reused.error?.message), /has already been used/);

      const events = await waitFor('the approval trail', async () => {
        const all = await auditEvents(t);
        return all.some(
          (e) => e.action === 'gateway.call' && isJson(e.details) && e.details.approval === pending.id,
        )
          ? all
          : undefined;
      });
      const about = events.filter((e) => isJson(e.target) && e.target.id === pending.id).map((e) => e.action);
      assert.deepEqual(about, ['approval.request', 'approval.approve', 'approval.use']);
      const decided = events.find((e) => e.action === 'approval.approve');
      assert.ok(decided && isJson(decided.actor) && isJson(decided.details));
      assert.equal(decided.actor.type, 'admin_token', 'decided with the person’s own owner token');
      assert.equal(decided.details.actorUserId, s.alice.id);
      assert.equal(decided.reason, 'expected invoice');
    });

    it('a monitor restriction (require_approval) makes every call wait for the owner’s approval, until lifted', async () => {
      await t.server.store.transaction((tx) =>
        restrictAgent(tx, systemClock, MONITOR, s.agent.id, { findingId: null, reason: 'test restriction' }),
      );
      const pending = pendingApprovalOf((await sum(s.mcp, 5)).error);
      assert.ok(pending, 'even a small sum now needs approval');
      assert.equal(pending.approverKind, 'owner');
      assert.equal(pending.approver, s.bob.id);
      const byAlice = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.aliceToken });
      assert.equal(byAlice.status, 403, 'the person is not the approver of a restriction');
      const byBob = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.bobToken });
      assert.equal(byBob.status, 200, JSON.stringify(byBob.body));
      assert.equal((await sum(s.mcp, 5, pending.id)).text, 'The sum of 5 and 1 is 6.');
      assert.match(String((await sum(s.mcp, 5, pending.id)).error?.message), /has already been used/);
      const lifted = await t.api('POST', `/api/v1/agents/${s.agent.id}/unrestrict`, {
        body: { reason: 'investigated' },
      });
      assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
      assert.equal((await sum(s.mcp, 5)).text, 'The sum of 5 and 1 is 6.');
    });

    it('a denied request stays refused, and the agent hears it', async () => {
      const pending = pendingApprovalOf((await sum(s.mcp, 777)).error);
      assert.ok(pending);
      const waiting = s.sdk.waitForApproval(pending.id, { intervalMs: 100, tokenOptions: s.tokenOptions });
      // the poll can hear the denial before the deny request below returns: handled from the start,
      // so its rejection is never an unhandled one (asserted further down)
      waiting.catch(() => undefined);
      const denied = await t.api('POST', `/api/v1/approvals/${pending.id}/deny`, {
        token: s.aliceToken,
        body: { reason: 'not mine' },
      });
      assert.equal(denied.status, 200, JSON.stringify(denied.body));
      await assert.rejects(
        waiting,
        (error: unknown) => (error as { code?: string }).code === 'approval_denied',
      );
      assert.match(String((await sum(s.mcp, 777, pending.id)).error?.message), /was denied/);
      const twice = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.aliceToken });
      assert.equal(twice.status, 409);
      // another agent cannot read it
      const stranger = await createAgent(t, s.bob.email);
      const other = sdkClientFor(t.config.issuer, stranger);
      await assert.rejects(
        other.waitForApproval(pending.id, { tokenOptions: { resource: 'https://api.example.com' } }),
        (error: unknown) => (error as { status?: number }).status === 404,
      );
    });
  });
}

describe('an approval reference expires (sqlite)', () => {
  let t: TestServer;
  let everything: RunningUpstream;
  let s: Setup;
  before(async () => {
    everything = await startEverything();
    t = await startTestServer('sqlite', { approvalTtl: 3 });
    s = await setUp(t, everything.url);
  });
  after(async () => {
    await s?.mcp.close().catch(() => undefined);
    await t?.close();
    await everything?.stop();
  });

  it('refuses an approved reference past its expiry, and a decision on an expired request', async () => {
    const pending = pendingApprovalOf((await sum(s.mcp, 300)).error);
    assert.ok(pending);
    const approved = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.aliceToken });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await new Promise((r) => setTimeout(r, 3100));
    assert.match(String((await sum(s.mcp, 300, pending.id)).error?.message), /has expired/);
    const late = pendingApprovalOf((await sum(s.mcp, 301)).error);
    assert.ok(late);
    await new Promise((r) => setTimeout(r, 3100));
    const tooLate = await t.api('POST', `/api/v1/approvals/${late.id}/approve`, { token: s.aliceToken });
    assert.equal(tooLate.status, 409);
    assert.match(String(tooLate.body.detail), /expired/);
  });
});

describe('an approval lifts only the forbids that name its approver (sqlite)', () => {
  let t: TestServer;
  let everything: RunningUpstream;
  let s: Setup;
  /** Sets the policies: Alice may echo; wires need approval by the named approver on each side. */
  const wiresNeed = async (agentSide: 'person' | 'owner' | null, personSide: 'person' | 'owner' | null) => {
    const forbid = (kind: string, principal: string) =>
      `@approval("${kind}")\nforbid (principal is ${principal}, action == Action::"tools/call", resource == Tool::"everything/echo")\n  when { context.input has message && context.input.message like "*wire*" }\n  unless { context.approved };`;
    const policies = await t.api('PUT', '/api/v1/policies', {
      body: {
        reason: 'wires need approval',
        policies: [
          {
            id: 'alice-may-echo',
            text: `permit (principal == User::"${s.alice.id}", action == Action::"tools/call", resource == Tool::"everything/echo");`,
          },
          {
            id: 'alice-delegates-payments',
            text: `permit (principal == User::"${s.alice.id}", action == Action::"token:exchange", resource == Scope::"payments");`,
          },
          {
            id: 'agents-may-act',
            text: 'permit (principal is Agent, action == Action::"token:exchange", resource);',
          },
          ...(agentSide ? [{ id: 'agent-side-wires', text: forbid(agentSide, 'Agent') }] : []),
          ...(personSide ? [{ id: 'person-side-wires', text: forbid(personSide, 'User') }] : []),
        ],
      },
    });
    assert.equal(policies.status, 200, JSON.stringify(policies.body));
  };
  const echo = async (message: string, approval?: string): Promise<{ text?: string; error?: Json }> => {
    try {
      const result = await s.mcp.callTool({
        name: 'echo',
        arguments: { message },
        ...(approval ? { _meta: { [APPROVAL_META_KEY]: approval } } : {}),
      });
      return { text: textOf(result) };
    } catch (error) {
      return { error: error as unknown as Json };
    }
  };
  before(async () => {
    everything = await startEverything();
    t = await startTestServer('sqlite');
    s = await setUp(t, everything.url);
  });
  after(async () => {
    await s?.mcp.close().catch(() => undefined);
    await t?.close();
    await everything?.stop();
  });

  it('the owner’s approval does not lift a forbid that asks for the person’s (on the other side of a delegated call)', async () => {
    await wiresNeed('owner', 'person');
    const first = await echo('wire 1');
    // one approval cannot stand for both the owner and the person: no request is opened, the denial stands
    assert.equal(pendingApprovalOf(first.error), null, JSON.stringify(first));
    assert.match(String(first.error?.message), /forbidden by `agent-side-wires`/);
    // the same approver on both sides: one approval (the person's) lifts both
    await wiresNeed('person', 'person');
    const pending = pendingApprovalOf((await echo('wire 1')).error);
    assert.ok(pending);
    const approved = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.aliceToken });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal((await echo('wire 1', pending.id)).text, 'Echo: wire 1');
  });

  it('an approval given by the owner does not lift a forbid that, by the time it is used, asks for the person’s', async () => {
    await wiresNeed('owner', null);
    const pending = pendingApprovalOf((await echo('wire 2')).error);
    assert.ok(pending);
    assert.equal((pending as unknown as Json).approverKind, 'owner');
    const approved = await t.api('POST', `/api/v1/approvals/${pending.id}/approve`, { token: s.bobToken });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await wiresNeed('person', null);
    const retried = await echo('wire 2', pending.id);
    assert.equal(retried.text, undefined, `the call must not be made: ${JSON.stringify(retried)}`);
    assert.match(String(retried.error?.message), /given by the agent's owner, not the person/);
    // the person's own approval lifts it
    const asked = pendingApprovalOf((await echo('wire 2')).error);
    assert.ok(asked);
    assert.equal((asked as unknown as Json).approverKind, 'person');
    assert.notEqual(asked.id, pending.id);
    const byAlice = await t.api('POST', `/api/v1/approvals/${asked.id}/approve`, { token: s.aliceToken });
    assert.equal(byAlice.status, 200, JSON.stringify(byAlice.body));
    assert.equal((await echo('wire 2', asked.id)).text, 'Echo: wire 2');
  });
});
