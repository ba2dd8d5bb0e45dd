import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policyIdProblem, splitSources } from './policy-sources.js';

describe('policy sources', () => {
  it('names policies by @id, else by file, keeping file order past ten policies', () => {
    const many = Array.from(
      { length: 12 },
      (_, i) => `permit (principal == Agent::"a${i}", action, resource);`,
    ).join('\n');
    const { policies, problems } = splitSources([
      { name: 'team/many.cedar', text: many },
      { name: 'one.cedar', text: '// a comment\nforbid (principal, action, resource);' },
      { name: 'named.cedar', text: '@id("stable")\n@reason("x") permit (principal, action, resource);' },
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      policies.map((p) => p.id),
      [...Array.from({ length: 12 }, (_, i) => `team/many#${i + 1}`), 'one', 'stable'],
    );
    policies.slice(0, 12).forEach((p, i) => {
      assert.match(p.text, new RegExp(`Agent::"a${i}"`));
    });
    assert.deepEqual(
      policies.map((p) => p.source),
      [...Array(12).fill(0), 1, 2],
    );
  });

  it('refuses unparseable files and templates, naming the file', () => {
    const { problems } = splitSources([
      { name: 'broken.cedar', text: 'permit (principal, action' },
      { name: 'template.cedar', text: 'permit (principal == ?principal, action, resource);' },
    ]);
    assert.equal(problems.length, 2);
    assert.match(problems[0]?.detail ?? '', /^`broken\.cedar`: /);
    assert.equal(problems[0]?.pointer, '/sources/0');
    assert.match(problems[1]?.detail ?? '', /templates are not accepted/);
  });

  it('refuses reserved and malformed ids', () => {
    assert.equal(policyIdProblem('team/alice#2'), null);
    assert.match(policyIdProblem('custos:x') ?? '', /reserved/);
    assert.match(policyIdProblem('grt_01') ?? '', /reserved/);
    assert.match(policyIdProblem('-x') ?? '', /must be/);
    assert.match(policyIdProblem('a b') ?? '', /must be/);
  });
});
