/**
 * The policy capability end to end over real HTTP, on SQLite and PostgreSQL:
 * schema, entities, policy sets (history, shadow), grants, explainable and
 * audited decisions, token issuance decided by `token:issue`, what-if, policy
 * tests, and who may call what. Every refusal is checked to change nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { manualClock } from '../src/core/index.js';
import { DIALECTS } from './support/databases.js';
import {
  auditEvents,
  createAgent,
  dpopProof,
  newKeyPair,
  postForm,
  signAssertion,
  startSecondNode,
  startServerWithClock,
  type TestAgent,
  tokenForm,
} from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;
const API = 'https://api.example.com';
const HOUR = 3_600_000;

const SCHEMA = `
entity Repo { visibility: String };
action "repo:push" appliesTo { principal: [Agent], resource: [Repo], context: { branch?: String } };
action "tools/call" appliesTo {
  principal: [Agent, User],
  resource: [Tool],
  context: { input?: { amount?: Long } },
};
entity McpServer;
entity Tool in [McpServer];
entity Api;
entity Route in [Api];
action "resources/read", "prompts/get" appliesTo { principal: [Agent, User], resource: [McpServer] };
action "http:GET", "http:HEAD", "http:POST", "http:PUT", "http:PATCH", "http:DELETE"
  appliesTo { principal: [Agent, User], resource: [Route] };
`;

/** Everything policy state is made of, plus the audit log's length: a refusal must change none of it. */
async function fingerprint(t: TestServer): Promise<string> {
  const s = t.server.store;
  return JSON.stringify([
    await s.policy.state.read(),
    await s.policy.policies.listAll(),
    (await s.policy.grants.list({ limit: 500 })).items,
    (await s.policy.entities.list({ limit: 500 })).items,
    await s.policy.schemas.current(),
    (await s.audit.list({ limit: 500 })).items.length,
  ]);
}

const ask = (agentId: string, tool = 'github/create_issue', extra: Json = {}) => ({
  subject: { type: 'Agent', id: agentId },
  action: { name: 'tools/call' },
  resource: { type: 'Tool', id: tool },
  ...extra,
});

for (const dialect of DIALECTS) {
  describe(`policy capability end to end (${dialect})`, () => {
    let t: TestServer;
    let owner: string;
    let agent: TestAgent;
    let teamAgent: TestAgent;
    let auditorToken: string;
    let ownerToken: string;
    let rsToken: string;

    before(async () => {
      t = await startTestServer(dialect);
      owner = String(
        (await t.api('POST', '/api/v1/users', { body: { email: 'owner@example.com', name: 'Owner' } })).body
          .email,
      );
      await t.api('POST', '/api/v1/teams', { body: { name: 'payments' } });
      agent = await createAgent(t, owner, { scopes: ['read'], audiences: [API] });
      teamAgent = await createAgent(t, owner, { scopes: [], audiences: [API] });
      await t.api('PATCH', `/api/v1/agents/${teamAgent.id}`, { body: { team: 'payments' } });
      const token = async (role: string, user?: string) =>
        String(
          (await t.api('POST', '/api/v1/tokens', { body: { name: role, role, ...(user ? { user } : {}) } }))
            .body.token,
        );
      auditorToken = await token('auditor');
      ownerToken = await token('owner', owner);
      rsToken = await token('resource_server');
    });
    after(() => t.close());

    /** A request that must be refused: status, problem type, and no change at all. */
    async function refused(
      method: string,
      path: string,
      options: Parameters<TestServer['api']>[2],
      status: number,
      type: string,
      detail?: RegExp,
    ): Promise<Json> {
      const before = await fingerprint(t);
      const res = await t.api(method, path, options);
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(res.body.type, `urn:custos:problem:${type}`);
      if (detail) assert.match(`${res.body.detail} ${JSON.stringify(res.body.errors ?? [])}`, detail);
      assert.equal(await fingerprint(t), before, 'a refused request must not change anything');
      return res.body;
    }
    const evaluate = async (body: Json, token?: string) => {
      const res = await t.api('POST', '/access/v1/evaluation', { body, ...(token ? { token } : {}) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as { decision: boolean; context: Json };
    };
    const putPolicies = (policies: Record<string, string>, extra: Json = {}) =>
      t.api('PUT', '/api/v1/policies', {
        body: {
          policies: Object.entries(policies).map(([id, text]) => ({ id, text })),
          reason: 'e2e',
          ...extra,
        },
      });
    const tokenRequest = async (who: TestAgent, extra: Record<string, string>) =>
      postForm(
        `${t.config.issuer}/oauth/token`,
        tokenForm(who.id, await signAssertion(t.config.issuer, who), extra),
      );

    it('denies by default: no policy, no access', async () => {
      const schema = await t.api('GET', '/api/v1/schema');
      assert.equal(schema.status, 200);
      assert.equal(schema.body.version, 0);
      assert.equal(schema.body.text, '');
      assert.match(String(schema.body.effective), /entity Agent in \[Team\]/);
      assert.deepEqual((await t.api('GET', '/api/v1/policies')).body.policies, []);
      const d = await evaluate(ask(agent.id));
      assert.equal(d.decision, false);
      assert.deepEqual(d.context.policies, []);
    });

    it('refuses a schema that does not parse or redefines what Custos manages', async () => {
      await refused(
        'PUT',
        '/api/v1/schema',
        { body: { text: 'entity Repo {', reason: 'x' } },
        400,
        'validation-failed',
        /parse/,
      );
      await refused(
        'PUT',
        '/api/v1/schema',
        { body: { text: 'entity Agent;', reason: 'x' } },
        400,
        'validation-failed',
        /`Agent` is declared twice/,
      );
      await refused(
        'PUT',
        '/api/v1/schema',
        {
          body: {
            text: 'action "token:issue" appliesTo { principal: Agent, resource: Scope };',
            reason: 'x',
          },
        },
        400,
        'validation-failed',
        /token:issue/,
      );
      await refused(
        'PUT',
        '/api/v1/schema',
        { body: { text: SCHEMA, reason: 'x' }, token: auditorToken },
        403,
        'forbidden',
      );
      const applied = await t.api('PUT', '/api/v1/schema', {
        body: { text: SCHEMA, reason: 'repos and typed tool input' },
      });
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      assert.equal(applied.body.applied, true);
    });

    it('keeps inventory agents as entities with their attributes, and checks stored entities against the schema', async () => {
      const entity = await t.api('GET', `/api/v1/entities/Agent/${agent.id}`);
      assert.equal(entity.status, 200);
      const attrs = entity.body.attrs as Json;
      assert.equal(attrs.status, 'active');
      assert.deepEqual(attrs.owner, {
        __entity: { type: 'User', id: (await t.api('GET', `/api/v1/users/${owner}`)).body.id },
      });
      assert.deepEqual(attrs.allowedScopes, [{ __entity: { type: 'Scope', id: 'read' } }]);

      await refused(
        'POST',
        '/api/v1/entities',
        { body: { entities: [{ uid: { type: 'Spaceship', id: 'x' } }] } },
        400,
        'validation-failed',
        /unknown entity type `Spaceship`/,
      );
      await refused(
        'POST',
        '/api/v1/entities',
        {
          body: { entities: [{ uid: { type: 'Repo', id: 'r' }, attrs: { visibility: 'public', stars: 3 } }] },
        },
        400,
        'validation-failed',
        /stars/,
      );
      await refused(
        'POST',
        '/api/v1/entities',
        { body: { entities: [{ uid: { type: 'Repo', id: 'r' }, attrs: { visibility: 7 } }] } },
        400,
        'validation-failed',
        /visibility/,
      );
      await refused(
        'POST',
        '/api/v1/entities',
        { body: { entities: [{ uid: { type: 'Agent', id: agent.id } }] } },
        400,
        'validation-failed',
        /inventory/,
      );
      await refused(
        'POST',
        '/api/v1/entities',
        {
          body: { entities: [{ uid: { type: 'Repo', id: 'r' }, attrs: { visibility: 'public' } }] },
          token: auditorToken,
        },
        403,
        'forbidden',
      );

      const ok = await t.api('POST', '/api/v1/entities', {
        body: {
          entities: [
            { uid: { type: 'Repo', id: 'custos' }, attrs: { visibility: 'public' } },
            { uid: { type: 'Repo', id: 'secret' }, attrs: { visibility: 'private' } },
            { uid: { type: 'McpServer', id: 'github' } },
            {
              uid: { type: 'Tool', id: 'github/create_issue' },
              parents: [{ type: 'McpServer', id: 'github' }],
            },
            {
              uid: { type: 'Tool', id: 'github/delete_repo' },
              parents: [{ type: 'McpServer', id: 'github' }],
            },
          ],
          reason: 'e2e',
        },
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.upserted, 5);
      const listed = await t.api('GET', '/api/v1/entities?type=Repo');
      assert.deepEqual(
        (listed.body.items as Json[]).map((e) => (e.uid as Json).id),
        ['custos', 'secret'],
      );
      const events = await auditEvents(t, { action: 'entity.upsert' });
      assert.equal(events.length, 1);
    });

    it('applies a whole policy set declaratively, with a diff and a history of who, when and why', async () => {
      const first = await t.api('PUT', '/api/v1/policies', {
        body: {
          sources: [
            {
              name: 'repos/push.cedar',
              text: '// public repos only\npermit (principal is Agent, action == Action::"repo:push", resource is Repo) when { resource.visibility == "public" };',
            },
            {
              name: 'tools.cedar',
              text: '@id("issues") permit (principal == Agent::"__A__", action == Action::"tools/call", resource == Tool::"github/create_issue");\n@id("no-delete") forbid (principal, action == Action::"tools/call", resource == Tool::"github/delete_repo");'.replace(
                '__A__',
                agent.id,
              ),
            },
          ],
          reason: 'first set',
        },
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(first.body.diff, {
        added: ['issues', 'no-delete', 'repos/push'],
        changed: [],
        removed: [],
        unchanged: 0,
      });
      assert.equal(first.body.applied, true);
      const v1 = Number(first.body.version);

      const inForce = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const same = await t.api('PUT', '/api/v1/policies', {
        body: { policies: inForce.map((p) => ({ id: p.id, text: p.text })), reason: 'no-op' },
      });
      assert.equal(same.body.applied, false);
      assert.equal(same.body.version, v1);

      const allowed = await evaluate(ask(agent.id));
      assert.equal(allowed.decision, true);
      assert.deepEqual(allowed.context.policies, ['issues']);
      assert.equal(allowed.context.policy_version, v1);
      const push = await evaluate({
        subject: { type: 'Agent', id: agent.id },
        action: { name: 'repo:push' },
        resource: { type: 'Repo', id: 'custos' },
      });
      assert.deepEqual(push.context.policies, ['repos/push']);
      assert.equal(
        (
          await evaluate({
            subject: { type: 'Agent', id: agent.id },
            action: { name: 'repo:push' },
            resource: { type: 'Repo', id: 'secret' },
          })
        ).decision,
        false,
      );

      const current = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const second = await putPolicies(
        {
          issues: `permit (principal == Agent::"${agent.id}", action == Action::"tools/call", resource in McpServer::"github");`,
          'no-delete': String(current.find((p) => p.id === 'no-delete')?.text),
        },
        { reason: 'widen to the whole server; drop repo pushes' },
      );
      assert.deepEqual(second.body.diff, {
        added: [],
        changed: ['issues'],
        removed: ['repos/push'],
        unchanged: 1,
      });

      const history = await t.api('GET', '/api/v1/policies/issues');
      const revisions = history.body.history as Json[];
      assert.equal(revisions.length, 2);
      const change = revisions[1]?.change as Json;
      assert.equal(change.reason, 'widen to the whole server; drop repo pushes');
      assert.equal((change.actor as Json).type, 'admin_token');
      const removed = await t.api('GET', '/api/v1/policies/repos%2Fpush');
      assert.equal(removed.status, 200);
      assert.equal(removed.body.enforce, null);
      assert.equal((removed.body.history as Json[]).at(-1)?.text, null);
      const old = await t.api('GET', `/api/v1/policies?version=${v1}`);
      assert.deepEqual(
        (old.body.policies as Json[]).map((p) => p.id),
        ['issues', 'no-delete', 'repos/push'],
      );
      const versions = await t.api('GET', '/api/v1/policy-versions?limit=2');
      assert.deepEqual(
        (versions.body.items as Json[]).map((v) => v.kind),
        ['policies', 'policies'],
      );
      await refused('GET', '/api/v1/policies/never-existed', {}, 404, 'not-found');
    });

    it('forbid beats permit, and an erroring forbid denies with its error', async () => {
      const forbidden = await evaluate(ask(agent.id, 'github/delete_repo'));
      assert.equal(forbidden.decision, false);
      assert.deepEqual(forbidden.context.policies, ['no-delete']);
      const current = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const keep = Object.fromEntries(current.map((p) => [String(p.id), String(p.text)]));
      await putPolicies({
        ...keep,
        'no-huge-amounts':
          'forbid (principal, action == Action::"tools/call", resource) when { context has input && context.input has amount && context.input.amount + 9223372036854775807 > 0 };',
      });
      const erroring = await evaluate(
        ask(agent.id, 'github/create_issue', { context: { input: { amount: 10 } } }),
      );
      assert.equal(erroring.decision, false, 'the permit alone would allow: the erroring forbid must deny');
      assert.deepEqual(erroring.context.policies, ['no-huge-amounts']);
      assert.match(JSON.stringify(erroring.context.errors), /overflow/);
      const fine = await evaluate(ask(agent.id, 'github/create_issue', { context: { input: {} } }));
      assert.equal(fine.decision, true);
      await putPolicies(keep);
    });

    it('refuses an invalid set with every validator message, loading none of it', async () => {
      const body = await refused(
        'PUT',
        '/api/v1/policies',
        {
          body: {
            policies: [
              { id: 'good', text: 'permit (principal, action == Action::"repo:push", resource is Repo);' },
              {
                id: 'typo',
                text: 'permit (principal, action == Action::"repo:push", resource is Repo) when { resource.visibilty == "public" };',
              },
              { id: 'alien', text: 'permit (principal is Spaceship, action, resource);' },
            ],
            reason: 'bad',
          },
        },
        400,
        'validation-failed',
        /does not validate against the schema \(2 errors\)/,
      );
      const details = (body.errors as Json[]).map((e) => `${e.pointer} ${e.detail}`).join('\n');
      assert.match(details, /\/policies\/1 policy `typo`: .*visibilty/);
      assert.match(details, /\/policies\/2 policy `alien`: .*Spaceship/);
      await refused(
        'PUT',
        '/api/v1/policies',
        {
          body: {
            policies: [{ id: 'custos:mine', text: 'permit (principal, action, resource);' }],
            reason: 'x',
          },
        },
        400,
        'validation-failed',
        /reserved prefix/,
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        {
          body: {
            policies: [
              { id: 'a', text: 'permit (principal, action, resource);' },
              { id: 'a', text: 'forbid (principal, action, resource);' },
            ],
            reason: 'x',
          },
        },
        400,
        'validation-failed',
        /used twice/,
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        {
          body: {
            sources: [{ name: 't.cedar', text: 'permit (principal == ?principal, action, resource);' }],
            reason: 'x',
          },
        },
        400,
        'validation-failed',
        /templates/,
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        {
          body: { sources: [{ name: 'p.cedar', text: 'permit (principal, action, resource' }], reason: 'x' },
        },
        400,
        'validation-failed',
        /p\.cedar/,
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        { body: { reason: 'neither' } },
        400,
        'validation-failed',
        /exactly one/,
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        { body: { policies: [], reason: 'x' }, token: auditorToken },
        403,
        'forbidden',
      );
      await refused(
        'PUT',
        '/api/v1/policies',
        { body: { policies: [], reason: 'x' }, token: ownerToken },
        403,
        'forbidden',
      );
      // a schema change that would break the policies in force is refused too
      await refused(
        'PUT',
        '/api/v1/schema',
        { body: { text: '', reason: 'drop everything' } },
        400,
        'validation-failed',
        /would no longer validate/,
      );
    });

    it('grants: an agent, a whole server, a team, with conditions; revoked at once', async () => {
      const add = (body: Json) => t.api('POST', '/api/v1/grants', { body: { reason: 'e2e', ...body } });
      const pushGrant = await add({
        principal: { type: 'Agent', id: agent.id },
        action: 'repo:push',
        resource: { type: 'Repo', id: 'secret' },
        condition: 'context has branch && context.branch != "main"',
      });
      assert.equal(pushGrant.status, 201, JSON.stringify(pushGrant.body));
      assert.match(String(pushGrant.body.id), /^grt_[0-9a-z]{26}$/);
      assert.equal(pushGrant.body.status, 'active');
      const push = (branch: string) =>
        evaluate({
          subject: { type: 'Agent', id: agent.id },
          action: { name: 'repo:push' },
          resource: { type: 'Repo', id: 'secret' },
          context: { branch },
        });
      const onFeature = await push('feature');
      assert.equal(onFeature.decision, true);
      assert.deepEqual(onFeature.context.policies, [pushGrant.body.id]);
      assert.equal((await push('main')).decision, false);

      const teamGrant = await add({
        principal: { type: 'Team', id: 'payments' },
        action: 'tools/call',
        resource: { type: 'McpServer', id: 'github' },
        scope: 'in',
      });
      assert.equal(teamGrant.status, 201, JSON.stringify(teamGrant.body));
      assert.equal((await evaluate(ask(teamAgent.id))).decision, true);
      assert.equal(
        (await evaluate(ask(teamAgent.id, 'github/delete_repo'))).decision,
        false,
        'forbid still wins over a grant',
      );

      const listed = await t.api('GET', `/api/v1/grants?agent=${agent.id}`);
      assert.deepEqual(
        (listed.body.items as Json[]).map((g) => g.id),
        [pushGrant.body.id],
      );
      const revoked = await t.api('POST', `/api/v1/grants/${teamGrant.body.id}/revoke`, {
        body: { reason: 'done' },
      });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.status, 'revoked');
      assert.equal((await evaluate(ask(teamAgent.id))).decision, false);
      const live = await t.api('GET', '/api/v1/grants?team=payments&live=true');
      assert.deepEqual(live.body.items, []);
      const audited = await auditEvents(t, { action: 'grant.revoke', target: String(teamGrant.body.id) });
      assert.equal(audited.length, 1);
    });

    it('refuses grants for unknown principals or actions, ended times, bad conditions, or shapes that cannot apply', async () => {
      const base = {
        principal: { type: 'Agent', id: agent.id },
        action: 'tools/call',
        resource: { type: 'Tool', id: 'github/x' },
        reason: 'x',
      };
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, principal: { type: 'Agent', id: 'agt_00000000000000000000000000' } } },
        400,
        'validation-failed',
        /unknown agent/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, principal: { type: 'Team', id: 'nobody' } } },
        400,
        'validation-failed',
        /unknown team/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, action: 'tools/explode' } },
        400,
        'validation-failed',
        /unknown action/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, expiresAt: '2020-01-01T00:00:00Z' } },
        400,
        'validation-failed',
        /future/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, condition: 'context.input.amount <' } },
        400,
        'validation-failed',
        /not a Cedar expression/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, condition: 'true }; permit (principal, action, resource) when { true' } },
        400,
        'validation-failed',
        /not a Cedar expression/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, condition: 'context.input.weight > 3' } },
        400,
        'validation-failed',
        /weight/,
      );
      await refused(
        'POST',
        '/api/v1/grants',
        { body: { ...base, resource: { type: 'Repo', id: 'custos' } } },
        400,
        'validation-failed',
        /does not validate/,
      );
      await refused('POST', '/api/v1/grants', { body: base, token: auditorToken }, 403, 'forbidden');
      await refused(
        'POST',
        '/api/v1/grants/grt_00000000000000000000000000/revoke',
        { body: { reason: 'x' } },
        404,
        'not-found',
      );
    });

    it('shadow mode records what the shadow set would decide, without enforcing it; promote and discard', async () => {
      const enforced = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const keep = Object.fromEntries(enforced.map((p) => [String(p.id), String(p.text)]));
      const shadow = await putPolicies(
        { ...keep, 'freeze-tools': 'forbid (principal, action == Action::"tools/call", resource);' },
        { mode: 'shadow' },
      );
      assert.equal(shadow.status, 200, JSON.stringify(shadow.body));
      const d = await evaluate(ask(agent.id));
      assert.equal(d.decision, true, 'the enforced set decides');
      assert.deepEqual(d.context.shadow, { decision: false, policies: ['freeze-tools'] });
      const events = await auditEvents(t, { action: 'policy.decision', target: agent.id });
      const last = events.at(-1);
      assert.ok(last);
      assert.equal(last.outcome, 'success');
      assert.deepEqual((last.details as Json).policies, ['issues']);
      assert.equal(((last.details as Json).shadow as Json).decision, 'deny');
      assert.deepEqual(((last.details as Json).shadow as Json).policies, ['freeze-tools']);

      const promoted = await t.api('POST', '/api/v1/policies/shadow/promote', {
        body: { reason: 'looked right for a day' },
      });
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      assert.deepEqual((promoted.body.diff as Json).added, ['freeze-tools']);
      const after = await evaluate(ask(agent.id));
      assert.equal(after.decision, false);
      assert.equal(after.context.shadow, undefined);
      await refused(
        'POST',
        '/api/v1/policies/shadow/promote',
        { body: { reason: 'again' } },
        409,
        'invalid-transition',
      );
      await putPolicies(keep, { mode: 'shadow' });
      assert.equal(
        (await t.api('POST', '/api/v1/policies/shadow/discard', { body: { reason: 'no' } })).status,
        200,
      );
      await refused(
        'POST',
        '/api/v1/policies/shadow/discard',
        { body: { reason: 'again' } },
        409,
        'invalid-transition',
      );
      await putPolicies(keep);
    });

    it('what-if lists the recorded decisions a proposed set would change', async () => {
      assert.equal((await evaluate(ask(agent.id))).decision, true);
      const enforced = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const keep = enforced.map((p) => ({ id: p.id, text: p.text }));
      const res = await t.api('POST', '/api/v1/policies/whatif', {
        body: {
          policies: [
            ...keep,
            { id: 'freeze', text: `forbid (principal == Agent::"${agent.id}", action, resource);` },
          ],
          last: 50,
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const changed = res.body.changed as Json[];
      assert.ok(changed.length >= 1);
      for (const c of changed) {
        if (((c.request as Json).principal as Json).id === agent.id) {
          assert.equal(c.recorded, 'allow');
          assert.equal(c.proposed, 'deny');
        } else {
          // not touched by the proposal: a change since it was recorded (here, the revoked team grant)
          assert.equal(c.proposed, c.current);
        }
      }
      assert.ok(changed.some((c) => (c.proposedPolicies as string[]).includes('freeze')));
      // proposing the set in force changes nothing the policies decide: what remains is drift since the
      // decisions were recorded (policies and grants that changed), which `current` shows
      const same = await t.api('POST', '/api/v1/policies/whatif', { body: { policies: keep, last: 50 } });
      for (const c of same.body.changed as Json[]) assert.equal(c.proposed, c.current);
    });

    it('runs policy tests against a proposed set', async () => {
      const res = await t.api('POST', '/api/v1/policies/test', {
        body: {
          policies: [
            {
              id: 'only-issues',
              text: `permit (principal == Agent::"${agent.id}", action == Action::"tools/call", resource == Tool::"github/create_issue");`,
            },
          ],
          cases: [
            { name: 'may file issues', ...ask(agent.id), expect: 'allow' },
            { name: 'may not delete', ...ask(agent.id, 'github/delete_repo'), expect: 'allow' },
          ],
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.passed, 1);
      assert.equal(res.body.failed, 1);
      assert.deepEqual(
        (res.body.results as Json[]).map((r) => [r.name, r.actual]),
        [
          ['may file issues', 'allow'],
          ['may not delete', 'deny'],
        ],
      );
    });

    it('token issuance asks token:issue: allow-lists are grants, and policies widen and narrow them', async () => {
      const granted = await tokenRequest(agent, { scope: 'read', resource: API });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.equal(granted.body.scope, 'read');
      const issue = (await auditEvents(t, { action: 'token.issue', target: agent.id })).at(-1);
      assert.ok(issue);
      const policy = (issue.details as Json).policy as Json;
      assert.deepEqual(
        (policy.decisions as Json[]).map((d) => [(d.request as Json).resource, d.decision, d.policies]),
        [
          [{ type: 'Scope', id: 'read' }, 'allow', ['custos:token-allowed-scopes']],
          [{ type: 'Audience', id: API }, 'allow', ['custos:token-allowed-audiences']],
        ],
      );

      const refusedWrite = await tokenRequest(agent, { scope: 'read write', resource: API });
      assert.equal(refusedWrite.status, 400);
      assert.equal(refusedWrite.body.error, 'invalid_scope');
      const denial = (await auditEvents(t, { action: 'policy.decision', target: agent.id })).at(-1);
      assert.ok(denial);
      assert.equal((denial.details as Json).source, 'token');
      assert.equal(denial.outcome, 'denied');

      const grant = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'Agent', id: agent.id },
          action: 'token:issue',
          resource: { type: 'Scope', id: 'write' },
          reason: 'needs write',
        },
      });
      assert.equal(grant.status, 201, JSON.stringify(grant.body));
      const widened = await tokenRequest(agent, { scope: 'read write', resource: API });
      assert.equal(widened.status, 200, JSON.stringify(widened.body));
      assert.equal(widened.body.scope, 'read write');
      const defaults = await tokenRequest(agent, { resource: API });
      assert.equal(defaults.body.scope, 'read write', 'no scope asked: every scope policy allows');

      const enforced = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const keep = Object.fromEntries(enforced.map((p) => [String(p.id), String(p.text)]));
      await putPolicies({
        ...keep,
        'no-read-tokens': `forbid (principal == Agent::"${agent.id}", action == Action::"token:issue", resource == Scope::"read");`,
      });
      const narrowed = await tokenRequest(agent, { scope: 'read', resource: API });
      assert.equal(narrowed.body.error, 'invalid_scope');
      const other = await tokenRequest(agent, { scope: 'write', resource: 'https://other.example.com' });
      assert.equal(other.body.error, 'invalid_target');
      await putPolicies(keep);
    });

    it('sees inventory changes at once: a deactivated user, a suspended agent', async () => {
      const enforced = (await t.api('GET', '/api/v1/policies')).body.policies as Json[];
      const keep = Object.fromEntries(enforced.map((p) => [String(p.id), String(p.text)]));
      await putPolicies({
        ...keep,
        'active-users':
          'permit (principal is User, action == Action::"tools/call", resource) when { principal.status == "active" };',
      });
      const user = await t.api('POST', '/api/v1/users', {
        body: { email: 'temp@example.com', name: 'Temp' },
      });
      const asUser = {
        subject: { type: 'User', id: user.body.id },
        action: { name: 'tools/call' },
        resource: { type: 'Tool', id: 'github/create_issue' },
      };
      assert.equal((await evaluate(asUser)).decision, true);
      await t.api('POST', `/api/v1/users/${user.body.id}/deactivate`, { body: { reason: 'left' } });
      assert.equal((await evaluate(asUser)).decision, false, 'the cached User entity was dropped');

      assert.equal((await evaluate(ask(agent.id))).decision, true);
      await t.api('POST', `/api/v1/agents/${agent.id}/suspend`, { body: { reason: 'e2e' } });
      const suspended = await evaluate(
        ask(agent.id, 'github/create_issue', {
          subject: { type: 'Agent', id: agent.id, properties: { status: 'active' } },
        }),
      );
      assert.equal(suspended.decision, false);
      assert.deepEqual(suspended.context.policies, ['custos:agent-inactive']);
      await t.api('POST', `/api/v1/agents/${agent.id}/resume`, { body: { reason: 'e2e' } });
      assert.equal((await evaluate(ask(agent.id))).decision, true);
      await putPolicies(keep);
    });

    it('authenticates AuthZEN callers: admin, auditor and resource-server tokens, or agent tokens with authzen:evaluate', async () => {
      const body = ask(agent.id);
      await refused('POST', '/access/v1/evaluation', { body, token: null }, 401, 'unauthenticated');
      await refused('POST', '/access/v1/evaluation', { body, token: 'not-a-token' }, 401, 'unauthenticated');
      await refused('POST', '/access/v1/evaluation', { body, token: ownerToken }, 403, 'forbidden');
      const unauth = await t.api('POST', '/access/v1/evaluation', { body, token: null });
      assert.match(unauth.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.equal((await evaluate(body, auditorToken)).decision, true);
      assert.equal((await evaluate(body, rsToken)).decision, true);

      // a policy enforcement point running as an agent: it needs the authzen:evaluate scope
      const pep = await createAgent(t, owner, {
        scopes: ['authzen:evaluate', 'other'],
        audiences: [t.config.issuer],
      });
      const withScope = await tokenRequest(pep, { scope: 'authzen:evaluate', resource: t.config.issuer });
      assert.equal(withScope.status, 200, JSON.stringify(withScope.body));
      const answer = await evaluate(body, String(withScope.body.access_token));
      assert.equal(answer.decision, true);
      const recorded = (await auditEvents(t, { action: 'policy.decision', target: agent.id })).at(-1);
      assert.deepEqual(recorded?.actor, { type: 'agent', id: pep.id });
      const withoutScope = await tokenRequest(pep, { scope: 'other', resource: t.config.issuer });
      await refused(
        'POST',
        '/access/v1/evaluation',
        { body, token: String(withoutScope.body.access_token) },
        403,
        'forbidden',
        /authzen:evaluate/,
      );
      const forged = await new jose.SignJWT({ scope: 'authzen:evaluate' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'nope' })
        .sign(pep.privateKey);
      await refused('POST', '/access/v1/evaluation', { body, token: forged }, 401, 'unauthenticated');
    });
  });

  describe(`AuthZEN with a DPoP-bound agent token (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(() => t.close());

    it('needs the DPoP scheme and a fresh proof bound to the token; maps what Cedar cannot name to a deny', async () => {
      const owner = String(
        (await t.api('POST', '/api/v1/users', { body: { email: 'pep@example.com', name: 'P' } })).body.email,
      );
      const pep = await createAgent(t, owner, { scopes: ['authzen:evaluate'], audiences: [t.config.issuer] });
      const keys = await newKeyPair();
      const tokenUrl = `${t.config.issuer}/oauth/token`;
      const issued = await postForm(
        tokenUrl,
        tokenForm(pep.id, await signAssertion(t.config.issuer, pep), {
          scope: 'authzen:evaluate',
          resource: t.config.issuer,
        }),
        { DPoP: await dpopProof(keys, { htu: tokenUrl }) },
      );
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.token_type, 'DPoP');
      const token = String(issued.body.access_token);
      const url = `${t.config.issuer}/access/v1/evaluation`;
      const ath = createHash('sha256').update(token).digest('base64url');
      const body = {
        subject: { type: 'Agent', id: pep.id },
        action: { name: 'tools/call' },
        resource: { type: 'Tool', id: 's/t' },
      };
      const call = (authorization: string, proof?: string) =>
        t.api('POST', '/access/v1/evaluation', {
          body,
          token: null,
          headers: { authorization, ...(proof ? { dpop: proof } : {}) },
        });
      const proof = await dpopProof(keys, { htu: url, claims: { ath } });
      const ok = await call(`DPoP ${token}`, proof);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.decision, false, 'default deny');
      assert.equal((await call(`DPoP ${token}`, proof)).status, 401, 'a proof is single use');
      assert.equal((await call(`Bearer ${token}`)).status, 401, 'a bound token is not a bearer token');
      assert.equal((await call(`DPoP ${token}`)).status, 401, 'no proof');
      const other = await newKeyPair();
      assert.equal(
        (await call(`DPoP ${token}`, await dpopProof(other, { htu: url, claims: { ath } }))).status,
        401,
        'another key',
      );
      const noAth = await dpopProof(keys, { htu: url });
      assert.equal((await call(`DPoP ${token}`, noAth)).status, 401, 'no ath');

      // a type Cedar cannot name is a deny with its reason, not a refusal
      const odd = await t.api('POST', '/access/v1/evaluation', {
        body: { ...body, resource: { type: 'my-type', id: 'x' } },
      });
      assert.equal(odd.status, 200);
      assert.equal(odd.body.decision, false);
      assert.match(String((odd.body.context as Json).error), /not a Cedar entity type name/);
      const recorded = (await auditEvents(t, { action: 'policy.decision' })).at(-1);
      assert.equal(recorded?.outcome, 'denied');
    });
  });

  if (dialect === 'postgres') {
    describe('two nodes sharing PostgreSQL', () => {
      let t: TestServer;
      before(async () => {
        t = await startTestServer(dialect);
      });
      after(() => t.close());

      it('a policy or entity change on one node reaches the decisions of the other through LISTEN/NOTIFY', async () => {
        const node2 = await startSecondNode(t);
        try {
          const onNode2 = async () => {
            const res = await fetch(`${node2.url}/access/v1/evaluation`, {
              method: 'POST',
              headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
              body: JSON.stringify({
                subject: { type: 'Agent', id: 'agt_00000000000000000000000000' },
                action: { name: 'resources/read' },
                resource: { type: 'McpServer', id: 'docs' },
              }),
            });
            return ((await res.json()) as { context: { policy_version: number } }).context.policy_version;
          };
          const before = await onNode2();
          const applied = await t.api('PUT', '/api/v1/policies', {
            body: {
              policies: [
                { id: 'p', text: 'permit (principal, action == Action::"resources/read", resource);' },
              ],
              reason: 'x',
            },
          });
          const version = Number(applied.body.version);
          assert.ok(version > before);
          // node 2 learns at commit through NOTIFY: within moments, never by restart or polling
          const deadline = Date.now() + 5000;
          let seen = await onNode2();
          while (seen !== version && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
            seen = await onNode2();
          }
          assert.equal(seen, version);
        } finally {
          await node2.close();
        }
      });
    });
  }

  describe(`time-bound grants (${dialect})`, () => {
    const clock = manualClock(Date.UTC(2030, 0, 1));
    let t: TestServer;

    before(async () => {
      t = await startServerWithClock(dialect, clock);
    });
    after(() => t.close());

    it('an expired grant denies, with nothing having to run', async () => {
      const owner = String(
        (await t.api('POST', '/api/v1/users', { body: { email: 'o@example.com', name: 'O' } })).body.email,
      );
      const agent = await createAgent(t, owner, { withKey: false });
      const grant = await t.api('POST', '/api/v1/grants', {
        body: {
          principal: { type: 'Agent', id: agent.id },
          action: 'tools/call',
          resource: { type: 'Tool', id: 'github/create_issue' },
          expiresAt: new Date(clock.now() + HOUR).toISOString(),
          reason: 'on call tonight',
        },
      });
      assert.equal(grant.status, 201, JSON.stringify(grant.body));
      const body = ask(agent.id);
      const during = await t.api('POST', '/access/v1/evaluation', { body });
      assert.equal(during.body.decision, true);
      clock.advance(HOUR);
      const afterEnd = await t.api('POST', '/access/v1/evaluation', { body });
      assert.equal(afterEnd.body.decision, false);
      assert.deepEqual((afterEnd.body.context as Json).policies, []);
      const listed = await t.api('GET', `/api/v1/grants/${grant.body.id}`);
      assert.equal(listed.body.status, 'expired');
    });
  });
}
