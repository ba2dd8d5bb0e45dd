import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import fc from 'fast-check';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.js';
import { agentRecord, userRecord } from '../../test/support/records.js';
import type { Actor } from '../audit/index.js';
import { CustosError, manualClock } from '../core/index.js';
import { openStore, type Store } from '../storage/index.js';
import { cedar } from './cedar.js';
import {
  addGrant,
  type DecisionRequest,
  PolicyEngine,
  putPolicies,
  putSchema,
  revokeGrant,
  upsertEntities,
} from './index.js';

const T0 = Date.UTC(2026, 0, 1);
const ADMIN: Actor = { type: 'admin_token', id: 'tok_test', role: 'admin', userId: null, requestId: null };

const SCHEMA = `
entity Doc in [Folder] { owner?: String, classification?: String };
entity Folder;
entity Person { clearance?: Long };
action read, write appliesTo { principal: [Person, Agent], resource: [Doc], context: { n?: Long } };
`;

for (const dialect of DIALECTS) {
  describe(`policy engine (${dialect})`, () => {
    let db: TestDatabase;
    let store: Store;
    let engine: PolicyEngine;
    const clock = manualClock(T0);
    let agentId: string;
    let deps: { store: Store; clock: typeof clock; engine: PolicyEngine };

    const ask = (over: Partial<DecisionRequest> = {}): DecisionRequest => ({
      principal: { type: 'Person', id: 'ann' },
      action: 'read',
      resource: { type: 'Doc', id: 'd1' },
      ...over,
    });
    const apply = (policies: Record<string, string>, mode: 'enforce' | 'shadow' = 'enforce') =>
      putPolicies(deps, ADMIN, {
        mode,
        reason: 'test',
        policies: Object.entries(policies).map(([id, text]) => ({ id, text })),
      });

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openStore(db.url, { migrate: true, nowMs: T0 });
      engine = new PolicyEngine({ store, clock });
      deps = { store, clock, engine };
      const owner = userRecord('o@example.com', T0);
      await store.users.insert(owner);
      await store.teams.insert({ name: 'payments', description: '', createdAt: T0, updatedAt: T0 });
      const agent = agentRecord(owner.id, T0, {
        team: 'payments',
        tags: { env: 'prod' },
        allowedScopes: ['read'],
      });
      agentId = agent.id;
      await store.agents.insert(agent);
      await putSchema(deps, ADMIN, { text: SCHEMA, reason: 'test' });
      await upsertEntities(
        deps,
        ADMIN,
        [
          {
            uid: { type: 'Doc', id: 'd1' },
            attrs: { owner: 'ann' },
            parents: [{ type: 'Folder', id: 'f1' }],
          },
          { uid: { type: 'Person', id: 'ann' }, attrs: { clearance: 3 } },
        ],
        null,
      );
    });
    after(async () => {
      engine.close();
      await store.close();
      await db.drop();
    });

    it('denies by default when no policy applies', async () => {
      const d = await engine.decide(ask());
      assert.equal(d.allowed, false);
      assert.deepEqual(d.policies, []);
      assert.deepEqual(d.errors, []);
      assert.equal(d.shadow, null);
    });

    it('allows on a permit, and a forbid beats it', async () => {
      await apply({
        'read-own':
          'permit (principal is Person, action == Action::"read", resource is Doc) when { resource has owner && resource.owner == "ann" };',
      });
      const allowed = await engine.decide(ask());
      assert.equal(allowed.allowed, true);
      assert.deepEqual(allowed.policies, ['read-own']);
      await apply({
        'read-own':
          'permit (principal is Person, action == Action::"read", resource is Doc) when { resource has owner && resource.owner == "ann" };',
        'no-folder-f1': 'forbid (principal, action, resource in Folder::"f1");',
      });
      const denied = await engine.decide(ask());
      assert.equal(denied.allowed, false);
      assert.deepEqual(denied.policies, ['no-folder-f1']);
    });

    it('denies when a forbid errors, where Cedar alone would allow', async () => {
      const policies = {
        'allow-all-reads': 'permit (principal, action == Action::"read", resource);',
        // overflows (an evaluation error) for any n >= 1: validated, yet erroring at run time
        'forbid-big-n':
          'forbid (principal, action, resource) when { context has n && context.n + 9223372036854775807 > 0 };',
      };
      // the trap, demonstrated on Cedar itself: the erroring forbid is skipped and the permit wins
      const raw = wasm.isAuthorized({
        principal: { type: 'Person', id: 'ann' },
        action: { type: 'Action', id: 'read' },
        resource: { type: 'Doc', id: 'd1' },
        context: { n: 5 },
        policies: { staticPolicies: policies },
        entities: [],
      });
      assert.equal(raw.type, 'success');
      assert.equal(raw.type === 'success' && raw.response.decision, 'allow');
      assert.equal(raw.type === 'success' && raw.response.diagnostics.errors.length, 1);

      await apply(policies);
      const d = await engine.decide(ask({ context: { n: 5 } }));
      assert.equal(d.allowed, false, 'an erroring forbid must deny');
      assert.deepEqual(d.policies, ['forbid-big-n']);
      assert.equal(d.errors.length, 1);
      assert.equal(d.errors[0]?.policyId, 'forbid-big-n');
      assert.match(d.errors[0]?.message ?? '', /overflow/);
      // without the error (no n), the permit decides
      assert.equal((await engine.decide(ask())).allowed, true);
    });

    it('refuses a schema-invalid set with the validator messages and keeps the old set in force', async () => {
      const before = await engine.decide(ask());
      await assert.rejects(
        apply({
          'read-own': 'permit (principal, action == Action::"read", resource) when { resource.nope == 1 };',
          other: 'permit (principal is Unknown, action, resource);',
        }),
        (error: unknown) => {
          assert.ok(error instanceof CustosError);
          assert.equal(error.code, 'validation_failed');
          const all = error.fields.map((f) => f.detail).join('\n');
          assert.match(all, /policy `read-own`: .*attribute `nope`/);
          assert.match(all, /policy `other`: .*unrecognized entity type `Unknown`/);
          return true;
        },
      );
      const after = await engine.decide(ask());
      assert.equal(after.allowed, before.allowed);
      assert.equal(after.version, before.version, 'no new version');
    });

    it('evaluates only the policies that can apply to the principal and resource', async () => {
      const many: Record<string, string> = {
        base: 'permit (principal == Person::"ann", action == Action::"read", resource == Doc::"d1");',
      };
      for (let i = 0; i < 200; i++)
        many[`other-${i}`] = `permit (principal == Person::"p${i}", action == Action::"read", resource);`;
      await apply(many);
      const d = await engine.decide(ask());
      assert.equal(d.allowed, true);
      assert.deepEqual(d.policies, ['base']);
      // the two platform policies are indexed under `is Agent`: neither applies to a Person
      assert.equal(d.evaluated, 1);
    });

    it('stops a time-bound grant at its end, without anything running', async () => {
      await apply({});
      const grant = await addGrant(deps, ADMIN, {
        principal: { type: 'Agent', id: agentId },
        action: 'read',
        resource: { type: 'Folder', id: 'f1' },
        scope: 'in',
        expiresAt: clock.now() + 60_000,
        reason: 'jit',
      });
      const req = ask({ principal: { type: 'Agent', id: agentId } });
      const during = await engine.decide(req);
      assert.equal(during.allowed, true);
      assert.deepEqual(during.policies, [grant.id]);
      clock.advance(60_000);
      const afterEnd = await engine.decide(req);
      assert.equal(afterEnd.allowed, false, 'an expired grant denies');
      assert.deepEqual(afterEnd.policies, []);
    });

    it('grants to a team cover its agents; a revoked grant stops at once', async () => {
      const grant = await addGrant(deps, ADMIN, {
        principal: { type: 'Team', id: 'payments' },
        action: 'write',
        resource: { type: 'Doc', id: 'd1' },
        condition: 'principal.hasTag("env") && principal.getTag("env") == "prod"',
        reason: 'team',
      });
      const req = ask({ principal: { type: 'Agent', id: agentId }, action: 'write' });
      assert.equal((await engine.decide(req)).allowed, true);
      await revokeGrant(deps, ADMIN, grant.id, 'done');
      assert.equal((await engine.decide(req)).allowed, false);
    });

    it('refuses a grant whose condition tries to close the template, or that can never apply', async () => {
      await assert.rejects(
        addGrant(deps, ADMIN, {
          principal: { type: 'Agent', id: agentId },
          action: 'read',
          resource: { type: 'Doc', id: 'd1' },
          condition: 'true }; permit (principal, action, resource) when { true',
          reason: 'x',
        }),
        /condition is not a Cedar expression/,
      );
      await assert.rejects(
        addGrant(deps, ADMIN, {
          principal: { type: 'Agent', id: agentId },
          action: 'read',
          resource: { type: 'Scope', id: 'x' },
          reason: 'x',
        }),
        /does not validate against the schema/,
      );
    });

    it('shadow mode computes the shadow outcome without enforcing it', async () => {
      await apply({ allow: 'permit (principal == Person::"ann", action == Action::"read", resource);' });
      await apply({ deny: 'forbid (principal, action, resource);' }, 'shadow');
      const d = await engine.decide(ask());
      assert.equal(d.allowed, true, 'the enforced set decides');
      assert.ok(d.shadow);
      assert.equal(d.shadow.allowed, false);
      assert.deepEqual(d.shadow.policies, ['deny']);
    });

    it('denies everything to an agent that is suspended, whatever the policies say', async () => {
      await apply({ all: 'permit (principal, action, resource);' });
      const req = ask({ principal: { type: 'Agent', id: agentId } });
      assert.equal((await engine.decide(req)).allowed, true);
      await store.transaction(async (tx) => {
        await tx.agents.transition(agentId, ['active'], 'suspended', 'test', clock.now());
        await tx.notify({ topic: 'agent', id: agentId });
      });
      const d = await engine.decide({ ...req, principalProperties: { status: 'active' } });
      assert.equal(d.allowed, false);
      assert.deepEqual(d.policies, ['custos:agent-inactive']);
      await store.transaction(async (tx) => {
        await tx.agents.transition(agentId, ['suspended'], 'active', 'test', clock.now());
        await tx.notify({ topic: 'agent', id: agentId });
      });
    });

    it('answers a repeated decision from the memo (context read by no policy left out), and never past a change', async () => {
      const original = cedar.statefulIsAuthorized;
      let calls = 0;
      const spied = cedar as { statefulIsAuthorized: typeof original };
      spied.statefulIsAuthorized = (call) => {
        calls++;
        return original(call);
      };
      const setOwner = (owner: string) =>
        upsertEntities(
          deps,
          ADMIN,
          [{ uid: { type: 'Doc', id: 'd1' }, attrs: { owner }, parents: [{ type: 'Folder', id: 'f1' }] }],
          null,
        );
      /** Decides until an answer comes from the memo (PostgreSQL may deliver a change twice, and late). */
      const fromMemo = async (request: DecisionRequest) => {
        for (let i = 0; i < 50; i++) {
          const before = calls;
          const d = await engine.decide(request);
          if (calls === before) return d;
        }
        assert.fail('the same inputs must be answered from the memo');
      };
      try {
        await apply({
          'read-own':
            'permit (principal is Person, action == Action::"read", resource is Doc) when { resource has owner && resource.owner == "ann" };',
        });
        assert.equal((await engine.decide(ask())).allowed, true);
        const again = await fromMemo(ask());
        assert.equal(again.allowed, true);
        assert.deepEqual(again.policies, ['read-own']);

        await setOwner('bob');
        assert.equal((await engine.decide(ask())).allowed, false, 'an entity change is seen at once');
        await setOwner('ann');
        assert.equal((await engine.decide(ask())).allowed, true);

        // context the policies do not read does not matter: `n` differs, the answer is the memo's
        await fromMemo(ask({ context: { n: 1 } }));
        const unread = await fromMemo(ask({ context: { n: 2 } }));
        assert.equal(unread.allowed, true);

        // context they read is part of the key: each value gets Cedar's own answer
        await apply({
          'read-own':
            'permit (principal is Person, action == Action::"read", resource is Doc) when { resource has owner && resource.owner == "ann" && context has n && context.n < 5 };',
        });
        assert.equal((await engine.decide(ask({ context: { n: 1 } }))).allowed, true);
        assert.equal((await engine.decide(ask({ context: { n: 7 } }))).allowed, false, 'n = 7 is not n = 1');
        assert.equal((await engine.decide(ask({ context: {} }))).allowed, false, 'no n is not n = 1');
        assert.equal((await fromMemo(ask({ context: { n: 1 } }))).allowed, true);
        assert.equal((await fromMemo(ask({ context: { n: 7 } }))).allowed, false);

        await apply({ 'read-own': 'forbid (principal, action, resource);' });
        assert.equal((await engine.decide(ask())).allowed, false, 'a policy change is seen at once');

        await apply({});
        await addGrant(deps, ADMIN, {
          principal: { type: 'Agent', id: agentId },
          action: 'read',
          resource: { type: 'Folder', id: 'f1' },
          scope: 'in',
          expiresAt: clock.now() + 60_000,
          reason: 'jit',
        });
        const req = ask({ principal: { type: 'Agent', id: agentId } });
        assert.equal((await engine.decide(req)).allowed, true);
        clock.advance(59_999);
        assert.equal((await fromMemo(req)).allowed, true, 'from the memo until the grant ends');
        clock.advance(1);
        assert.equal((await engine.decide(req)).allowed, false, 'not a moment past the end of the grant');

        await addGrant(deps, ADMIN, {
          principal: { type: 'Agent', id: agentId },
          action: 'read',
          resource: { type: 'Folder', id: 'f1' },
          scope: 'in',
          reason: 'standing',
        });
        assert.equal((await fromMemo(req)).allowed, true);
        await store.transaction(async (tx) => {
          await tx.agents.transition(agentId, ['active'], 'suspended', 'test', clock.now());
          await tx.notify({ topic: 'agent', id: agentId });
        });
        const suspended = await engine.decide(req);
        assert.equal(suspended.allowed, false, 'a suspension is seen at once');
        assert.deepEqual(suspended.policies, ['custos:agent-inactive']);
      } finally {
        spied.statefulIsAuthorized = original;
        await store.transaction(async (tx) => {
          await tx.agents.transition(agentId, ['suspended'], 'active', 'test', clock.now());
          await tx.notify({ topic: 'agent', id: agentId });
        });
      }
    });

    it('never lets the memo answer a context Cedar would refuse to read, and never throws on one', async () => {
      await apply({ everyone: 'permit (principal, action, resource);' });
      const lone = JSON.parse('"\\ud800"') as string;
      const unreadable: [string, Record<string, unknown>][] = [
        ['a decimal without its dot', { n: 1, input: { amount: { __extn: { fn: 'decimal', arg: '5' } } } }],
        ['a context that is an extension escape', { __extn: { fn: 'ip', arg: '1.2.3.4' } }],
        ['a context that is an entity escape', { __entity: { type: 'Agent', id: 'x' } }],
        ['a context that is an `__expr` escape', { __expr: 'true' }],
        ['a lone surrogate in a string', { n: 1, input: { path: lone } }],
        ['a lone surrogate in a name', { n: 1, input: { [lone]: 1 } }],
        [
          'a lone surrogate in an entity id',
          { n: 1, input: { who: { __entity: { type: 'Agent', id: lone } } } },
        ],
      ];
      // warm the memo with an ordinary request on the same set: nothing reads the context
      assert.equal((await engine.decide(ask({ context: { n: 1 } }))).allowed, true);
      assert.equal((await engine.decide(ask({ context: { n: 1 } }))).allowed, true);
      for (const [what, context] of unreadable) {
        const d = await engine.decide(ask({ context }));
        assert.equal(d.allowed, false, what);
        assert.ok(d.errors.length > 0, `${what}: the decision says why`);
      }
      await apply({});
    });

    it('while the change feed is unhealthy, reads the version every decision and bypasses the entity cache', async () => {
      // a second engine that hears nothing (as if its feed had lost its connection)
      let healthy = true;
      const deaf: Store = {
        ...store,
        changes: { ...store.changes, healthy: () => healthy, subscribe: () => () => undefined },
      };
      const other = new PolicyEngine({ store: deaf, clock });
      try {
        await apply({ one: 'permit (principal == Person::"ann", action == Action::"read", resource);' });
        assert.equal((await other.decide(ask())).allowed, true);
        await apply({});
        assert.equal(
          (await other.decide(ask())).allowed,
          true,
          'a healthy feed it never heard from: stale (why the feed matters)',
        );
        healthy = false;
        assert.equal(
          (await other.decide(ask())).allowed,
          false,
          'unhealthy: the version row is read, the change seen',
        );
        await apply({
          label:
            'permit (principal, action == Action::"read", resource is Doc) when { resource has owner && resource.owner == "bob" };',
        });
        await upsertEntities(
          deps,
          ADMIN,
          [
            {
              uid: { type: 'Doc', id: 'd1' },
              attrs: { owner: 'bob' },
              parents: [{ type: 'Folder', id: 'f1' }],
            },
          ],
          null,
        );
        assert.equal(
          (await other.decide(ask())).allowed,
          true,
          'unhealthy: entities are read from the store',
        );
      } finally {
        other.close();
        await upsertEntities(
          deps,
          ADMIN,
          [
            {
              uid: { type: 'Doc', id: 'd1' },
              attrs: { owner: 'ann' },
              parents: [{ type: 'Folder', id: 'f1' }],
            },
          ],
          null,
        );
      }
    });

    it('property: adding a forbid never turns a deny into an allow', async () => {
      const principals = ['ann', 'bob', 'cid'];
      const docs = ['d1', 'd2'];
      const actions = ['read', 'write'];
      const scope = fc.record({
        principal: fc.option(fc.constantFrom(...principals), { nil: undefined }),
        action: fc.option(fc.constantFrom(...actions), { nil: undefined }),
        doc: fc.option(fc.constantFrom(...docs), { nil: undefined }),
      });
      const text = (effect: string, s: { principal?: string; action?: string; doc?: string }) =>
        `${effect} (principal${s.principal ? ` == Person::"${s.principal}"` : ''}, action${s.action ? ` == Action::"${s.action}"` : ''}, resource${s.doc ? ` == Doc::"${s.doc}"` : ''});`;
      await fc.assert(
        fc.asyncProperty(fc.array(scope, { maxLength: 4 }), scope, async (permits, forbid) => {
          const base: Record<string, string> = {};
          permits.forEach((s, i) => {
            base[`p${i}`] = text('permit', s);
          });
          await apply(base);
          const before = await Promise.all(
            principals.flatMap((p) =>
              actions.flatMap((a) =>
                docs.map((r) =>
                  engine.decide(
                    ask({
                      principal: { type: 'Person', id: p },
                      action: a,
                      resource: { type: 'Doc', id: r },
                    }),
                  ),
                ),
              ),
            ),
          );
          await apply({ ...base, f: text('forbid', forbid) });
          const afterForbid = await Promise.all(
            principals.flatMap((p) =>
              actions.flatMap((a) =>
                docs.map((r) =>
                  engine.decide(
                    ask({
                      principal: { type: 'Person', id: p },
                      action: a,
                      resource: { type: 'Doc', id: r },
                    }),
                  ),
                ),
              ),
            ),
          );
          afterForbid.forEach((d, i) => {
            if (!before[i]?.allowed) assert.equal(d.allowed, false, 'a deny stayed a deny');
          });
        }),
        { numRuns: dialect === 'sqlite' ? 25 : 10 },
      );
    });
  });
}
