import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Member } from './compiled-set.js';
import { contextUseOf } from './context-use.js';
import { grantMember } from './grant-template.js';

const policy = (text: string): Member => ({
  kind: 'static',
  id: 'p',
  text,
  effect: 'permit',
  principalKey: '*',
  resourceKey: '*',
  expiresAt: null,
});

const grant = (condition: string | null): Member =>
  grantMember({
    id: 'grt_1',
    principalType: 'Agent',
    principalId: 'agt_1',
    action: 'tools/call',
    resourceType: 'Tool',
    resourceId: 'srv/echo',
    resourceScope: 'eq',
    condition,
    expiresAt: null,
  });

const names = (members: Member[]) => {
  const use = contextUseOf(members);
  return use === 'all' ? 'all' : [...use].sort();
};

describe('what of the context policies read', () => {
  it('finds the members read through `.`, `[""]` and `has` (a path by its first name)', () => {
    assert.deepEqual(names([policy('permit (principal, action, resource);')]), []);
    assert.deepEqual(
      names([policy('permit (principal, action, resource) when { context.input.amount < 5 };')]),
      ['input'],
    );
    assert.deepEqual(
      names([
        policy(
          'forbid (principal, action, resource) when { context has session.calls && context["source address"] == "x" } unless { context.approved };',
        ),
      ]),
      ['approved', 'session', 'source address'],
    );
  });

  it('reads the conditions of grants from their template', () => {
    assert.deepEqual(names([grant(null)]), []);
    assert.deepEqual(names([grant('context.input.path like "/tmp/*"')]), ['input']);
    assert.deepEqual(
      names([
        grant(null),
        policy('permit (principal, action, resource) when { context.now > context.now };'),
      ]),
      ['now'],
    );
  });

  it('is all of it when a policy uses the context otherwise', () => {
    for (const text of [
      'permit (principal, action, resource) when { context == {} };',
      'permit (principal, action, resource) when { {c: context}.c has n };',
      'permit (principal, action, resource) when { [context].contains(context) };',
      'permit (principal, action, resource) when { (if true then context else context).n == 1 };',
    ]) {
      assert.equal(contextUseOf([policy(text)]), 'all', text);
    }
    assert.equal(
      contextUseOf([grant(null), policy('permit (principal, action, resource) when { context == {} };')]),
      'all',
    );
  });

  it('is all of it for a text Cedar cannot read', () => {
    assert.equal(contextUseOf([policy('permit (principal, action, resource) when { context. };')]), 'all');
  });
});
