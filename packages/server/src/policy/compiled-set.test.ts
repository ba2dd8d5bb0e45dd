import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cedar } from './cedar.js';
import { CompiledSet, PreparsedPool } from './compiled-set.js';
import { grantMember } from './grant-template.js';
import { analysePolicy } from './members.js';
import { requestKeys } from './policy-scope.js';

const member = (id: string, text: string) => {
  const analysed = analysePolicy(id, text);
  if (!analysed.ok) throw new Error(analysed.error);
  return analysed.member;
};

const decide = (slot: string, principal = 'a') => {
  const answer = cedar.statefulIsAuthorized({
    principal: { type: 'Agent', id: principal },
    action: { type: 'Action', id: 'tools/call' },
    resource: { type: 'Tool', id: 's/t' },
    context: {},
    preparsedPolicySetId: slot,
    entities: [],
  });
  assert.equal(answer.type, 'success');
  return answer.type === 'success' ? answer.response.decision : 'error';
};

describe('pre-parsed policy sets', () => {
  it('keeps the sets of two pools apart (several engines in one process)', () => {
    const allow = {
      set: { staticPolicies: { p: 'permit (principal, action, resource);' } },
      count: 1,
      validUntil: Infinity,
      contextUse: 'all' as const,
    };
    const deny = {
      set: { staticPolicies: { f: 'forbid (principal, action, resource);' } },
      count: 1,
      validUntil: Infinity,
      contextUse: 'all' as const,
    };
    const one = new PreparsedPool().acquire('same-key', 0, () => allow);
    const two = new PreparsedPool().acquire('same-key', 0, () => deny);
    assert.ok(one && two);
    assert.notEqual(one.slot, two.slot);
    assert.equal(decide(one.slot), 'allow');
    assert.equal(decide(two.slot), 'deny');
  });

  it('replaces the least recently used set when full, and rebuilds a set once a member has ended', () => {
    const pool = new PreparsedPool(2);
    let builds = 0;
    const build =
      (validUntil = Infinity) =>
      () => {
        builds++;
        return {
          set: { staticPolicies: { p: 'permit (principal, action, resource);' } },
          count: 1,
          validUntil,
          contextUse: 'all' as const,
        };
      };
    pool.acquire('a', 0, build());
    pool.acquire('b', 0, build());
    pool.acquire('a', 0, build()); // a is now the most recently used
    pool.acquire('c', 0, build()); // evicts b
    assert.equal(builds, 3);
    pool.acquire('a', 0, build());
    assert.equal(builds, 3, 'a stayed');
    pool.acquire('b', 0, build());
    assert.equal(builds, 4, 'b was rebuilt');
    pool.acquire('t', 0, build(100));
    pool.acquire('t', 99, build(100));
    assert.equal(builds, 5);
    pool.acquire('t', 100, build(200));
    assert.equal(builds, 6, 'rebuilt at its validUntil');
  });

  it('selects the policies a principal and resource can match, and leaves ended grants out', () => {
    const grant = grantMember({
      id: 'grt_1',
      principalType: 'Agent',
      principalId: 'a',
      action: 'tools/call',
      resourceType: 'McpServer',
      resourceId: 's',
      resourceScope: 'in',
      condition: null,
      expiresAt: 1000,
    });
    const set = new CompiledSet('enforce', 1, [
      member('mine', 'permit (principal == Agent::"a", action, resource == Tool::"s/t");'),
      member('theirs', 'permit (principal == Agent::"b", action, resource);'),
      member('team', 'forbid (principal in Team::"x", action, resource);'),
      member('global', 'forbid (principal, action, resource is Route);'),
      grant,
    ]);
    const principal = requestKeys({ type: 'Agent', id: 'a' }, []);
    const resource = requestKeys({ type: 'Tool', id: 's/t' }, [{ type: 'McpServer', id: 's' }]);
    assert.deepEqual(
      set
        .applicable(principal, resource)
        .map((m) => m.id)
        .sort(),
      ['grt_1', 'mine'],
    );
    const inTeam = requestKeys({ type: 'Agent', id: 'a' }, [{ type: 'Team', id: 'x' }]);
    assert.deepEqual(
      set
        .applicable(inTeam, resource)
        .map((m) => m.id)
        .sort(),
      ['grt_1', 'mine', 'team'],
    );
    const pool = new PreparsedPool();
    assert.equal(set.preparsed(pool, principal, resource, 999)?.count, 2);
    assert.equal(set.preparsed(pool, principal, resource, 1000)?.count, 1, 'the grant ended');
    assert.equal(set.preparsed(pool, requestKeys({ type: 'Agent', id: 'c' }, []), resource, 0), null);
    assert.deepEqual(
      set.namedResourcesFor(principal, 'McpServer').map((u) => u.id),
      ['s'],
    );
  });
});
